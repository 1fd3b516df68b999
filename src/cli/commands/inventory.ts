import type { CommsCredential, LegacyCredential } from "../../domain.js";
import { derivedCredentialType } from "../../plan/index.js";
import { renderTable } from "../../report/index.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";

export interface InventoryArgs extends GlobalArgs {
  comms?: boolean;
}

/** `cr2comms inventory`: what the account holds; reads only. */
export async function inventoryCommand(args: InventoryArgs): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const [legacy, comms] = await Promise.all([rt.legacy.listAll(), args.comms ? rt.comms.list() : Promise.resolve(undefined)]);
    const byType: Record<string, number> = {};
    for (const c of legacy) byType[c.type] = (byType[c.type] ?? 0) + 1;
    if (rt.settings.json) {
      printJson({
        accountSid: rt.credentials.accountSid,
        conversationsUrl: rt.settings.conversationsUrl,
        legacy: legacy.map((c) => ({ ...c, mapsTo: mapsTo(c) })),
        countsByType: byType,
        ...(comms ? { comms: groupByApp(comms) } : {}),
      });
      return 0;
    }
    print(`Conversations API: ${rt.settings.conversationsUrl}`);
    print(`Legacy Conversations credentials in ${rt.credentials.accountSid}: ${legacy.length} (${formatCounts(byType, ["apn", "fcm", "gcm"])})`);
    print(
      renderTable(
        ["sid", "friendly name", "type", "sandbox", "maps to"],
        legacy.map((c) => [c.sid, c.friendlyName ?? "(none)", c.type, sandboxText(c.sandbox), mapsTo(c)]),
      ),
    );
    if (comms) {
      const apps = groupByApp(comms);
      print(`\nComms Push Notifications credentials: ${comms.length} in ${Object.keys(apps).length} App(s)`);
      for (const [app, creds] of Object.entries(apps)) {
        print(`\n${app}`);
        print(renderTable(["id", "type", "default", "created"], creds.map((c) => [c.id, c.credentialType, c.isDefault ? "yes" : "no", c.createdAt])));
      }
    }
    return 0;
  } finally {
    await rt.close();
  }
}

/** The parsed flag, not the API's raw "True"/"False" string; "—" when the API sent none. */
function sandboxText(sandbox: boolean | null): string {
  return sandbox === null ? "—" : String(sandbox);
}

function mapsTo(c: LegacyCredential): string {
  if (c.type === "gcm") return "dropped (no Comms equivalent)";
  return derivedCredentialType(c) ?? "unknown type";
}

function groupByApp(comms: CommsCredential[]): Record<string, CommsCredential[]> {
  const out: Record<string, CommsCredential[]> = {};
  for (const c of [...comms].sort((a, b) => a.appName.localeCompare(b.appName) || a.createdAt.localeCompare(b.createdAt))) {
    (out[c.appName] ??= []).push(c);
  }
  return out;
}
