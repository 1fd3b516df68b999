// The writer's files alone (`npm run mutation:writer`): its own test selection, its own results.
import base from "./stryker.config.mjs";

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  ...base,
  vitest: { configFile: "vitest.writer-mutation.config.ts" },
  mutate: ["src/apply/{writer,create,lost-create,replace,update-default,context,server-clock}.ts"],
  incrementalFile: "reports/mutation/stryker-writer-incremental.json",
  htmlReporter: { fileName: "reports/mutation/writer.html" },
  jsonReporter: { fileName: "reports/mutation/writer.json" },
};
