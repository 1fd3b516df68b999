import { runEmulatorCommand } from "../../emulator/index.js";

export interface EmulatorArgs {
  port?: number;
  seed?: string;
  latencyMs?: number;
  visibilityDelayMs?: number;
  faultRate?: number;
  maxInFlight?: number;
}

/** `cr2comms emulator`: serves both APIs on loopback until Ctrl-C. */
export async function emulatorCommand(args: EmulatorArgs): Promise<number> {
  const emulator = await runEmulatorCommand(
    {
      port: args.port ?? 0,
      ...(args.seed ? { seedFile: args.seed } : {}),
      ...(args.latencyMs !== undefined ? { latencyMs: args.latencyMs } : {}),
      ...(args.visibilityDelayMs !== undefined ? { visibilityDelayMs: args.visibilityDelayMs } : {}),
      ...(args.faultRate ? { faults: { rate: args.faultRate } } : {}),
      ...(args.maxInFlight !== undefined ? { maxInFlight: args.maxInFlight } : {}),
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
