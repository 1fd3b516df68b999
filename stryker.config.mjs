// Mutation testing of the safety core: `npm run mutation` (slow; not part of `npm test`).
// Results: reports/mutation/mutation.html (and .json); surviving mutants are explained in test/MUTATION.md.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "vitest.mutation.config.ts" },
  mutate: [
    "src/apply/**/*.ts",
    "src/plan/**/*.ts",
    "src/ledger/**/*.ts",
    "src/secrets/**/*.ts",
    "src/rollback/**/*.ts",
    "src/status/**/*.ts",
    "src/http/retry.ts",
    "src/http/errors.ts",
    "src/http/network.ts",
    "src/http/server-text.ts",
    "src/comms/errors.ts",
    "src/comms/client.ts",
    "!src/**/index.ts",
    "!src/**/types.ts",
  ],
  coverageAnalysis: "perTest",
  // The machine is shared (2 cores, several people): one test runner at a time.
  concurrency: 1,
  timeoutMS: 5_000,
  timeoutFactor: 2,
  ignoreStatic: true,
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  tempDirName: "reports/.stryker-tmp",
  ignorePatterns: ["dist", "reports", ".vitest-results.json"],
  reporters: ["clear-text", "html", "json", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  thresholds: { high: 90, low: 85, break: null },
};
