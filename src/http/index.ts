export * from "./retry.js";
export { NetworkError, stripUrl } from "./errors.js";
export { createDispatcher, sendHttp, ResponseTooLargeError, type DispatcherOptions, type HttpAnswer, type HttpRequest } from "./agent.js";
export { NETWORK_ERROR_CODES, isNetworkError } from "./network.js";
export { addSecretNeedles, cleanServerText, parseErrorBody, type CleanOptions, type ParsedErrorBody } from "./server-text.js";
