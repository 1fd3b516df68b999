export { writeFileAtomic } from "./atomic.js";
export {
  applyReport,
  applySummary,
  planReport,
  REPORT_SCHEMA_VERSION,
  type ApplyReportJson,
  type PlanReportJson,
  type ReportItemJson,
  type ReportSecretJson,
} from "./json.js";
export { applyMarkdown, mdCell, planMarkdown, planMarkdownPieces, type RenderableResult } from "./markdown.js";
export { messageLines } from "./messages.js";
export { renderTable } from "./table.js";
export { reportStamp, writeReport } from "./write.js";
