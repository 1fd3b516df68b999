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
export { fitSections, MARKDOWN_BUDGET_CHARS, waterFill, type FitSection, type FitOptions, type Fitted } from "./fit.js";
export { messageLines } from "./messages.js";
export { groupedMap, MAP_DETAIL_ITEMS, MERMAID_MAX_CHARS, mermaidBlock, mermaidText, migrationMap, type MapItem } from "./mermaid.js";
export { renderTable } from "./table.js";
export { expiryGantt, GANTT_MAX_BARS, statusMarkdown, statusMarkdownPieces, statusReport, type StatusReportInput, type StatusReportJson } from "./status.js";
export { reportStamp, writeReport } from "./write.js";
