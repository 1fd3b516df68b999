import { renderScaffold, writeScaffold } from "../../mapping/index.js";
import type { GlobalArgs } from "../config.js";
import { print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";
import { resolve } from "node:path";

export interface InitArgs extends GlobalArgs {
  out?: string;
  force?: boolean;
}

/** `cr2comms init`: a mapping scaffold from the live inventory. Never overwrites without --force. */
export async function initCommand(args: InitArgs, now: () => Date = () => new Date()): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const out = args.out ? resolve(args.out) : rt.settings.mappingPath;
    const legacy = await rt.legacy.listAll();
    const text = renderScaffold(legacy, { generatedAt: now().toISOString(), accountSid: rt.credentials.accountSid });
    await writeScaffold(out, text, { force: args.force ?? false });
    const counts: Record<"apn" | "fcm" | "gcm" | "other", number> = { apn: 0, fcm: 0, gcm: 0, other: 0 };
    for (const c of legacy) counts[(["apn", "fcm", "gcm"] as const).find((t) => t === c.type) ?? "other"]++;
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
