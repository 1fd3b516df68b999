import { UsageError } from "../../errors.js";
import { statusMarkdownPieces, statusReport, writeReport } from "../../report/index.js";
import { computeDefaultApp, computeStatus, type StatusRow } from "../../status/status.js";
import { escapeControl } from "../../text.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson, printTable, printWrapped } from "../output.js";
import { openRuntime } from "../runtime.js";
import { reportResult } from "../account-run.js";

export interface StatusArgs extends GlobalArgs {
  /** `--expiring-within <days>`: whole days ≥ 0 (kept as given, checked here). */
  expiringWithin?: string | number;
}

/** `--expiring-within`: a whole number of days, 0 or more; anything else is a usage error naming the flag. */
export function parseExpiringWithin(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d{1,6}$/.test(text)) {
    throw new UsageError(`--expiring-within must be a whole number of days (0 or more), not ${JSON.stringify(escapeControl(text.slice(0, 40)))}`);
  }
  return Number(text);
}

/**
 * `cr2comms status`: ledger vs live Comms (and the legacy list, for `legacy-gone`), with each
 * certificate's expiry. Exit 0 in sync, 2 on drift or (with `--expiring-within`) an expiring
 * certificate, 1 on error.
 */
export async function statusCommand(args: StatusArgs, now: () => Date = () => new Date()): Promise<number> {
  const expiringWithinDays = parseExpiringWithin(args.expiringWithin);
  const rt = await openRuntime(args);
  try {
    const [entries, comms, events, apps] = await Promise.all([
      rt.ledger.entries(),
      rt.comms.list(),
      rt.ledger.events(),
      // The default App is shown when it can be read; a failure to read it is said, not fatal.
      rt.comms.listApps().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })),
    ]);
    let legacySids: Set<string> | undefined;
    const warnings: string[] = [];
    if (entries.size > 0) {
      // The legacy API may be gone one day (or unreadable with these credentials): status still answers.
      try {
        legacySids = new Set((await rt.legacy.listAll()).map((c) => c.sid));
      } catch (err) {
        warnings.push(`the legacy credentials could not be listed (${(err as Error).message}); legacy-gone is not checked`);
      }
    }
    const status = computeStatus(entries, comms, { now: now(), ...(legacySids ? { legacySids } : {}), ...(expiringWithinDays !== undefined ? { expiringWithinDays } : {}) });
    const defaultApp = computeDefaultApp(events, apps);
    if (defaultApp.drift) {
      status.drift = true;
      status.summary["default-app-changed"] = 1;
    }
    for (const w of warnings) rt.logger.warn(w);
    const exitCode = status.drift || status.expiring.length > 0 ? 2 : 0;
    const at = now();
    const input = {
      generatedAt: at.toISOString(),
      accountSid: rt.credentials.accountSid,
      drift: status.drift,
      ...(expiringWithinDays !== undefined ? { expiringWithinDays } : {}),
      summary: status.summary,
      defaultApp,
      rows: status.rows,
      expiring: status.expiring,
      comms,
      foreign: status.foreign,
      warnings,
    };
    const reportPaths = await writeReport(rt.settings.reportsDir, "status", statusReport(input), () => statusMarkdownPieces(input), at);
    reportResult({ summary: { ...status.summary, ...(expiringWithinDays !== undefined ? { expiring: status.expiring.length } : {}) }, problems: warnings, report: reportPaths.jsonPath, changes: exitCode === 2, empty: entries.size === 0 });
    if (rt.settings.json) {
      printJson({
        reportPaths,
        accountSid: rt.credentials.accountSid,
        ledger: rt.settings.ledgerPath,
        drift: status.drift,
        ...(expiringWithinDays !== undefined ? { expiringWithinDays, expiring: status.expiring } : {}),
        summary: status.summary,
        defaultApp,
        items: status.rows,
        notCreatedByCr2comms: status.foreign,
        warnings,
      });
    } else {
      if (entries.size === 0) print(`The ledger ${rt.settings.ledgerPath} records nothing yet.`);
      else {
        printTable(
          [
            { header: "legacy sid", fit: "sid" },
            { header: "status" },
            { header: "app", fit: "text" },
            { header: "type", drop: 2 },
            { header: "comms id", fit: "sid", drop: 3 },
            { header: "expires", fit: "text", drop: 1 },
            { header: "detail", fit: "text" },
          ],
          status.rows.map((r) => [r.legacySid, r.kind, r.appName ?? "", r.credentialType ?? "", r.commsCredentialId ?? "", expiresCell(r), r.detail]),
        );
      }
      printWrapped(`\nDefault App: ${escapeControl(defaultApp.detail)}`);
      if (status.foreign.length) {
        print(`\nNot created by cr2comms (left untouched): ${status.foreign.length}`);
        printTable(
          [{ header: "comms id", fit: "sid" }, { header: "app", fit: "text" }, { header: "type" }, { header: "default for type" }],
          status.foreign.map((c) => [c.id, c.appName, c.credentialType, c.isDefault ? "yes" : "no"]),
        );
      }
      printWrapped(`\n${status.drift ? "Drift" : "In sync"}: ${formatCounts(status.summary)}`);
      if (expiringWithinDays !== undefined) {
        if (status.expiring.length === 0) print(`No certificate cr2comms put into Comms expires within ${expiringWithinDays} day(s).`);
        else {
          print(`Expiring within ${expiringWithinDays} day(s): ${status.expiring.length} — renew them, update the mapping's secrets, then run apply (it replaces them):`);
          for (const r of status.expiring) print(`  ${r.legacySid} ${r.commsCredentialId ?? ""} (${r.appName ?? ""} ${r.credentialType ?? ""}): ${expiresCell(r)}`);
        }
      }
      print(`\nReport: ${reportPaths.markdownPath}\n        ${reportPaths.jsonPath}`);
    }
    return exitCode;
  } finally {
    await rt.close();
  }
}

function expiresCell(r: StatusRow): string {
  if (r.notAfter === undefined || r.daysLeft === undefined) return "";
  const day = r.notAfter.slice(0, 10);
  return r.daysLeft < 0 ? `${day} (expired ${-r.daysLeft} d ago)` : `${day} (${r.daysLeft} d left)`;
}
