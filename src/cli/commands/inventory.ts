import type { CommsCredential, LegacyCredential } from "../../domain.js";
import { derivedCredentialType } from "../../plan/index.js";
import { renderTable } from "../../report/index.js";
import { escapeControl } from "../../text.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson } from "../output.js";
import { openRuntime } from "../runtime.js";
import { reportResult } from "../account-run.js";

export interface InventoryArgs extends GlobalArgs {
  comms?: boolean;
}

/** `cr2comms inventory`: what the account holds; reads only. */
export async function inventoryCommand(args: InventoryArgs): Promise<number> {
  const rt = await openRuntime(args);
  try {
    const [legacy, comms, apps] = await Promise.all([
      rt.legacy.listAll(),
      args.comms ? rt.comms.list() : Promise.resolve(undefined),
      // Which App is the account's default; a failure to read the Apps is said, not fatal.
      args.comms ? rt.comms.listApps().catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) })) : Promise.resolve(undefined),
    ]);
    const appsRead = Array.isArray(apps) ? apps : undefined;
    const defaultApp = appsRead?.find((a) => a.isDefault)?.name ?? null;
    const byType: Record<string, number> = {};
    for (const c of legacy) byType[c.type] = (byType[c.type] ?? 0) + 1;
    reportResult({ summary: { ...byType, ...(comms ? { comms: comms.length } : {}) }, problems: [], changes: legacy.length > 0, empty: legacy.length === 0 });
    if (rt.settings.json) {
      printJson({
        accountSid: rt.credentials.accountSid,
        conversationsUrl: rt.settings.conversationsUrl,
        legacy: legacy.map((c) => ({ ...c, mapsTo: mapsTo(c) })),
        countsByType: byType,
        ...(comms ? { comms: groupByApp(comms) } : {}),
        ...(apps
          ? appsRead
            ? { commsApps: appsRead.map((a) => ({ name: a.name, isDefault: a.isDefault, createdAt: a.createdAt })), defaultApp }
            : { commsAppsError: (apps as { error: string }).error }
          : {}),
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
      const byApp = groupByApp(comms);
      const defaultLine = appsRead ? (defaultApp ? `default App: ${escapeControl(defaultApp)}` : "no default App") : `default App unknown (the Apps could not be read: ${escapeControl((apps as { error: string }).error)})`;
      print(`\nComms Push Notifications credentials: ${comms.length} in ${Object.keys(byApp).length} App(s); ${defaultLine}`);
      for (const [app, creds] of Object.entries(byApp)) {
        print(`\n${escapeControl(app)}`);
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
