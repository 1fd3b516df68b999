export * from "./retry.js";
export { NetworkError, stripUrl } from "./errors.js";
