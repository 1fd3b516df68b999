/** The planner stage: mapper, pure planner and saved plan files. Types live in `./types.js`. */
export { mapCredential, derivedCredentialType, type MapResult } from "./mapper.js";
export { plan, secretsNeeded, type PlanOptions } from "./planner.js";
export { describeStaleness, fingerprintObservation, fingerprintParts, serializePlanFile, PLAN_FILE_VERSION } from "./planfile.js";
// parsePlanFile is in ./planfile-read.js: it loads zod, which only `apply --plan` needs.
export { describeAccountAction, planDefaultApp, type DefaultAppDecision } from "./account.js";
