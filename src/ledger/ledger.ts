import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "../errors.js";
import type { Ledger, LedgerEntry, LedgerEvent, LedgerEventInput } from "./types.js";

/** Replays events, oldest first, into one entry per legacy sid. */
export function replay(events: readonly LedgerEvent[]): Map<string, LedgerEntry> {
  const entries = new Map<string, LedgerEntry>();
  const entryFor = (sid: string): LedgerEntry => {
    let entry = entries.get(sid);
    if (!entry) {
      entry = { legacySid: sid, state: "pending", createdIds: [], runIds: [] };
      entries.set(sid, entry);
    }
    return entry;
  };
  for (const e of events) {
    const entry = entryFor(e.legacySid);
    if (e.runId && !entry.runIds.includes(e.runId)) entry.runIds.push(e.runId);
    switch (e.event) {
      case "attempt":
        entry.state = "pending";
        entry.appName = e.appName;
        entry.credentialType = e.credentialType;
        entry.isDefault = e.isDefault;
        entry.lastAttempt = {
          attemptId: e.attemptId,
          startedAt: e.startedAt,
          appName: e.appName,
          credentialType: e.credentialType,
          ...(e.priorIds ? { priorIds: e.priorIds } : {}),
        };
        if (e.secret) entry.secret = e.secret;
        break;
      case "accepted":
        entry.state = "accepted";
        entry.commsCredentialId = e.commsCredentialId;
        entry.acceptedAt = e.ts;
        if (e.resourceLocation) entry.resourceLocation = e.resourceLocation;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        break;
      case "confirmed":
        entry.state = "confirmed";
        entry.commsCredentialId = e.commsCredentialId;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        break;
      case "unconfirmed":
        entry.state = "unconfirmed";
        entry.commsCredentialId = e.commsCredentialId;
        if (!entry.createdIds.includes(e.commsCredentialId)) entry.createdIds.push(e.commsCredentialId);
        break;
      case "failed":
        // A failure after an accepted id keeps the id (it exists); a failed create leaves nothing.
        if (entry.state === "pending") entry.state = "failed";
        break;
      case "resent":
        if (entry.lastAttempt?.attemptId === e.attemptId) entry.lastAttempt.lastSentAt = e.ts;
        break;
      case "unknown":
        if (entry.lastAttempt?.attemptId === e.attemptId) entry.lastAttempt.unknownAt = e.ts;
        break;
      case "abandoned":
        if (entry.state === "pending") entry.state = "failed";
        break;
      case "default-set":
        entry.isDefault = e.isDefault;
        break;
      case "deleted":
        if (entry.commsCredentialId === e.commsCredentialId) {
          entry.state = "deleted";
          delete entry.commsCredentialId;
          delete entry.resourceLocation;
        }
        break;
    }
  }
  return entries;
}

/** The ledger in memory: what tests use. */
export class MemoryLedger implements Ledger {
  readonly list: LedgerEvent[] = [];
  constructor(private readonly clock: () => Date = () => new Date()) {}
  async append(event: LedgerEventInput): Promise<void> {
    this.list.push({ v: 1, ts: this.clock().toISOString(), ...event } as LedgerEvent);
  }
  async events(): Promise<LedgerEvent[]> {
    return [...this.list];
  }
  async entries(): Promise<Map<string, LedgerEntry>> {
    return replay(this.list);
  }
}

/**
 * `reports/ledger.jsonl`: append-only JSON lines. Each append is written and fsync'd before it
 * returns, so an event survives a crash (SIGKILL) that happens right after the step it records.
 */
export class FileLedger implements Ledger {
  /**
   * With `accountSid`, every appended event is stamped with it and reading a ledger that holds
   * another account's events is refused: its Comms ids mean nothing in this account.
   */
  constructor(
    readonly path: string,
    private readonly clock: () => Date = () => new Date(),
    private readonly accountSid?: string,
  ) {}

  async append(event: LedgerEventInput): Promise<void> {
    const stamp = this.accountSid ? { accountSid: this.accountSid } : {};
    const line = JSON.stringify({ v: 1, ts: this.clock().toISOString(), ...stamp, ...event }) + "\n";
    mkdirSync(dirname(this.path), { recursive: true });
    const fd = openSync(this.path, "a");
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  async events(): Promise<LedgerEvent[]> {
    if (!existsSync(this.path)) return [];
    const events = parseLedger(readFileSync(this.path, "utf8"), this.path);
    const other = this.accountSid ? events.find((e) => e.accountSid && e.accountSid !== this.accountSid) : undefined;
    if (other) {
      throw new UsageError(
        `the ledger ${this.path} belongs to account ${other.accountSid}, not ${this.accountSid}: use a separate --ledger (or --reports-dir) per account`,
      );
    }
    return events;
  }

  async entries(): Promise<Map<string, LedgerEntry>> {
    return replay(await this.events());
  }
}

/**
 * Parses JSON lines. A torn last line (the process died mid-write) is ignored; a malformed line
 * elsewhere means the file was edited by hand and is refused rather than guessed at.
 */
export function parseLedger(text: string, path: string): LedgerEvent[] {
  const lines = text.split("\n");
  const events: LedgerEvent[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const event = JSON.parse(line) as LedgerEvent;
      if (event.v !== 1 || typeof event.legacySid !== "string" || typeof event.event !== "string") {
        throw new Error("not a cr2comms ledger event (v1)");
      }
      events.push(event);
    } catch (err) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === "");
      if (isLast && !text.endsWith("\n")) return;
      throw new UsageError(`ledger ${path}:${i + 1}: ${(err as Error).message}`);
    }
  });
  return events;
}
