/**
 * `deno task bench`: runs every benchmark and writes one report.
 *
 * 1. Each `bench/*_bench.ts` (the router's included when present) through
 *    `deno bench --json`, one subprocess per file: a table per group with ratios to the
 *    group's baseline and, for liminal's cases, to the fastest library of the group.
 * 2. `executor_scale.ts`: µs per job at 1,000, 100,000 and 1,000,000 jobs, a fresh process
 *    per case, and the growth from the smallest size to the largest.
 * 3. `latency.ts`: open-loop scheduling latency, priority under load, the event loop during
 *    a burst. `router_flood.ts`: the router's critical latency under a 100,000 info/s flood.
 * 4. `memory.ts`: heap per queued job, resident memory of an idle `liminal start`.
 * 5. SQLite store figures, when `src/store/sqlite/mod.ts` exists.
 * 6. `postgres.ts`: the PostgreSQL store's figures (jobs/s with one and three runtimes,
 *    enqueue → start latency, statements and CPU per job, query plans) against a bare
 *    `SKIP LOCKED` loop on the same throw-away server; skipped, with a note, without
 *    PostgreSQL binaries.
 *
 * The report goes to stdout and `bench/results/latest.md` (with `latest.json`, the same
 * figures as data); the run before is kept as `previous.md`/`previous.json` and every figure
 * shows its change from it. With `LIMINAL_BENCH_SMOKE=1` everything runs once with tiny
 * sizes and the report goes to `bench/results/smoke.md` instead, leaving the others alone.
 *
 * Numbers never fail this script; a benchmark that crashes does (exit 1, after the report
 * is written with what did run).
 *
 * @module
 */
import { count, SMOKE } from "./_config.ts";
import { BENCH_DIR, runDeno, runJsonScript } from "./_proc.ts";
import { SQLITE_QUEUE } from "./_queues.ts";
import { SQLITE_MODULE, sqliteBuilt } from "./_stores.ts";
import { measureScale, type ScaleResult } from "./executor_scale.ts";
import type { LatencyReport } from "./latency.ts";
import type { FloodReport } from "./router_flood.ts";
import type { MemoryReport } from "./memory.ts";
import { postgresSection } from "./_pg_report.ts";
import type { PostgresReport } from "./postgres.ts";

// ── Figures and their change from the previous run ──────────────────────────────────────

const RESULTS_DIR = `${BENCH_DIR}results/`;
const OUT = SMOKE ? "smoke" : "latest";

interface Figures {
  date: string;
  smoke: boolean;
  values: Record<string, number>;
}

function readFigures(path: string): Figures | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as Figures;
  } catch {
    return null;
  }
}

const previous = SMOKE ? null : readFigures(`${RESULTS_DIR}latest.json`);
const figures: Figures = { date: new Date().toISOString(), smoke: SMOKE, values: {} };

/** Records a figure under `key` and returns its change from the previous run (`+4.1%`). */
function change(key: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  figures.values[key] = value;
  const before = previous?.values[key];
  if (before === undefined || before === 0) return previous === null ? "" : "new";
  const pct = ((value - before) / before) * 100;
  return `${pct >= 0 ? "+" : ""}${pct.toFixed(Math.abs(pct) < 10 ? 1 : 0)}%`;
}

// ── Formatting ─────────────────────────────────────────────────────────────────────────────

function ns(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (value < 1_000) return `${value.toFixed(0)} ns`;
  if (value < 1_000_000) return `${(value / 1_000).toFixed(value < 10_000 ? 2 : 1)} µs`;
  if (value < 1_000_000_000) return `${(value / 1_000_000).toFixed(value < 1e7 ? 2 : 1)} ms`;
  return `${(value / 1e9).toFixed(2)} s`;
}

