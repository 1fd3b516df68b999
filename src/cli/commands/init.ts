import { checkTemplates, readMappingForUpdate, renderScaffold, updateScaffold, writeScaffold, type ScaffoldTemplates } from "../../mapping/index.js";
import { currentAccountRun, reportResult } from "../account-run.js";
import type { GlobalArgs } from "../config.js";
import { print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";
import { resolve } from "node:path";
import { escapeControl } from "../../text.js";
import { UsageError } from "../../errors.js";

export interface InitArgs extends GlobalArgs {
  out?: string;
  force?: boolean;
  /** Add entries for legacy credentials the mapping lacks; keep every edit. */
  update?: boolean;
  /** `{accountSid}`, `{accountName}`, `{friendlyName}`, `{type}`: made a valid appName. */
  appNameTemplate?: string;
  /** A `file:`/`env:` reference with `{accountSid}`, `{sid}`, `{part}`. */
  secretsTemplate?: string;
}

/** `cr2comms init`: a mapping scaffold from the live inventory. Never overwrites without --force; `--update` adds to an existing one. */
export async function initCommand(args: InitArgs, now: () => Date = () => new Date()): Promise<number> {
  if (args.update && args.force) throw new UsageError("--update keeps the mapping file and adds to it; --force replaces it: use one of them");
  checkTemplates({ ...(args.appNameTemplate !== undefined ? { appName: args.appNameTemplate } : {}), ...(args.secretsTemplate !== undefined ? { secrets: args.secretsTemplate } : {}) });
  const rt = await openRuntime(args);
  const templates: ScaffoldTemplates | undefined =
    args.appNameTemplate !== undefined || args.secretsTemplate !== undefined
      ? {
          accountSid: rt.credentials.accountSid,
          accountName: currentAccountRun()?.accountName ?? null,
          ...(args.appNameTemplate !== undefined ? { appName: args.appNameTemplate } : {}),
          ...(args.secretsTemplate !== undefined ? { secrets: args.secretsTemplate } : {}),
        }
      : undefined;
  try {
    const out = args.out ? resolve(args.out) : rt.settings.mappingPath;
    if (args.update) {
      // Read before listing: a missing file is a usage error, not a reason to call Twilio.
      const before = readMappingForUpdate(out);
      const legacy = await rt.legacy.listAll();
      const update = updateScaffold(before, legacy, { generatedAt: now().toISOString(), path: out, ...(templates ? { templates } : {}) });
      if (update.added.length > 0 || update.text !== before) await writeScaffold(out, update.text, { force: true });
      reportResult({ summary: { added: update.added.length }, problems: [], changes: update.text !== before, empty: legacy.length === 0 });
      const gcm = update.noted.filter((c) => c.type === "gcm").length;
      if (rt.settings.json) {
        printJson({ path: out, updated: update.text !== before, added: update.added.map((c) => c.sid), noted: update.noted.map((c) => c.sid) });
      } else if (update.added.length === 0 && update.noted.length === 0) {
        print(`${escapeControl(out)} already mentions every legacy credential of the account; nothing added.`);
      } else {
        print(`Updated ${escapeControl(out)}: ${update.added.length} new credential(s) to map${update.added.length ? ` (${update.added.map((c) => c.sid).join(", ")})` : ""}${gcm ? `, ${gcm} new gcm listed as dropped` : ""}; everything already in the file is kept.`);
        if (update.added.length) print("Next: fill in the new entries' secrets, review their appNames, then run `cr2comms plan`.");
      }
      return 0;
    }
    const legacy = await rt.legacy.listAll();
    const counts: Record<"apn" | "fcm" | "gcm" | "other", number> = { apn: 0, fcm: 0, gcm: 0, other: 0 };
    for (const c of legacy) counts[(["apn", "fcm", "gcm"] as const).find((t) => t === c.type) ?? "other"]++;
    // Over many accounts, only an account with something to map gets a file.
    if (currentAccountRun() && counts.apn + counts.fcm === 0) {
      reportResult({ summary: { gcm: counts.gcm }, problems: [], empty: true });
      return 0;
    }
    const text = renderScaffold(legacy, { generatedAt: now().toISOString(), accountSid: rt.credentials.accountSid, ...(templates ? { templates } : {}) });
    await writeScaffold(out, text, { force: args.force ?? false });
    reportResult({ summary: { apn: counts.apn, fcm: counts.fcm, gcm: counts.gcm }, report: out, problems: [], changes: true });
    if (rt.settings.json) {
      printJson({ path: out, entries: counts.apn + counts.fcm, dropped: counts.gcm, unknown: counts.other });
    } else {
      print(`Wrote ${out}: ${counts.apn + counts.fcm} credential(s) to map (${counts.apn} apn, ${counts.fcm} fcm), ${counts.gcm} gcm listed as dropped.`);
      print("Next: put the secret files where the file: references point (or change them to env:/prompt), review the appNames, then run `cr2comms plan`.");
    }
    return 0;
  } finally {
    await rt.close();
  }
}
