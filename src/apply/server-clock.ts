/**
 * Comms' clock as the `Date` headers of its answers show it, against this machine's. A lost
 * create's window is compared with the `createdAt` Comms stamps, so it is computed on Comms' clock:
 * a local clock far ahead or behind would otherwise make reconciliation miss what the create made.
 */
export class ServerClock {
  private offset: number | undefined;

  constructor(private readonly now: () => Date) {}

  /** An answer with this `Date` header arrived at `receivedAt` (this machine's clock; default now). */
  saw(serverDate: Date, receivedAt: Date = this.now()): void {
    // The header has whole seconds (truncated): the middle of that second is the best guess, and a
    // difference within its resolution is no evidence of skew at all.
    const offset = serverDate.getTime() + DATE_RESOLUTION_MS / 2 - receivedAt.getTime();
    this.offset = Math.abs(offset) <= DATE_RESOLUTION_MS ? 0 : offset;
  }

  /** Comms' clock minus this machine's, as the latest answer showed it; undefined before any answer. */
  get offsetMs(): number | undefined {
    return this.offset;
  }

  /** This machine's time `localMs` on Comms' clock, once an answer has shown the difference. */
  toServer(localMs: number): number | undefined {
    return this.offset === undefined ? undefined : localMs + this.offset;
  }
}

/** An HTTP `Date` header counts whole seconds. */
const DATE_RESOLUTION_MS = 1_000;