function us(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value < 0.1 ? value.toFixed(3) : value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function formatLatency(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value < 1) return `${(value * 1_000).toFixed(0)} µs`;
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

function ratio(value: number): string {
  if (!Number.isFinite(value)) return "—";
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)}×`;
}

function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (Math.abs(value) < 10_000) return `${value.toFixed(0)} B`;
  if (Math.abs(value) < 10_000_000) return `${(value / 1024).toFixed(0)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/** A Markdown table, leaving out the columns (but the first) that are empty in every row. */
function table(head: string[], rows: string[][]): string {
  const keep = head.map((_, i) => i === 0 || rows.some((row) => (row[i] ?? "") !== ""));
  const cut = (row: string[]) => row.filter((_, i) => keep[i]);
  const h = cut(head);
  return [
    `| ${h.join(" | ")} |`,
    `| ${h.map((_, i) => (i === 0 ? "---" : "--:")).join(" | ")} |`,
    ...rows.map((row) => `| ${cut(row).join(" | ")} |`),
  ].join("\n");
}

// ── Sections ───────────────────────────────────────────────────────────────────────────────

const out: string[] = [];
const crashes: string[] = [];
const aims: string[][] = [];

function progress(message: string): void {
  console.error(`bench: ${message}`);
}

async function section(name: string, run: () => Promise<void>): Promise<void> {
  const started = performance.now();
  progress(`${name}…`);
  try {
    await run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    crashes.push(`${name}: ${message}`);
    out.push(`\n**${name} crashed:**\n\n\`\`\`\n${message.slice(0, 4_000)}\n\`\`\`\n`);
  }
  progress(`${name} done in ${((performance.now() - started) / 1_000).toFixed(1)} s`);
}

// deno bench --json ----------------------------------------------------------------------

interface BenchStats {
  n: number;
  min: number;
  max: number;
  avg: number;
  p75: number;
  p99: number;
}

interface BenchEntry {
  origin: string;
  group: string | null;
  name: string;
  baseline: boolean;
  results: ({ ok: BenchStats } | { failed: unknown } | Record<string, unknown>)[];
}

const BENCH_FLAGS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "--allow-run",
];

