import { renderTable } from "../../report/index.js";
import { computeStatus } from "../../status/status.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";

/** `cr2comms status`: ledger vs live Comms. Exit 0 in sync, 2 drift, 1 error. */
export async function statusCommand(args: GlobalArgs): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const [entries, comms] = await Promise.all([rt.ledger.entries(), rt.comms.list()]);
    const status = computeStatus(entries, comms);
    if (rt.settings.json) {
      printJson({ accountSid: rt.credentials.accountSid, ledger: rt.settings.ledgerPath, drift: status.drift, summary: status.summary, items: status.rows, notCreatedByCr2comms: status.foreign });
    } else {
      if (entries.size === 0) print(`The ledger ${rt.settings.ledgerPath} records nothing yet.`);
      else {
        print(renderTable(["legacy sid", "status", "app", "type", "comms id", "detail"], status.rows.map((r) => [r.legacySid, r.kind, r.appName ?? "", r.credentialType ?? "", r.commsCredentialId ?? "", r.detail])));
      }
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
