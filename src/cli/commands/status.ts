import { renderTable } from "../../report/index.js";
import { computeDefaultApp, computeStatus } from "../../status/status.js";
import { escapeControl } from "../../text.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";

/** `cr2comms status`: ledger vs live Comms. Exit 0 in sync, 2 drift, 1 error. */
export async function statusCommand(args: GlobalArgs): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const [entries, comms, events, apps] = await Promise.all([
      rt.ledger.entries(),
      rt.comms.list(),
      rt.ledger.events(),
      // The default App is shown when it can be read; a failure to read it is said, not fatal.
      rt.comms.listApps().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })),
    ]);
    const status = computeStatus(entries, comms);
    const defaultApp = computeDefaultApp(events, apps);
    if (defaultApp.drift) {
      status.drift = true;
      status.summary["default-app-changed"] = 1;
    }
    if (rt.settings.json) {
      printJson({ accountSid: rt.credentials.accountSid, ledger: rt.settings.ledgerPath, drift: status.drift, summary: status.summary, defaultApp, items: status.rows, notCreatedByCr2comms: status.foreign });
    } else {
      if (entries.size === 0) print(`The ledger ${rt.settings.ledgerPath} records nothing yet.`);
      else {
        print(renderTable(["legacy sid", "status", "app", "type", "comms id", "detail"], status.rows.map((r) => [r.legacySid, r.kind, r.appName ?? "", r.credentialType ?? "", r.commsCredentialId ?? "", r.detail])));
      }
      print(`\nDefault App: ${escapeControl(defaultApp.detail)}`);
      if (status.foreign.length) {
        print(`\nNot created by cr2comms (left untouched): ${status.foreign.length}`);
        print(renderTable(["comms id", "app", "type", "default"], status.foreign.map((c) => [c.id, c.appName, c.credentialType, c.isDefault ? "yes" : "no"])));
      }
      print(`\n${status.drift ? "Drift" : "In sync"}: ${formatCounts(status.summary)}`);
    }
    return status.drift ? 2 : 0;
  } finally {
    await rt.close();
  }
}