function parseBenchJson(stdout: string): { cpu?: string; benches: BenchEntry[] } {
  try {
    return JSON.parse(stdout);
  } catch {
    // Something printed before the document: take it from its first line.
    const start = stdout.search(/^\{/m);
    if (start < 0) throw new Error("deno bench printed no JSON");
    return JSON.parse(stdout.slice(start));
  }
}

let cpu = "unknown CPU";

/** The item count a group name states (`…, 100,000 jobs`, `…, 100,000 messages`), if any. */
function jobsInGroup(group: string): number | null {
  const match = /([\d,]+) (?:no-op )?(?:jobs|messages)\b/.exec(group);
  return match === null ? null : Number(match[1]!.replaceAll(",", ""));
}

function isOurs(name: string): boolean {
  return /^liminal\b/i.test(name);
}

/** Mean ns per iteration of every case that ran, by group (for the aims). */
const benchMeans = new Map<string, { name: string; baseline: boolean; avg: number }[]>();

async function denoBenchFile(file: string): Promise<void> {
  // --no-check: like `deno run`, leave type checking to `deno task check` (which covers
  // bench/), so a type error elsewhere in the tree does not read as a crashed benchmark.
  const result = await runDeno([
    "bench",
    "--json",
    "--no-check",
    ...BENCH_FLAGS,
    `${BENCH_DIR}${file}`,
  ]);
  let report: ReturnType<typeof parseBenchJson>;
  try {
    report = parseBenchJson(result.stdout);
  } catch (error) {
    throw new Error(
      `deno bench ${file} exited ${result.code}: ${
        error instanceof Error ? error.message : error
      }\n${result.stderr.trim().split("\n").slice(-30).join("\n")}`,
    );
  }
  if (report.cpu) cpu = report.cpu;
  const failed = report.benches.filter((b) => !b.results.some((r) => "ok" in r));
  const groups = new Map<string, BenchEntry[]>();
  for (const bench of report.benches) {
    const group = bench.group ?? "(no group)";
    groups.set(group, [...(groups.get(group) ?? []), bench]);
  }
  for (const [group, benches] of groups) {
    const ok = benches.map((b) => ({
      bench: b,
      stats: (b.results.find((r) => "ok" in r) as { ok: BenchStats } | undefined)?.ok,
    }));
    const baseline = ok.find((b) => b.bench.baseline && b.stats) ?? ok.find((b) => b.stats);
    const libraries = ok.filter((b) =>
      b.stats && b !== baseline && !b.bench.baseline && !isOurs(b.bench.name)
    );
    const fastest = libraries.reduce<typeof libraries[number] | undefined>(
      (best, b) => (best === undefined || b.stats!.avg < best.stats!.avg ? b : best),
      undefined,
    );
    const jobs = jobsInGroup(group);
    benchMeans.set(
      group,
      ok.flatMap(({ bench, stats }) =>
        stats ? [{ name: bench.name, baseline: bench.baseline, avg: stats.avg }] : []
      ),
    );
    const rows = ok.map(({ bench, stats }) => {
      const name = `${bench.baseline ? "**baseline** " : ""}${bench.name}`;
      if (stats === undefined) {
        return [name, "**failed**", "", ...(jobs === null ? [] : [""]), "", "", ""];
      }
      const key = `bench.${file}.${group}.${bench.name}`;
      const vsBase = baseline?.stats ? stats.avg / baseline.stats.avg : Number.NaN;
      const vsLib = isOurs(bench.name) && fastest ? stats.avg / fastest.stats!.avg : Number.NaN;
      return [
        name,
        ns(stats.avg),
        `${ns(stats.min)} … ${ns(stats.p99)}`,
        ...(jobs === null ? [] : [us(stats.avg / 1_000 / jobs)]),
        bench === baseline?.bench ? "1" : ratio(vsBase),
        Number.isFinite(vsLib) ? `${ratio(vsLib)} (${fastest!.bench.name})` : "",
        change(key, stats.avg),
      ];
    });
    const iterations = Math.min(...ok.map((b) => b.stats?.n ?? 0));
    out.push(`\n### ${group}\n\n\`bench/${file}\`, at least ${iterations} iteration(s) per case\n`);
    out.push(table(
      [
        "case",
        "time/iter (mean)",
        "min … p99",
        ...(jobs === null ? [] : [/messages/.test(group) ? "µs/message" : "µs/job"]),
        "× baseline",
        "× fastest library",
        "vs previous",
      ],
      rows,
    ));
  }
  if (result.code !== 0 || failed.length > 0) {
    throw new Error(
      `deno bench ${file} exited ${result.code} after reporting ${report.benches.length} case(s)${
        failed.length > 0
          ? ` (failed: ${
            failed.map((b) => `${b.name}: ${JSON.stringify(b.results).slice(0, 500)}`).join("; ")
          })`
          : ""
      }\n${result.stderr.trim().split("\n").slice(-30).join("\n")}`,
    );
  }
}

// executor_scale.ts ------------------------------------------------------------------------

let scale: ScaleResult[] = [];

function scaleSection(results: ScaleResult[]): void {
  const sizes = [...new Set(results.map((r) => r.size))].sort((a, b) => a - b);
  const names = [...new Set(results.map((r) => r.name))];
  const at = (name: string, size: number) =>
    results.find((r) => r.name === name && r.size === size);
  const first = sizes[0]!;
  const last = sizes.at(-1)!;
  const rows: string[][] = [];
  for (const name of names) {
    const cells = sizes.map((size) => {
      const r = at(name, size);
      if (r === undefined) return "—";
      const delta = change(`scale.${r.impl}.${size}`, r.usPerJob);
      return `${us(r.usPerJob)} (${us(r.minUsPerJob)}…${us(r.maxUsPerJob)})${
        delta ? ` ${delta}` : ""
      }`;
    });
    const a = at(name, first);
    const b = at(name, last);
    const growth = a && b ? b.usPerJob / a.usPerJob : Number.NaN;
    change(`scale.${a?.impl}.growth`, growth);
    rows.push([
      a?.role === "floor" ? `**baseline** ${name}` : name,
      ...cells,
      ratio(growth),
      bytes(b?.peakRss),
    ]);
  }
  const ours = results.filter((r) => r.role === "ours");
  const ratioRow = (label: string, pick: (size: number) => { v: number; by?: string }) => [
    label,
    ...sizes.map((size) => {
      const { v, by } = pick(size);
      return `${ratio(v)}${by ? ` (${by})` : ""}`;
    }),
    "",
    "",
  ];
  for (const name of new Set(ours.map((r) => r.name))) {
    rows.push(ratioRow(`**${name} ÷ floor**`, (size) => {
      const floor = results.find((r) => r.role === "floor" && r.size === size);
      return { v: (at(name, size)?.usPerJob ?? Number.NaN) / (floor?.usPerJob ?? Number.NaN) };
    }));
    rows.push(ratioRow(`**${name} ÷ fastest library**`, (size) => {
      const libs = results.filter((r) => r.role === "library" && r.size === size);
      const fastest = libs.reduce<ScaleResult | undefined>(
        (best, r) => (best === undefined || r.usPerJob < best.usPerJob ? r : best),
        undefined,
      );
      const v = (at(name, size)?.usPerJob ?? Number.NaN) / (fastest?.usPerJob ?? Number.NaN);
      change(`scale.ratio.fastest.${size}`, v);
      return { v, by: fastest?.name ?? "" };
    }));
  }
  out.push(
    `\nµs per job, median round (min…max of the rounds); each case in a fresh process, rounds back to back after warm-up rounds. Growth: ${
      count(last)
    } ÷ ${count(first)} jobs. Peak RSS: the whole process at ${count(last)} jobs.\n`,
  );
  out.push(table(
    [
      "queue (concurrency 4, no-op jobs)",
      ...sizes.map((s) => `${count(s)} jobs`),
      "growth",
      "peak RSS",
    ],
    rows,
  ));
}

const sqliteRows: string[][] = [];

// Aims -------------------------------------------------------------------------------------

function aim(what: string, measured: string, met: boolean | null): void {
  aims.push([what, measured, met === null ? "n/a" : met ? "**met**" : "**not met**"]);
}

/**
 * The SQLite store's aims, from `sqlite_bench.ts`'s groups: jobs/s of liminal's executor
 * case (the first liminal case when none names the executor) and of the raw loop (baseline).
 */
function sqliteAims(): void {
  const rates = (start: string) => {
    const found = [...benchMeans].find(([group]) => group.startsWith(start));
    const jobs = found === undefined ? null : jobsInGroup(found[0]);
    if (found === undefined || jobs === null) return null;
    const cases = found[1];
    const ours = cases.find((c) => isOurs(c.name) && /executor/.test(c.name)) ??
      cases.find((c) => isOurs(c.name));
    const raw = cases.find((c) => c.baseline);
    const perSec = (c: { avg: number } | undefined) =>
      c === undefined ? Number.NaN : jobs / (c.avg / 1e9);
    return { jobs, name: ours?.name ?? "", ours: perSec(ours), raw: perSec(raw) };
  };
  const rate = (v: number) => Number.isFinite(v) ? `${count(Math.round(v))} jobs/s` : "—";
  type Rates = NonNullable<ReturnType<typeof rates>>;
  const rows: [string, string, (r: Rates) => [string, boolean]][] = [
    [
      "SQLite durable enqueue, batched ≥ 100,000 jobs/s",
      "sqlite durable enqueue, batched",
      (r) => [`${rate(r.ours)} (${r.name}; raw loop ${rate(r.raw)})`, r.ours >= 100_000],
    ],
    [
      "SQLite durable enqueue, single ≥ 5,000 jobs/s",
      "sqlite durable enqueue, single",
      (r) => [`${rate(r.ours)} (${r.name}; raw loop ${rate(r.raw)})`, r.ours >= 5_000],
    ],
    [
      "SQLite end-to-end no-op jobs ≥ 0.5× the raw node:sqlite loop",
      "sqlite end-to-end",
      (r) => [
        `${ratio(r.ours / r.raw)} (${rate(r.ours)} vs ${rate(r.raw)}, ${count(r.jobs)} jobs)`,
        r.ours / r.raw >= 0.5,
      ],
    ],
  ];
  for (const [what, group, measure] of rows) {
    const r = rates(group);
    if (r === null || !Number.isFinite(r.ours)) {
      aim(what, "not measured (see `sqlite_bench.ts` below)", null);
      continue;
    }
    const [measured, met] = measure(r);
    aim(what, measured, met);
  }
}

// ── Run ────────────────────────────────────────────────────────────────────────────────────

async function git(...args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(output.stdout).trim();
  } catch {
    return "";
  }
}

