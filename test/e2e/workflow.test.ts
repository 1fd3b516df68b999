import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SAMPLE_SEED, startEmulator, type Emulator } from "../../src/emulator/index.js";
import { CLI, DEMO_ENV, ROOT, workspace } from "./harness.js";

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  environment?: string;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  on: { pull_request?: { paths?: string[] }; push?: { branches?: string[]; paths?: string[] } };
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const WORKFLOW_PATH = join(ROOT, "examples", "github-actions.yml");
const workflow = parse(readFileSync(WORKFLOW_PATH, "utf8")) as Workflow;

/** Every string in the document with the path of keys that leads to it. */
function* strings(value: unknown, path: string[] = []): Generator<[string[], string]> {
  if (typeof value === "string") yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, String(i)]);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

/** The `cr2comms …` command lines of a job's `run:` steps, in order. */
function commands(job: Job): string[][] {
  const out: string[][] = [];
  for (const step of job.steps) for (const line of (step.run ?? "").split("\n")) {
    const m = /^\s*npx cr2comms (.+)$/.exec(line);
    if (m) out.push(m[1]!.trim().split(/\s+/));
  }
  return out;
}

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe("examples/github-actions.yml", () => {
  it("plans on a pull request that touches a mapping and applies on merge, in a protected environment, with minimal permissions", () => {
    expect(workflow.on.pull_request?.paths).toContain("mappings/**");
    expect(workflow.on.push?.paths).toContain("mappings/**");
    expect(workflow.permissions).toEqual({ contents: "read" });
    const { plan, apply } = workflow.jobs;
    expect(plan?.if).toBe("github.event_name == 'pull_request'");
    expect(apply?.if).toBe("github.event_name == 'push'");
    expect(plan?.environment).toBeUndefined();
    expect(apply?.environment).toBe("twilio-production");
    expect(plan?.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    expect(Object.keys(apply?.permissions ?? {}).sort()).toEqual(["actions", "contents", "pull-requests"]);
    const uses = (job: Job) => job.steps.map((s) => s.uses?.replace(/@.*/, "")).filter(Boolean);
    expect(uses(plan!)).toEqual(["actions/checkout", "actions/setup-node", "actions/upload-artifact"]);
    expect(uses(apply!)).toEqual(["actions/checkout", "actions/setup-node", "actions/download-artifact"]);
    // The commands a reviewer reads: a plan saved for review, then exactly that plan applied.
    expect(commands(plan!)).toEqual([["plan", "--reports-dir", "cr2comms", "--out", "plan.json", "--detailed-exitcode"]]);
    expect(commands(apply!)).toEqual([["apply", "--plan", "plan.json", "--yes", "--reports-dir", "cr2comms"]]);
    expect(plan!.steps.find((s) => s.run?.includes("cr2comms plan"))!.run).toContain("$GITHUB_STEP_SUMMARY");
    expect(plan!.steps.some((s) => /gh pr comment/.test(s.run ?? ""))).toBe(true);
  });

  it("takes secrets only from the secret store through env:, the read-only key for plan and the write key for apply", () => {
    const secretUses = [...strings(workflow)].filter(([, v]) => v.includes("secrets."));
    expect(secretUses.length).toBeGreaterThan(0);
    for (const [path, value] of secretUses) {
      expect(path.at(-2), `${path.join(".")}: ${value}`).toBe("env");
      expect(value).toMatch(/^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/);
    }
    expect(workflow.jobs.plan!.env!.TWILIO_API_KEY).toBe("${{ secrets.CR2COMMS_READ_API_KEY }}");
    expect(workflow.jobs.apply!.env!.TWILIO_API_KEY).toBe("${{ secrets.CR2COMMS_WRITE_API_KEY }}");
    expect(workflow.jobs.plan!.env).not.toHaveProperty("TWILIO_AUTH_TOKEN");
  });

  it("its run: scripts, run by bash in order against the emulator: plan exits 2 (the step succeeds), the reviewed plan.json is applied (exit 0)", { timeout: 120_000 }, async () => {
    emu = await startEmulator({ port: 0 });
    const ws = workspace();
    copyFileSync(ws.mapping, join(ws.dir, "mappings", "migration.yaml"));
    // `npx cr2comms` in the runner runs the pinned package; here, the built CLI, with each exit code logged.
    const bin = join(ws.dir, "bin");
    mkdirSync(bin);
    const log = join(ws.dir, "cr2comms-exits.log");
    writeFileSync(
      join(bin, "npx"),
      `#!/usr/bin/env bash\n[ "$1" = cr2comms ] || exit 127\nshift\n"${process.execPath}" "${CLI}" "$@"\ncode=$?\necho "$1 $code" >> "${log}"\nexit $code\n`,
    );
    chmodSync(join(bin, "npx"), 0o755);
    const key = SAMPLE_SEED.apiKeys![0]!;
    const secrets: Record<string, string> = { TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_API_KEY: key.sid, TWILIO_API_SECRET: key.secret, ...DEMO_ENV };

    // Asynchronous: the emulator answers from this process.
    const bash = (script: string, env: Record<string, string>) =>
      new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn("bash", ["-e", "-c", script], { cwd: ws.dir, env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stderr }));
      });
    const runJob = async (job: Job, jobDir: string): Promise<{ outputs: string; summary: string }> => {
      mkdirSync(jobDir, { recursive: true });
      const summary = join(jobDir, "summary.md");
      const outputs = join(jobDir, "outputs");
      writeFileSync(summary, "");
      writeFileSync(outputs, "");
      for (const step of job.steps.filter((s) => s.run?.includes("npx cr2comms"))) {
        const env: Record<string, string> = {
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          HOME: process.env.HOME ?? "/tmp",
          GITHUB_STEP_SUMMARY: summary,
          GITHUB_OUTPUT: outputs,
          CR2COMMS_CONVERSATIONS_URL: emu!.url,
          CR2COMMS_COMMS_URL: emu!.url,
        };
        // The job's env: names, each given the value its secret holds here.
        for (const name of Object.keys(job.env ?? {})) if (secrets[name] !== undefined) env[name] = secrets[name]!;
        const r = await bash(step.run!, env);
        expect(r.status, `${step.name}: ${r.stderr}`).toBe(0);
      }
      return { outputs: readFileSync(outputs, "utf8"), summary: readFileSync(summary, "utf8") };
    };

    const planned = await runJob(workflow.jobs.plan!, join(ws.dir, "plan-job"));
    expect(readFileSync(log, "utf8")).toBe("plan 2\n");
    expect(planned.outputs).toContain("report=plan.md");
    expect(planned.summary).toMatch(/^# cr2comms plan \(dry run\)/);
    expect(planned.summary).toContain("```mermaid\nflowchart LR");
    expect(readFileSync(join(ws.dir, "plan.md"), "utf8")).toBe(planned.summary);
    expect(emu.writeCount()).toBe(0);

    const applied = await runJob(workflow.jobs.apply!, join(ws.dir, "apply-job"));
    expect(readFileSync(log, "utf8")).toBe("plan 2\napply 0\n");
    expect(applied.summary).toMatch(/^# cr2comms apply/);
    expect(emu.state.comms.size).toBeGreaterThan(0);
  });
});
