import { runEmulatorCommand } from "../../emulator/index.js";
import { UsageError } from "../../errors.js";

export interface EmulatorArgs {
  port?: number;
  seed?: string;
  latencyMs?: number;
  visibilityDelayMs?: number;
  faultRate?: number;
  maxInFlight?: number;
  subaccounts?: number;
}

/** `cr2comms emulator`: serves both APIs on loopback until Ctrl-C. */
export async function emulatorCommand(args: EmulatorArgs): Promise<number> {
  checkNumber("--port", args.port, 0, 65_535, true);
  checkNumber("--latency-ms", args.latencyMs, 0, Number.MAX_SAFE_INTEGER, true);
  checkNumber("--visibility-delay-ms", args.visibilityDelayMs, 0, Number.MAX_SAFE_INTEGER, true);
  checkNumber("--fault-rate", args.faultRate, 0, 1, false);
  checkNumber("--max-in-flight", args.maxInFlight, 1, Number.MAX_SAFE_INTEGER, true);
  checkNumber("--subaccounts", args.subaccounts, 0, 1000, true);
  const emulator = await runEmulatorCommand(
    {
      port: args.port ?? 0,
      ...(args.seed ? { seedFile: args.seed } : {}),
      ...(args.latencyMs !== undefined ? { latencyMs: args.latencyMs } : {}),
      ...(args.visibilityDelayMs !== undefined ? { visibilityDelayMs: args.visibilityDelayMs } : {}),
      ...(args.faultRate ? { faults: { rate: args.faultRate } } : {}),
      ...(args.maxInFlight !== undefined ? { maxInFlight: args.maxInFlight } : {}),
      ...(args.subaccounts ? { subaccountCount: args.subaccounts } : {}),
    },
    (line) => process.stdout.write(line + "\n"),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await emulator.close();
  return 0;
}

/** yargs turns `--port abc` into NaN; say which flag and what it takes instead of starting oddly. */
function checkNumber(flag: string, value: number | undefined, min: number, max: number, whole: boolean): void {
  if (value === undefined) return;
  if (Number.isNaN(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new UsageError(`${flag} must be ${whole ? "a whole number" : "a number"} from ${min} to ${max}`);
  }
}
