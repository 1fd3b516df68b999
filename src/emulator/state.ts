import { randomBytes } from "node:crypto";
import type { CommsCredential, CredentialType, LegacyType } from "../domain.js";
import { MAX_APPS_PER_ACCOUNT, MAX_CREDENTIALS_PER_APP } from "../limits.js";
import type { ResolvedSeed } from "./seed.js";
import { ulidFactory } from "./ulid.js";

/** A legacy credential as the emulator stores it. Secrets are kept in memory, never returned. */
export interface LegacyRecord {
  sid: string;
  accountSid: string;
  friendlyName: string | null;
  type: LegacyType;
  sandbox: string | null;
  dateCreated: string;
  dateUpdated: string;
  secrets: { certificate?: string; privateKey?: string; secret?: string; apiKey?: string };
}

/** A Comms credential as stored: the public fields plus when it becomes visible and the content sent. */
export interface StoredCommsCredential extends CommsCredential {
  /** Epoch ms from which GET/list show it. */
  visibleAt: number;
  /** The base64 `content` values as received (absent for seeded/added credentials). */
  content?: Record<string, string>;
}

/** A Comms App. Apps exist only while they hold at least one credential. */
export interface StoredApp {
  name: string;
  isDefault: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A Comms device registration (reference §2.11). Deleted with its App (the cascade). */
export interface StoredRegistration {
  id: string;
  appName: string;
  userId: string;
  devices: { token: string; provider: "APN" | "FCM" }[];
  createdAt: string;
  updatedAt: string;
}

/** Why a Comms create was refused because of a limit. */
export type CommsLimitError = { limit: "apps" | "credentials"; message: string };

/**
 * The emulator's two stores. Tests may read and change them directly (out-of-band changes,
 * pre-existing data); HTTP handlers go through the same methods so the rules hold either way.
 */
export class EmulatorState {
  readonly accountSid: string;
  /** Legacy credentials by sid. */
  readonly legacy = new Map<string, LegacyRecord>();
  /** Comms credentials by id, visible or not. */
  readonly comms = new Map<string, StoredCommsCredential>();
  /** Comms Apps by name. */
  readonly apps = new Map<string, StoredApp>();
  /** Comms device registrations by id. */
  readonly registrations = new Map<string, StoredRegistration>();
  private readonly nextUlid = ulidFactory();

  constructor(seed: ResolvedSeed) {
    this.accountSid = seed.accountSid;
    for (const c of seed.legacyCredentials) {
      this.legacy.set(c.sid, {
        sid: c.sid,
        accountSid: seed.accountSid,
        friendlyName: c.friendly_name,
        type: c.type,
        sandbox: c.sandbox,
        dateCreated: c.date_created,
        dateUpdated: c.date_updated,
        secrets: {},
      });
    }
    const seeded = [...seed.commsCredentials].sort((a, b) => (a.createdAt ?? "").localeCompare(b.createdAt ?? ""));
    for (const c of seeded) {
      const createdAt = c.createdAt ? new Date(c.createdAt).toISOString() : new Date().toISOString();
      this.insertComms({
        appName: c.appName,
        credentialType: c.credentialType,
        ...(c.isDefault !== undefined ? { isDefault: c.isDefault } : {}),
        ...(c.id !== undefined ? { id: c.id } : {}),
        createdAt,
        updatedAt: c.updatedAt ? new Date(c.updatedAt).toISOString() : createdAt,
        visibleAt: 0,
        verbatimDefault: c.isDefault !== undefined,
      });
    }
    if (seed.defaultApp !== undefined) this.setDefaultApp(seed.defaultApp);
    for (const r of seed.deviceRegistrations) {
      const made = this.register({ appName: r.appName, token: r.token, provider: r.provider, ...(r.userId ? { userId: r.userId } : {}) });
      if ("problem" in made) throw new Error(`seed device registration: ${made.problem}`);
      if (r.count !== undefined) for (let i = 1; i < r.count; i++) this.register({ appName: r.appName, token: `${r.token}-${i}`, provider: r.provider });
    }
  }

  // ---- legacy ----

