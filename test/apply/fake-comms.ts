import type { Accepted, CommsClient, CommsListFilter, CreateCredentialBody, CreateOptions } from "../../src/comms/types.js";
import type { CommsCredential, CredentialType } from "../../src/domain.js";

/** A virtual clock: time only moves when code under test sleeps (or a test calls `advance`). */
export function virtualClock(start = Date.parse("2025-06-01T12:00:00.000Z")) {
  let t = start;
  return {
    now: () => new Date(t),
    ms: () => t,
    advance: (ms: number) => void (t += ms),
    sleep: async (ms: number) => {
      t += ms;
      // Yield to timers too, so a loop that never ends (a bug, or a mutant) still lets the test time out.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

/**
 * A discrete virtual clock: a sleep ends only when `run` moves time to it, and `run` does that only
 * once nothing else can run — so a sleep cut short (a woken hold, an abort) costs no virtual time,
 * and concurrent work interleaves as it would in real time, only instantly.
 */
export function eventClock(start = Date.parse("2025-06-01T12:00:00.000Z")) {
  let t = start;
  let seq = 0;
  const timers: { at: number; seq: number; fire: () => void }[] = [];
  const idle = async () => {
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    now: () => new Date(t),
    ms: () => t,
    advance: (ms: number) => void (t += ms),
    sleep: (ms: number) => new Promise<void>((fire) => void timers.push({ at: t + Math.max(0, ms), seq: seq++, fire })),
    /** Awaits `p`, moving time to the next sleep's end whenever everything else is waiting. */
    async run<T>(p: Promise<T>): Promise<T> {
      let done = false;
      p.then(
        () => (done = true),
        () => (done = true),
      );
      for (;;) {
        await idle();
        if (done) return p;
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = timers.shift();
        if (!next) throw new Error("eventClock: everything is waiting and no sleep is left to end");
        t = Math.max(t, next.at);
        next.fire();
      }
    },
  };
}

type Clock = ReturnType<typeof virtualClock>;

/**
 * An in-memory Comms with scriptable writes, on a virtual clock. Credentials can be made visible
 * only from a given time (`visibleFrom`), to model Comms' eventual consistency.
 */
export function fakeComms(clock: Clock) {
  const creds = new Map<string, CommsCredential & { visibleFrom: number; goneFrom?: number }>();
  const calls: string[] = [];
  let seq = 0;
  const nextId = () => `comms_credential_${String(++seq).padStart(6, "0")}`;
  const shown = (c: { visibleFrom: number; goneFrom?: number }) => c.visibleFrom <= clock.ms() && (c.goneFrom === undefined || clock.ms() < c.goneFrom);
  const visible = () => [...creds.values()].filter(shown);
  const strip = ({ visibleFrom: _, goneFrom: __, ...c }: CommsCredential & { visibleFrom: number; goneFrom?: number }): CommsCredential => c;
  const hooks: {
    create?: (body: CreateCredentialBody, opts?: CreateOptions) => Promise<Accepted>;
    setDefault?: (id: string, isDefault: boolean) => Promise<Accepted>;
    delete?: (id: string) => Promise<Accepted>;
    list?: (filter?: CommsListFilter) => Promise<void>;
  } = {};

  const add = (c: { appName: string; credentialType: CredentialType; isDefault?: boolean; createdAt?: number; visibleFrom?: number; id?: string }): CommsCredential => {
    const created = c.createdAt ?? clock.ms();
    const cred = {
      id: c.id ?? nextId(),
      appName: c.appName,
      credentialType: c.credentialType,
      isDefault: c.isDefault ?? false,
      createdAt: new Date(created).toISOString(),
      updatedAt: new Date(created).toISOString(),
      visibleFrom: c.visibleFrom ?? created,
    };
    creds.set(cred.id, cred);
    return strip(cred);
  };

  const client: CommsClient = {
    stats: { requests: 0, retries: 0, byKind: {} },
    async list(filter: CommsListFilter = {}) {
      calls.push(`list ${filter.appName ?? "*"}`);
      await hooks.list?.(filter);
      return visible()
        .filter((c) => (filter.appName === undefined || c.appName === filter.appName) && (filter.credentialType === undefined || c.credentialType === filter.credentialType))
        .filter((c) => filter.startDate === undefined || Date.parse(c.createdAt) >= Date.parse(filter.startDate))
        .map(strip);
    },
    async fetch(id: string) {
      calls.push(`fetch ${id}`);
      const c = creds.get(id);
      return c && shown(c) ? strip(c) : null;
    },
    async fetchLocation(location: string) {
      return client.fetch(location.split("/").pop()!);
    },
    async create(body: CreateCredentialBody, opts?: CreateOptions) {
      calls.push(`create ${body.appName} ${body.credentialType}`);
      if (hooks.create) return hooks.create(body, opts);
      const c = add({ appName: body.appName, credentialType: body.credentialType, isDefault: body.isDefault ?? false });
      return { resourceId: c.id, resourceLocation: `https://comms.test/v1/PushNotifications/Credentials/${c.id}` };
    },
    async setDefault(id: string, isDefault: boolean) {
      calls.push(`setDefault ${id} ${isDefault}`);
      if (hooks.setDefault) return hooks.setDefault(id, isDefault);
      const c = creds.get(id);
      if (c) c.isDefault = isDefault;
      return { resourceId: id, resourceLocation: `https://comms.test/v1/PushNotifications/Credentials/${id}` };
    },
    async delete(id: string) {
      calls.push(`delete ${id}`);
      if (hooks.delete) return hooks.delete(id);
      creds.delete(id);
      return { resourceId: id, resourceLocation: `https://comms.test/v1/PushNotifications/Credentials/${id}` };
    },
    // Apps and device registrations: what the writer's default-App step and rollback's count need.
    async listApps() {
      calls.push("listApps");
      const names = [...new Set(visible().map((c) => c.appName))];
      return names.map((name, i) => ({ name, isDefault: i === 0, createdAt: "", updatedAt: "" }));
    },
    async fetchApp(appName: string) {
      return (await client.listApps()).find((a) => a.name === appName) ?? null;
    },
    async setDefaultApp(appName: string) {
      calls.push(`setDefaultApp ${appName}`);
      return { resourceId: appName, resourceLocation: `https://comms.test/v1/PushNotifications/Apps/${appName}` };
    },
    async countDeviceRegistrations() {
      return 0;
    },
    async close() {},
  };
  return {
    client,
    calls,
    hooks,
    add,
    remove: (id: string) => creds.delete(id),
    /** Changes a stored credential in place (e.g. a default that takes effect without a PATCH hook). */
    update: (id: string, patch: { isDefault?: boolean; visibleFrom?: number }) => {
      const c = creds.get(id);
      if (c) Object.assign(c, patch);
    },
    /** The credential stays listed until `at` (a delete that takes effect late). */
    goneFrom: (id: string, at: number) => {
      const c = creds.get(id);
      if (c) c.goneFrom = at;
    },
    all: () => [...creds.values()].map(strip),
    writes: () => calls.filter((c) => /^(create|setDefault|delete) /.test(c)),
  };
}
