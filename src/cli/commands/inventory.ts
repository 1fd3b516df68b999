import type { CommsCredential, LegacyCredential } from "../../domain.js";
import { derivedCredentialType } from "../../plan/index.js";
import { escapeControl } from "../../text.js";
import type { GlobalArgs } from "../config.js";
import { formatCounts, print, printJson, printTable, printWrapped } from "../output.js";
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
    printWrapped(`Legacy Conversations credentials in ${rt.credentials.accountSid}: ${legacy.length} (${formatCounts(byType, ["apn", "fcm", "gcm"])})`);
    printTable(
      [{ header: "sid", fit: "sid" }, { header: "friendly name", fit: "text" }, { header: "type" }, { header: "sandbox", drop: 1 }, { header: "maps to", fit: "text" }],
      legacy.map((c) => [c.sid, c.friendlyName ?? "(none)", c.type, sandboxText(c.sandbox), mapsTo(c)]),
    );
    if (comms) {
      const byApp = groupByApp(comms);
      const defaultLine = appsRead ? (defaultApp ? `default App: ${escapeControl(defaultApp)}` : "no default App") : `default App unknown (the Apps could not be read: ${escapeControl((apps as { error: string }).error)})`;
      printWrapped(`\nComms Push Notifications credentials: ${comms.length} in ${Object.keys(byApp).length} App(s); ${defaultLine}`);
      if (comms.length > 0) printWrapped(DEFAULT_COLUMN_NOTE);
      for (const [app, creds] of Object.entries(byApp)) {
        print(`\n${escapeControl(app)}`);
        printTable(
          [{ header: "id", fit: "sid" }, { header: "type" }, { header: "default for type" }, { header: "created", drop: 1 }],
          creds.map((c) => [c.id, c.credentialType, c.isDefault ? "yes" : "no", c.createdAt]),
        );
      }
    }
    return 0;
  } finally {
    await rt.close();
  }
}

/** An App holds one default credential per type, so one App may show several "yes". */
export const DEFAULT_COLUMN_NOTE =
  "default for type: the credential Comms uses for that App and type (APN, APN_SANDBOX, FCM) when a device registration names none; an App has one per type, so it may show several.";

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
