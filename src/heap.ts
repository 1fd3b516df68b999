/**
 * Imported first by the entry point. V8 grows its young generation from 1 MiB semi-spaces up to
 * 16 MiB while the CLI's modules load, and keeps them: about 30 MiB of resident memory that a
 * short-lived command never needs (a plan over 10,000 credentials retains under 30 MiB of heap).
 * The growth factor is read each time V8 considers growing, so setting it to 1 here keeps the
 * young generation at its starting size. `npm run bench` measures the peak RSS this saves.
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--semi-space-growth-factor=1");
