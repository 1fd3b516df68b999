import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Builds dist/ when it is missing or older than src/: the e2e tests run dist/cli.js.
    globalSetup: ["test/global-setup.ts"],
    // CI reads the JSON file (see .ci/run); people read the default reporter.
    reporters: ["default", ["json", { outputFile: ".vitest-results.json" }]],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: integration tests start servers and child processes.
    maxWorkers: 2,
    env: { TWILIO_EDGE: "", TWILIO_REGION: "" },
  },
});
