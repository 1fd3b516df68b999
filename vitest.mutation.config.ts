import { defineConfig } from "vitest/config";

// Stryker's test runs (see stryker.config.mjs): in-process tests only. The e2e tests run dist/cli.js,
// which Stryker does not mutate, and the Prism test starts an external mock server.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/legacy/prism.test.ts", "**/node_modules/**"],
    // A mutant that makes a loop endless fails its test quickly instead of timing Stryker out
    // (which restarts the test runner). The slowest in-process test takes about 2 s.
    testTimeout: 10_000,
    hookTimeout: 10_000,
    env: { TWILIO_EDGE: "", TWILIO_REGION: "" },
  },
});
