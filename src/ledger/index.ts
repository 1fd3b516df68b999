export * from "./types.js";
export * from "./ledger.js";
export * from "./scan.js";
export * from "./lock.js";
export * from "./repair.js";
export * from "./rebuild.js";
export * from "./writable.js";
