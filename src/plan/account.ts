import type { CommsApp } from "../comms/types.js";
import type { Mapping } from "../mapping/types.js";
import type { AccountAction, PlanItem, Snapshot } from "./types.js";

/** What the planner learns about the account's default App. */
export interface DefaultAppDecision {
  actions: AccountAction[];
  /** Account-level problems: the whole apply waits until they are fixed. */
  accountProblems: string[];
  /** Blocking problems (exit 1) that leave the other credentials to be applied. */
  problems: string[];
  warnings: string[];
}

/**
 * The mapping's `defaultApp` against the observed Apps. Comms makes the first App created the
 * account's default App, so on an account with no Apps the App's credentials are created first;
 * on an account whose default App is another, the App is made the default with a PATCH.
 * A `defaultApp` that no credential can reach: on an account without Apps it blocks the whole
 * apply (another App would become the default); on one with Apps a name nothing uses is a
 * blocking problem, and an App whose credentials are all blocked only waits (a warning).
 */
export function planDefaultApp(snapshot: Snapshot, mapping: Mapping, items: readonly PlanItem[]): DefaultAppDecision {
  const none: DefaultAppDecision = { actions: [], accountProblems: [], problems: [], warnings: [] };
  const name = mapping.defaultApp;
  if (name === undefined) return none;
  const apps = observedApps(snapshot);
  const exists = apps.some((a) => a.name === name);
  const creates = items.filter((i) => i.action === "create" && i.target?.appName === name);
  if (!exists && creates.length === 0) {
    const mentioned = mapping.credentials.some((e) => e.appName === name && !e.skip);
    if (apps.length === 0) {
      return {
        ...none,
        accountProblems: [
          mentioned
            ? `defaultApp ${name}: none of its credentials can be created (see their problems), and on an account without Apps the first App created becomes the default — fix them or remove defaultApp; nothing is applied until then`
            : `defaultApp ${name} is neither an existing Comms App nor the appName of a credential in the mapping, and on an account without Apps the first App created becomes the default — correct it or remove it; nothing is applied until then`,
        ],
      };
    }
    return mentioned
      ? { ...none, warnings: [`defaultApp ${name} cannot be made the account's default App yet: none of its credentials can be created (see their problems)`] }
      : { ...none, problems: [`defaultApp ${name} is neither an existing Comms App nor the appName of a credential in the mapping — correct it or remove it`] };
  }
  if (apps.length === 0) {
    return { ...none, actions: [{ action: "set-default-app", appName: name, via: "first-create", appCreated: true }] };
  }
  const current = apps.find((a) => a.isDefault);
  if (current?.name === name) return none;
  const warnings = snapshot.apps
    ? []
    : [`the Comms Apps were not read, so the account's default App is not known; ${name} is made the default (a PATCH that changes nothing if it already is)`];
  return {
    ...none,
    actions: [{ action: "set-default-app", appName: name, ...(current ? { from: current.name } : {}), via: "patch", ...(exists ? {} : { appCreated: true }) }],
    warnings,
  };
}

/** The Apps as read, or, when they were not read, the Apps the credentials name (default unknown). */
function observedApps(snapshot: Snapshot): CommsApp[] {
  if (snapshot.apps) return snapshot.apps;
  const names = [...new Set(snapshot.comms.map((c) => c.appName).filter((n) => n !== ""))];
  return names.map((n) => ({ name: n, isDefault: false, createdAt: "", updatedAt: "" }));
}

/** One line for terminals and reports: what happens to the account's default App. */
export function describeAccountAction(a: AccountAction): string {
  if (a.via === "first-create") {
    return `default App: ${a.appName} — the account has no Apps yet, so its credentials are created first and Comms makes it the default App`;
  }
  const from = a.from ? `instead of ${a.from}` : "(no App is the default now)";
  const after = a.appCreated ? ", once its first credential is created" : "";
  return `default App: ${a.appName} ${from} — set with PATCH /PushNotifications/Apps/${a.appName} {isDefault: true}${after}`;
}
