import { defineConfig } from "vitest/config";

// Stryker over the writer's files only (`npm run mutation:writer`): the in-process tests that
// reach the writer. Tests that run the built CLI are left out (Stryker's sandbox has no dist/).
export default defineConfig({
  test: {
    include: [
      "test/apply/**/*.test.ts",
      "test/review/writer-review.test.ts",
      "test/review/writer-clock-review.test.ts",
      "test/review/rotation-gone-review.test.ts",
      "test/review/forbidden-review.test.ts",
      "test/review/confirm-review.test.ts",
      "test/review/writer-http-fleet-attack.test.ts",
    ],
    testTimeout: 10_000,
    hookTimeout: 10_000,
    env: { TWILIO_EDGE: "", TWILIO_REGION: "" },
  },
});