  /** Legacy records sorted by sid (the list order). */
  legacyRecords(): LegacyRecord[] {
    return [...this.legacy.values()].sort((a, b) => (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
  }

  /** Finds a legacy record; sids compare case-insensitively like Twilio's. */
  findLegacy(sid: string): LegacyRecord | undefined {
    return this.legacy.get(sid) ?? [...this.legacy.values()].find((r) => r.sid.toLowerCase() === sid.toLowerCase());
  }

  /** Stores a new legacy credential with a fresh random sid. */
  createLegacy(fields: Omit<LegacyRecord, "sid" | "accountSid" | "dateCreated" | "dateUpdated">): LegacyRecord {
    let sid: string;
    do sid = `CR${randomBytes(16).toString("hex")}`;
    while (this.legacy.has(sid));
    const now = twilioDate(new Date());
    const record: LegacyRecord = { ...fields, sid, accountSid: this.accountSid, dateCreated: now, dateUpdated: now };
    this.legacy.set(sid, record);
    return record;
  }

  // ---- comms ----

  /** Every Comms credential, visible or not, in list order (createdAt, then id). Copies without content. */
  commsCredentials(): CommsCredential[] {
    return this.sortedComms().map(publicView);
  }

  /** Stored credentials in list order (createdAt, then id). */
  sortedComms(): StoredCommsCredential[] {
    return [...this.comms.values()].sort(compareComms);
  }

  /** The credential if it exists and is visible at `now`. */
  visibleComms(id: string, now = Date.now()): StoredCommsCredential | undefined {
    const c = this.comms.get(id);
    return c && c.visibleAt <= now ? c : undefined;
  }

  /** The limit a create under `appName` would break, if any. */
  checkCommsLimits(appName: string): CommsLimitError | undefined {
    const count = [...this.comms.values()].filter((c) => c.appName === appName).length;
    if (!this.apps.has(appName) && this.apps.size >= MAX_APPS_PER_ACCOUNT) {
      return {
        limit: "apps",
        message: `Cannot create App '${appName}': the account already has the maximum of ${MAX_APPS_PER_ACCOUNT} Apps`,
      };
    }
    if (count >= MAX_CREDENTIALS_PER_APP) {
      return {
        limit: "credentials",
        message: `Cannot add a Credential to App '${appName}': it already has the maximum of ${MAX_CREDENTIALS_PER_APP} Credentials`,
      };
    }
    return undefined;
  }

  /**
   * Creates a Comms credential (App auto-created), applying the default rules. Returns the limit
   * error instead when one applies. `visibleAt` defaults to now.
   */
  createComms(input: {
    appName: string;
    credentialType: CredentialType;
    isDefault?: boolean;
    content?: Record<string, string>;
    visibleAt?: number;
    now?: number;
  }): StoredCommsCredential | CommsLimitError {
    const limit = this.checkCommsLimits(input.appName);
    if (limit) return limit;
    const now = input.now ?? Date.now();
    const at = new Date(now).toISOString();
    return this.insertComms({
      appName: input.appName,
      credentialType: input.credentialType,
      ...(input.isDefault !== undefined ? { isDefault: input.isDefault } : {}),
      ...(input.content ? { content: input.content } : {}),
      createdAt: at,
      updatedAt: at,
      visibleAt: input.visibleAt ?? now,
      idTime: now,
      verbatimDefault: false,
    });
  }

  /** Adds a pre-existing credential, visible at once (tests: "someone else created this"). Throws on a limit. */
  addComms(input: { appName: string; credentialType: CredentialType; isDefault?: boolean }): CommsCredential {
    const created = this.createComms({ ...input, visibleAt: 0 });
    if ("limit" in created) throw new Error(created.message);
    return publicView(created);
  }

  /** Sets or clears `isDefault`; setting it clears the previous default of the same (App, type). */
  setCommsDefault(id: string, isDefault: boolean, now = Date.now()): StoredCommsCredential | undefined {
    const c = this.comms.get(id);
    if (!c) return undefined;
    const at = new Date(now).toISOString();
    if (isDefault) this.clearDefault(c.appName, c.credentialType, id, at);
    if (c.isDefault !== isDefault) {
      c.isDefault = isDefault;
      c.updatedAt = at;
    }
    return c;
  }

  /**
   * Deletes a credential; deleting an App's last credential deletes the App and its device
   * registrations too (the docs' cascade). A deleted default is not replaced: the docs
   * only say a credential becomes default when it is the first of its type.
   */
  deleteComms(id: string): boolean {
    const c = this.comms.get(id);
    if (!c) return false;
    this.comms.delete(id);
    if (![...this.comms.values()].some((o) => o.appName === c.appName)) {
      const app = this.apps.get(c.appName);
      this.apps.delete(c.appName);
      for (const [rid, r] of this.registrations) if (r.appName === c.appName) this.registrations.delete(rid);
      if (app?.isDefault) {
        const next = [...this.apps.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt))[0];
        if (next) next.isDefault = true;
      }
    }
    return true;
  }

  /** Makes `name` the account's default App (the previous default stops being it). False when there is no such App. */
  setDefaultApp(name: string, now = Date.now()): boolean {
    const app = this.apps.get(name);
    if (!app) return false;
    const at = new Date(now).toISOString();
    for (const other of this.apps.values()) {
      if (other !== app && other.isDefault) {
        other.isDefault = false;
        other.updatedAt = at;
      }
    }
    if (!app.isDefault) {
      app.isDefault = true;
      app.updatedAt = at;
    }
    return true;
  }

  /** The account's default App, if any. */
  defaultApp(): StoredApp | undefined {
    return [...this.apps.values()].find((a) => a.isDefault);
  }

  /** Registers a device under an existing App (a User is made when `userId` is absent). */
  register(input: { appName: string; token: string; provider: "APN" | "FCM"; userId?: string; now?: number }): StoredRegistration | { problem: string } {
    if (!this.apps.has(input.appName)) return { problem: `App '${input.appName}' does not exist` };
    const now = input.now ?? Date.now();
    const at = new Date(now).toISOString();
    const r: StoredRegistration = {
      id: `comms_device_registration_${this.nextUlid(now)}`,
      appName: input.appName,
      userId: input.userId ?? `comms_pushnotificationuser_${this.nextUlid(now)}`,
      devices: [{ token: input.token, provider: input.provider }],
      createdAt: at,
      updatedAt: at,
    };
    this.registrations.set(r.id, r);
    return r;
  }

  /** Device registrations in list order (createdAt, then id). */
  sortedRegistrations(): StoredRegistration[] {
    return [...this.registrations.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Apps in creation order. */
  appList(): StoredApp[] {
    return [...this.apps.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  private insertComms(input: {
    appName: string;
    credentialType: CredentialType;
    isDefault?: boolean;
    id?: string;
    content?: Record<string, string>;
    createdAt: string;
    updatedAt: string;
    visibleAt: number;
    idTime?: number;
    verbatimDefault: boolean;
  }): StoredCommsCredential {
    const id = input.id ?? `comms_credential_${this.nextUlid(input.idTime ?? Date.parse(input.createdAt))}`;
    if (!this.apps.has(input.appName)) {
      this.apps.set(input.appName, {
        name: input.appName,
        // The first App of an account becomes its default App.
        isDefault: this.apps.size === 0,
        createdAt: input.createdAt,
        updatedAt: input.createdAt,
      });
    }
    const firstOfType = ![...this.comms.values()].some((c) => c.appName === input.appName && c.credentialType === input.credentialType);
    let isDefault: boolean;
    if (input.verbatimDefault) {
      isDefault = input.isDefault ?? false;
    } else {
      isDefault = input.isDefault === true || firstOfType;
      if (input.isDefault === true) this.clearDefault(input.appName, input.credentialType, id, input.createdAt);
    }
    const c: StoredCommsCredential = {
      id,
      credentialType: input.credentialType,
      isDefault,
      appName: input.appName,
      createdAt: input.createdAt,
      updatedAt: input.updatedAt,
      visibleAt: input.visibleAt,
      ...(input.content ? { content: input.content } : {}),
    };
    this.comms.set(id, c);
    return c;
  }

  private clearDefault(appName: string, type: CredentialType, exceptId: string, at: string): void {
    for (const o of this.comms.values()) {
      if (o.id !== exceptId && o.appName === appName && o.credentialType === type && o.isDefault) {
        o.isDefault = false;
        o.updatedAt = at;
      }
    }
  }
}

/** The six documented fields, nothing else. */
export function publicView(c: StoredCommsCredential): CommsCredential {
  return {
    id: c.id,
    credentialType: c.credentialType,
    isDefault: c.isDefault,
    appName: c.appName,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

function compareComms(a: CommsCredential, b: CommsCredential): number {
  const t = Date.parse(a.createdAt) - Date.parse(b.createdAt);
  if (t !== 0) return t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Twilio's legacy timestamp format: ISO 8601 to the second, `Z`. */
export function twilioDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
