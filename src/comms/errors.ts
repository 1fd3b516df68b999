/**
 * Comms error bodies are undocumented for the push endpoints; sibling APIs use several shapes.
 * Accept them all and produce one readable line.
 */

/** A parsed error answer: a Twilio error code when one was given, and a readable message. */
export interface ParsedErrorBody {
  code: number | undefined;
  message: string;
}

const MAX_TEXT = 300;

function asCode(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_TEXT ? `${oneLine.slice(0, MAX_TEXT)}…` : oneLine;
}

/**
 * Parses an error body: Comms `{errors: [{code, message, …}]}`, classic Twilio
 * `{code, message, more_info, status}`, RFC 9457 problem details `{type, title, detail, …}`,
 * or anything else (plain text, HTML, empty).
 */
export function parseErrorBody(status: number, text: string): ParsedErrorBody {
  let body: unknown;
  try {
    body = text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if (Array.isArray(b.errors) && b.errors.length > 0) {
      const parts: string[] = [];
      let code: number | undefined;
      for (const item of b.errors) {
        if (typeof item === "string") {
          parts.push(item);
          continue;
        }
        if (!item || typeof item !== "object") continue;
        const e = item as Record<string, unknown>;
        const itemCode = asCode(e.code);
        code ??= itemCode;
        const message = nonEmpty(e.message) ?? nonEmpty(e.detail) ?? nonEmpty(e.title) ?? "error";
        const field = nonEmpty(e.field) ?? nonEmpty(e.pointer) ?? nonEmpty(e.path);
        parts.push(`${field ? `${field}: ` : ""}${message}${itemCode !== undefined && b.errors.length > 1 ? ` (code ${itemCode})` : ""}`);
      }
      if (parts.length > 0) return { code, message: clip(parts.join("; ")) };
    }
    const code = asCode(b.code);
    const title = nonEmpty(b.title);
    const detail = nonEmpty(b.detail);
    if (title || detail) {
      return { code, message: clip(title && detail && title !== detail ? `${title}: ${detail}` : (detail ?? title ?? "")) };
    }
    const message = nonEmpty(b.message) ?? nonEmpty(b.error_description) ?? nonEmpty(b.error);
    if (message) return { code, message: clip(message) };
    return { code, message: `HTTP ${status}` };
  }
  const plain = clip(text.replace(/<[^>]*>/g, " "));
  return { code: undefined, message: plain === "" ? `HTTP ${status} with an empty body` : `HTTP ${status}: ${plain}` };
}
