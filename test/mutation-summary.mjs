// Prints a Stryker JSON report as per-file scores and the list of undetected mutants, in the format
// test/MUTATION.md uses. Usage: node test/mutation-summary.mjs [reports/mutation/mutation.json] [glob-prefix]
import { readFileSync } from "node:fs";

const [file = "reports/mutation/mutation.json", prefix = ""] = process.argv.slice(2);
const report = JSON.parse(readFileSync(file, "utf8"));

const rows = [];
const undetected = [];
const total = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 };
for (const [path, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  if (!path.startsWith(prefix)) continue;
  const count = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0 };
  const lines = source.split("\n");
  for (const m of mutants) {
    if (!(m.status in count)) continue;
    count[m.status] += 1;
    total[m.status] += 1;
    if (m.status === "Survived" || m.status === "NoCoverage") {
      const { line, column } = m.location.start;
      const original = lines[line - 1]?.trim().slice(0, 60) ?? "";
      const replacement = (m.replacement ?? "").replace(/\s+/g, " ").slice(0, 70);
      undetected.push(
        `- \`${path}:${line}:${column}\` ${m.mutatorName} → \`${replacement}\`` +
          `${m.status === "NoCoverage" ? " (no test reaches it)" : ""} — in \`${original}\``,
      );
    }
  }
  rows.push([path, count]);
}

const score = (c) => {
  const detected = c.Killed + c.Timeout;
  const all = detected + c.Survived + c.NoCoverage;
  return all === 0 ? "—" : `${((100 * detected) / all).toFixed(1)} %`;
};
console.log("| File | Score | Killed | Timed out | Survived | No coverage |");
console.log("|---|---|---|---|---|---|");
for (const [path, c] of [...rows, ["**all**", total]]) {
  console.log(`| ${path} | ${score(c)} | ${c.Killed} | ${c.Timeout} | ${c.Survived} | ${c.NoCoverage} |`);
}
console.log("");
for (const line of undetected) console.log(line);
