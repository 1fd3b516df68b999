import { defineConfig } from "vitest/config";

// Stryker's test runs (see stryker.config.mjs): in-process tests only. The e2e tests run dist/cli.js,
// which Stryker does not mutate, and the Prism test starts an external mock server.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The review tests that run the built CLI too (Stryker's sandbox has no dist/).
    exclude: ["test/e2e/**", "test/legacy/prism.test.ts", "test/review/crash-loop.test.ts", "test/review/lock-race.test.ts", "test/review/signals-review.test.ts", "**/node_modules/**"],
    // A mutant that makes a loop endless fails its test quickly instead of timing Stryker out
    // (which restarts the test runner). The slowest in-process test takes about 2 s.
    testTimeout: 10_000,
    hookTimeout: 10_000,
    env: { TWILIO_EDGE: "", TWILIO_REGION: "" },
  },
});
