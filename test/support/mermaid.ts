/**
 * Mermaid's own parser, run in Node: its flowchart parser sanitises labels with DOMPurify, which
 * needs a DOM, so a jsdom window stands in for the browser. Loaded once per test file (about two
 * seconds).
 */
let parser: Promise<(text: string) => Promise<{ diagramType: string }>> | undefined;

export function mermaidParse(text: string): Promise<{ diagramType: string }> {
  parser ??= (async () => {
    const { JSDOM } = await import("jsdom");
    const dom = new JSDOM("<!doctype html><html><body></body></html>");
    const g = globalThis as Record<string, unknown>;
    for (const name of ["window", "document", "DOMParser", "Element", "HTMLElement", "Node"] as const) {
      if (g[name] === undefined) g[name] = name === "window" ? dom.window : (dom.window as unknown as Record<string, unknown>)[name];
    }
    const { default: mermaid } = await import("mermaid");
    mermaid.initialize({ startOnLoad: false });
    return async (t: string) => {
      const result = await mermaid.parse(t);
      if (!result) throw new Error("mermaid.parse returned false");
      return result;
    };
  })();
  return parser.then((parse) => parse(text));
}

/** The bodies of the fenced `mermaid` blocks of a Markdown text. */
export function mermaidBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const re = /^```mermaid\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) blocks.push(m[1]!);
  return blocks;
}
