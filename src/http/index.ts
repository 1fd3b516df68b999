export * from "./retry.js";
export { NetworkError, stripUrl } from "./errors.js";
export { createDispatcher, sendHttp, RequestDeadlineError, ResponseTooLargeError, type DispatcherOptions, type HttpAnswer, type HttpRequest } from "./agent.js";
export { NETWORK_ERROR_CODES, REQUEST_DEADLINE_CODE, isNetworkError } from "./network.js";
export { cleanServerText, parseErrorBody, rememberSecret, type CleanOptions, type ParsedErrorBody } from "./server-text.js";