function loadavg(): string {
  try {
    return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch {
    return "?";
  }
}

const started = performance.now();
const loadBefore = loadavg();
const commit = await git("rev-parse", "--short", "HEAD");
const dirty = (await git("status", "--porcelain", "--untracked-files=no")) !== "";

const benchFiles = [...Deno.readDirSync(BENCH_DIR)]
  .filter((e) => e.isFile && e.name.endsWith("_bench.ts"))
  .map((e) => e.name)
  .sort();

out.push("\n## Executor overhead per job\n");
out.push(
  "No-op async jobs at concurrency 4: the timed part hands every job over (`enqueueMany`, `push`, `add`) and waits until all ran (`onIdle`, `drained`, `done`). Queue construction and executor start are not timed.",
);
await section("executor_scale.ts", async () => {
  scale = await measureScale((r) =>
    progress(`  ${r.name} × ${count(r.size)}: ${us(r.usPerJob)} µs/job`)
  );
  scaleSection(scale);
  const ours = (size: number) => scale.find((r) => r.impl === "liminal" && r.size === size);
  const libs = (size: number) =>
    scale.filter((r) => r.role === "library" && r.size === size).sort((a, b) =>
      a.usPerJob - b.usPerJob
    );
  const mid = SMOKE ? 100 : 100_000;
  const o = ours(mid);
  const f = libs(mid)[0];
  if (o && f) {
    const v = o.usPerJob / f.usPerJob;
    const others = libs(mid).slice(1).map((l) => `${ratio(o.usPerJob / l.usPerJob)} ${l.name}`);
    aim(
      `${count(mid)} jobs: executor ≤ 1.0× the fastest library`,
      `${ratio(v)} ${f.name} (${us(o.usPerJob)} vs ${us(f.usPerJob)} µs/job); ${others.join(", ")}`,
      v <= 1,
    );
  }
  const sizes = [...new Set(scale.map((r) => r.size))].sort((a, b) => a - b);
  const a = ours(sizes[0]!);
  const b = ours(sizes.at(-1)!);
  if (a && b) {
    const g = b.usPerJob / a.usPerJob;
    aim(
      `cost per job flat ${count(a.size)} → ${count(b.size)} (≤ 1.5× growth)`,
      `${ratio(g)} (${us(a.usPerJob)} → ${us(b.usPerJob)} µs/job)`,
      g <= 1.5,
    );
  }
});

if (sqliteBuilt()) {
  await section("executor_scale.ts (SQLite store)", async () => {
    for (const size of SMOKE ? [100] : [1_000, 100_000]) {
      const r = await runJsonScript<ScaleResult>(
        "executor_scale.ts",
        ["--allow-read", "--allow-write", "--allow-env", "--allow-run=cat"],
        [
          "--impl",
          SQLITE_QUEUE.id,
          "--size",
          String(size),
          ...(SMOKE
            ? ["--rounds", "1", "--warmup", "0"]
            : size <= 1_000
            ? ["--rounds", "10", "--max-rounds", "100", "--budget-ms", "2000", "--warmup", "5"]
            : ["--rounds", "1", "--warmup", "2"]),
        ],
      );
      progress(`  ${r.name} × ${count(r.size)}: ${us(r.usPerJob)} µs/job`);
      sqliteRows.push([
        `executor overhead, ${count(r.size)} jobs`,
        `${us(r.usPerJob)} µs/job (${us(r.minUsPerJob)}…${
          us(r.maxUsPerJob)
        }, ${r.roundsMs.length} rounds)`,
        change(`sqlite.scale.${r.size}`, r.usPerJob),
      ]);
    }
  });
}

out.push("\n## Deno.bench groups\n");
out.push(
  "Each `bench/*_bench.ts`, one `deno bench --json` per file. × baseline: this case's mean ÷ the group's `baseline: true` case. × fastest library: for liminal's cases, ÷ the fastest case that is neither the baseline nor liminal's.",
);
for (const file of benchFiles) {
  await section(file, () => denoBenchFile(file));
}
sqliteAims();

let latency: LatencyReport | null = null;
await section("latency.ts", async () => {
  latency = await runJsonScript<LatencyReport>("latency.ts", ["--allow-read", "--allow-env"], []);
  const l: LatencyReport = latency;
  out.push("\n## Scheduling latency (open loop)\n");
  out.push(
    `Jobs arrive at a fixed rate, one \`enqueue()\` each, priorities mixed (info 40%, coordinate 25%, blocking 20%, critical 10%, override 5%); each job sleeps ${l.serviceMs} ms on a timer. Each load runs three times for 2 s; the repetition with the median p99 is shown. Capacity, measured first in the same process: **${
      l.capacityPerSec.toFixed(0)
    } jobs/s** with ${l.workers} workers. *wait*: the executor's \`waitMs\` (enqueue committed → start). *enqueue→start*: the \`enqueue()\` call → the handler's first line. *arrival→start*: the due arrival time → the handler's first line (adds the driver's timer lateness, ~2 ms ticks here).\n`,
  );
  out.push(table(
    [
      "load",
      "rate",
      "jobs",
      "wait p50",
      "wait p99",
      "wait max",
      "enqueue→start p99",
      "arrival→start p99",
      "critical wait p99",
      "info wait p99",
      "wait p99 of each repetition",
      "vs previous (wait p99)",
    ],
    l.openLoop.map((r) => [
      r.label,
      `${r.ratePerSec.toFixed(0)}/s`,
      String(r.jobs),
      formatLatency(r.wait.p50),
      formatLatency(r.wait.p99),
      formatLatency(r.wait.max),
      formatLatency(r.enqueueToStart.p99),
      formatLatency(r.arrivalToStart.p99),
      formatLatency(r.waitByPriority.critical?.p99),
      formatLatency(r.waitByPriority.info?.p99),
      (r.waitP99s ?? []).map(formatLatency).join(", "),
      change(`latency.${r.load}.wait.p99`, r.wait.p99),
    ]),
  ));
  const below = l.openLoop.find((r) => r.load < 0.9);
  if (below) {
    aim(
      `enqueue → start p99 < 1 ms below capacity (${below.label})`,
      `${formatLatency(below.wait.p99)} (enqueue() call → handler: ${
        formatLatency(below.enqueueToStart.p99)
      })`,
      below.wait.p99 < 1,
    );
  }
  const high = l.openLoop.find((r) => r.load >= 0.9);
  if (high) {
    aim(
      `(no aim) enqueue → start p99 at ${high.label}`,
      `${formatLatency(high.wait.p99)} (critical ${
        formatLatency(high.waitByPriority.critical?.p99)
      }, info ${formatLatency(high.waitByPriority.info?.p99)})`,
      null,
    );
  }

  out.push("\n## Priority under load\n");
  out.push(
    `Critical jobs (each sleeping ${l.serviceMs} ms) arrive every 10 ms while the queue holds \`info\` jobs that sleep 1 ms (a timer tick, ~2 ms here) on all ${l.workers} workers. A critical job cannot preempt: it waits for the first worker to free. *aged to critical*: the executor ages one level per 100 ms and the info jobs have waited 400 ms, the state any backlog reaches after 15 s with the default 5 s aging.\n`,
  );
  out.push(table(
    [
      "scenario",
      "info queued (after)",
      "critical started",
      "wait p50",
      "wait p99",
      "wait max",
      "enqueue→start p99",
      "vs previous (wait p99)",
    ],
    l.priority.map((r) => [
      r.label,
      `${count(r.infoQueued)} (${count(r.infoQueuedAfter)})`,
      `${r.criticalStarted} of ${r.criticalSent}`,
      formatLatency(r.wait.p50),
      formatLatency(r.wait.p99),
      formatLatency(r.wait.max),
      formatLatency(r.enqueueToStart.p99),
      change(`priority.${r.infoQueued}.${r.label.includes("aged")}.wait.p99`, r.wait.p99),
    ]),
  ));
  const loaded = l.priority.find((r) => r.infoQueued > 0 && !r.label.includes("aged"));
  if (loaded) {
    aim(
      `(no aim) critical wait p99 with ${count(loaded.infoQueued)} info queued`,
      `${formatLatency(loaded.wait.p99)} (idle executor: ${
        formatLatency(l.priority[0]?.wait.p99)
      })`,
      null,
    );
  }
  const aged = l.priority.find((r) => r.label.includes("aged"));
  if (aged && loaded) {
    // Met when every critical job started and waited about as long as with a fresh backlog.
    const fair = aged.criticalStarted === aged.criticalSent &&
      aged.wait.p99 <= Math.max(2 * loaded.wait.p99, loaded.wait.p99 + 5);
    aim(
      "(expectation) critical jobs still start first once the backlog has aged",
      `${aged.criticalStarted} of ${aged.criticalSent} started; wait p99 ${
        formatLatency(aged.wait.p99)
      } vs ${formatLatency(loaded.wait.p99)} with a fresh backlog`,
      fair,
    );
  }

  out.push("\n## Event loop during a burst\n");
  out.push(
    "A 5 ms interval timer ticks while no-op jobs drain: its longest gap is how long timers, signals (Ctrl-C) and the control socket wait.\n",
  );
  out.push(table(
    ["jobs", "drain", "longest timer gap", "vs previous"],
    [[
      count(l.loopBlock.jobs),
      formatLatency(l.loopBlock.drainMs),
      formatLatency(l.loopBlock.longestTimerGapMs),
      change("loop.gap", l.loopBlock.longestTimerGapMs),
    ]],
  ));
});

// ── Router under an info flood ─────────────────────────────────────────────────────────────
await section("router_flood.ts", async () => {
  const f = await runJsonScript<FloodReport>(
    "router_flood.ts",
    ["--allow-read", "--allow-env"],
    [],
  );
  const [lo, hi] = f.criticalGapMs;
  const perSec = (v: number) => `${count(Math.round(v))}/s`;
  out.push("\n## Router: critical latency under an info flood\n");
  out.push(
    `Open loop in real time, ${(f.durationMs / 1_000).toFixed(1)} s per row${
      f.warmupMs > 0 ? ` after a ${(f.warmupMs / 1_000).toFixed(1)} s warm-up of the same kind` : ""
    }: sender \`flood\` sends \`info\` at ${
      count(f.floodPerSec)
    }/s (every message due by each ~2 ms timer tick), sender \`alarm\` one \`critical\` every ${lo}–${hi} ms to the same endpoint, right after a tick's burst (from a timer of its own it would always find the queue drained: microtasks run between timers). Latency: \`performance.now()\` before \`send()\` → the handler's first line; handlers only count. *default budgets*: the flood's token bucket (200, refill 60/s) throttles it, its sends wait in the bucket's queue: **not** a ${
      count(f.floodPerSec)
    }/s load. *flood budget raised*: bucket 100,000, refill 1,000,000/s, \`info\` mailbox 10,000: the whole flood is delivered. The alarm sender is exempt from tokens in both (a \`critical\` costs 100 tokens: the defaults allow one sender ~0.6 a second). Baseline: a bare async FIFO channel (array + promise), where the critical waits behind the info queued ahead. *info ahead*: info sent and not yet handled when the critical was sent (with default budgets, mostly sends waiting for tokens).\n`,
  );
  out.push(table(
    [
      "configuration",
      "flood sent",
      "flood delivered",
      "flood throttled (still waiting)",
      "rejected",
      "critical p50",
      "critical p99",
      "critical max",
      "critical handled",
      "info ahead p50 (max)",
      "vs previous (critical p99)",
    ],
    f.runs.map((r) => [
      r.id === "channel" ? `**baseline** ${r.label}` : r.label,
      perSec(r.flood.sentPerSec),
      perSec(r.flood.deliveredPerSec),
      r.id === "channel" ? "" : `${count(r.flood.throttled)} (${count(r.flood.waitingAtEnd)})`,
      r.id === "channel" ? "" : count(r.flood.rejected),
      formatLatency(r.critical.latency.p50),
      formatLatency(r.critical.latency.p99),
      formatLatency(r.critical.latency.max),
      `${r.critical.latency.count} of ${r.critical.sent}`,
      `${count(r.critical.infoAheadP50)} (${count(r.critical.infoAheadMax)})`,
      change(`router_flood.${r.id}.critical.p99`, r.critical.latency.p99),
    ]),
  ));
  for (const r of f.runs) {
    if (r.closeError !== null) {
      out.push(
        `\n*${r.label}: \`router.close()\` threw \`${r.closeError}\` with ${
          count(r.flood.waitingAtEnd)
        } sends waiting for tokens (a router bug, reported; the figures above were taken before).*`,
      );
    }
  }
  const raised = f.runs.find((r) => r.id === "router-raised");
  const defaults = f.runs.find((r) => r.id === "router-defaults");
  const channel = f.runs.find((r) => r.id === "channel");
  if (raised) {
    const loaded = raised.flood.deliveredPerSec >= 0.9 * f.floodPerSec;
    aim(
      `router: critical p99 < 1 ms under a ${count(f.floodPerSec)} info/s flood`,
      `${formatLatency(raised.critical.latency.p99)} with the flood's budget raised, ${
        perSec(raised.flood.deliveredPerSec)
      } info delivered${loaded ? "" : " (**the flood did not get through**)"}; bare channel ${
        formatLatency(channel?.critical.latency.p99)
      }${
        defaults
          ? `; default budgets throttle the flood to ${perSec(defaults.flood.deliveredPerSec)}: ${
            formatLatency(defaults.critical.latency.p99)
          }`
          : ""
      }`,
      raised.critical.latency.p99 < 1 && loaded,
    );
  }
});

let memory: MemoryReport | null = null;
await section("memory.ts", async () => {
  memory = await runJsonScript<MemoryReport>(
    "memory.ts",
    ["--allow-read", "--allow-write", "--allow-env", "--allow-run"],
    [],
  );
  const m: MemoryReport = memory;
  out.push("\n## Memory\n");
  out.push(
    `Heap per queued job at ${
      count(m.size)
    } queued: growth of \`heapUsed\` after full GCs (\`--expose-gc\`), fresh process per row. The executor's intake is paused so every job stays queued; the libraries hold as many pending no-op tasks behind blocked workers.\n`,
  );
  out.push(table(
    ["what", "per queued job", "total", "vs previous"],
    m.heap.map((r) => [
      r.label,
      bytes(r.bytesPerJob),
      bytes(r.heapBytes),
      change(`memory.heap.${r.queue}`, r.bytesPerJob),
    ]),
  ));
  const liminal = m.heap.find((r) => r.queue === "liminal");
  if (liminal) {
    aim(`(no aim) heap per queued job at ${count(m.size)}`, bytes(liminal.bytesPerJob), null);
  }
  out.push("\nResident memory (VmRSS) of idle processes, 1 s after they are ready.\n");
  out.push(table(
    ["process", "RSS", "ready after", "vs previous"],
    m.rss.map((r, i) => [
      `${r.label}: \`${r.command}\``,
      bytes(r.rssBytes),
      formatLatency(r.readyMs),
      change(`memory.rss.${i}`, r.rssBytes),
    ]),
  ));
  const [bare, start] = m.rss;
  if (bare?.rssBytes && start?.rssBytes) {
    aim(
      "(no aim) RSS of an idle `liminal start` over a bare `deno run`",
      `${bytes(start.rssBytes)} vs ${bytes(bare.rssBytes)} (+${
        bytes(start.rssBytes - bare.rssBytes)
      })`,
      null,
    );
  }
  if (m.sqlite !== null) {
    if ("error" in m.sqlite) {
      sqliteRows.push(["heap per queued job", `failed: ${m.sqlite.error}`, ""]);
    } else {
      sqliteRows.push([
        `heap per queued job (${count(m.sqlite.size)} queued)`,
        `${bytes(m.sqlite.bytesPerJob)} (total ${bytes(m.sqlite.heapBytes)})`,
        change("sqlite.heap", m.sqlite.bytesPerJob),
      ]);
    }
  }
});

// ── SQLite slot ────────────────────────────────────────────────────────────────────────────
out.push("\n## SQLite store\n");
if (!sqliteBuilt()) {
  out.push(
    `*Slot for the SQLite store's figures: filled once \`${
      SQLITE_MODULE.replace(/^.*\/(src\/)/, "$1")
    }\` exists (executor overhead per job at 1,000 and 100,000 jobs, heap per queued job).*`,
  );
} else if (sqliteRows.length === 0) {
  out.push("*The SQLite store exists but none of its figures could be measured (see above).*");
} else {
  out.push(
    "The executor over `SqliteStore` (durability `normal`, a new database file per round), same no-op jobs and concurrency as above.\n",
  );
  out.push(table(["figure", "value", "vs previous"], sqliteRows));
}

// ── PostgreSQL store ───────────────────────────────────────────────────────────────────────
// bench/postgres.ts needs no network itself (this task grants none): it starts the server
// and runs its measuring half in a child process that may connect to Unix sockets.
await section("postgres.ts", async () => {
  const report = await runJsonScript<PostgresReport>(
    "postgres.ts",
    ["--allow-read", "--allow-write", "--allow-env", "--allow-run", "--allow-sys"],
    [],
  );
  if (report.skipped !== null) progress(`  skipped: ${report.skipped}`);
  out.push(...postgresSection(report, { table, formatLatency, us, ratio, bytes, change, aim }));
});

// ── Header, aims, files ────────────────────────────────────────────────────────────────────

const loadAfter = loadavg();
const header = [
  `# liminal benchmarks${SMOKE ? " (smoke run: tiny sizes, numbers mean nothing)" : ""}`,
  "",
  `${figures.date.slice(0, 16).replace("T", " ")} UTC · commit \`${commit || "?"}\`${
    dirty ? " + uncommitted changes" : ""
  } · Deno ${Deno.version.deno} (V8 ${Deno.version.v8}) · ${cpu}, ${navigator.hardwareConcurrency} cores · load average ${loadBefore} → ${loadAfter} · took ${
    ((performance.now() - started) / 1_000).toFixed(0)
  } s`,
  "",
  `Command: \`${SMOKE ? "LIMINAL_BENCH_SMOKE=1 " : ""}deno task bench\`. ${
    previous === null
      ? "No previous run to compare with."
      : `"vs previous": change from the run of ${
        previous.date.slice(0, 16).replace("T", " ")
      } UTC (\`bench/results/previous.md\`); lower is better everywhere.`
  }`,
  "",
  "## Aims",
  "",
  table(["aim", "measured", "status"], aims),
];
if (crashes.length > 0) {
  header.push(
    "",
    `**${crashes.length} benchmark(s) crashed:** ${
      crashes.map((c) => c.split("\n")[0]).join("; ")
    }`,
  );
}
const markdown = `${header.join("\n")}\n${out.join("\n")}\n`;

await Deno.mkdir(RESULTS_DIR, { recursive: true });
if (!SMOKE) {
  for (const ext of ["md", "json"]) {
    try {
      await Deno.rename(`${RESULTS_DIR}latest.${ext}`, `${RESULTS_DIR}previous.${ext}`);
    } catch {
      // first run
    }
  }
}
await Deno.writeTextFile(`${RESULTS_DIR}${OUT}.md`, markdown);
await Deno.writeTextFile(`${RESULTS_DIR}${OUT}.json`, JSON.stringify(figures, null, 2) + "\n");
console.log(markdown);
progress(
  `wrote bench/results/${OUT}.md in ${((performance.now() - started) / 1_000).toFixed(0)} s`,
);
if (crashes.length > 0) {
  progress(`${crashes.length} benchmark(s) crashed`);
  Deno.exit(1);
}
