/**
 * Scheduling latency and priority under load, measured on a live executor (memory store,
 * 4 workers). Prints one JSON document.
 *
 * Open loop: jobs arrive at a fixed rate whatever the executor does, each with a priority
 * drawn from a fixed mix, each handled by an I/O-like job that sleeps `SERVICE_MS` on a timer.
 * Capacity is measured first in the same process (a closed batch of the same jobs), then the
 * loop runs at 50% and at 90% of it, 2 s each, three times; the repetition with the median
 * p99 is kept (with every repetition's p99, to show the spread). Three latencies per job:
 *
 * - `wait`: the executor's own `waitMs` (`job:started`): enqueue committed → start, in
 *   `performance.now()` ms. What the aim is about.
 * - `enqueueToStart`: the `enqueue()` call → the handler's first line (adds the store insert
 *   and the start of the handler).
 * - `arrivalToStart`: the arrival's due time → the handler's first line (adds the driver's
 *   own lateness: its timer ticks every ~2 ms here, so arrivals come in small bursts).
 *
 * Priority under load: critical jobs arrive every 10 ms while the executor is idle, while
 * 100,000 `info` jobs are queued, and while those `info` jobs have aged up to `critical`
 * (aging interval 100 ms instead of 5 s: the state a backlog reaches after 15 s with the
 * defaults).
 *
 * Event loop during a burst: the longest a 5 ms interval timer waits while 100,000 no-op
 * jobs drain (timers, signals and the control socket wait as long).
 *
 *   deno run --allow-read --allow-env bench/latency.ts
 *
 * @module
 */
import {
  defineJob,
  type JobKind,
  type JobSpec,
  MaintenanceExecutor,
  MemoryStore,
  type Priority,
} from "../mod.ts";
import { CONCURRENCY, pick } from "./_config.ts";
import { noopJob, noopSpecs } from "./_queues.ts";
import { type LatencySummary, random, summarize } from "./_stats.ts";

/** How long an I/O-like job sleeps. */
export const SERVICE_MS = 2;
/** The priority mix of the open loop, by weight. */
export const PRIORITY_MIX: readonly (readonly [Priority, number])[] = [
  ["info", 40],
  ["coordinate", 25],
  ["blocking", 20],
  ["critical", 10],
  ["override", 5],
];

/** One open-loop run. */
export interface OpenLoopResult {
  label: string;
  load: number;
  ratePerSec: number;
  durationMs: number;
  jobs: number;
  wait: LatencySummary;
  enqueueToStart: LatencySummary;
  arrivalToStart: LatencySummary;
  /** Executor wait by priority. */
  waitByPriority: Partial<Record<Priority, LatencySummary>>;
  /** Wait p99 of every repetition; the result shown is the median one. */
  waitP99s: number[];
}

/** One priority-under-load run. */
export interface PriorityResult {
  label: string;
  infoQueued: number;
  /** `info` jobs still queued when the critical jobs were done (or the window ended). */
  infoQueuedAfter: number;
  criticalSent: number;
  criticalStarted: number;
  /** Executor wait of the critical jobs that started, ms. */
  wait: LatencySummary;
  enqueueToStart: LatencySummary;
}

/** How long the event loop went without running a timer while a burst of jobs drained. */
export interface LoopBlockResult {
  jobs: number;
  /** `enqueueMany` → `onIdle`, ms. */
  drainMs: number;
  /** The longest gap between two ticks of a 5 ms interval timer during the drain, ms. */
  longestTimerGapMs: number;
}

/** Everything this script measures. */
export interface LatencyReport {
  serviceMs: number;
  workers: number;
  capacityPerSec: number;
  openLoop: OpenLoopResult[];
  priority: PriorityResult[];
  loopBlock: LoopBlockResult;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function priorityPicker(seed: number): () => Priority {
  const next = random(seed);
  const total = PRIORITY_MIX.reduce((n, [, w]) => n + w, 0);
  return () => {
    let x = next() * total;
    for (const [priority, weight] of PRIORITY_MIX) {
      x -= weight;
      if (x < 0) return priority;
    }
    return PRIORITY_MIX[PRIORITY_MIX.length - 1]![0];
  };
}

interface Probe {
  /** `enqueue()` call → handler entry, ms. */
  enqueueToStart: number[];
  /** Due arrival time → handler entry, ms. */
  arrivalToStart: number[];
}

/** A kind that records when its handler starts, then sleeps `serviceMs` on a timer. */
function probeKind(kind: string, serviceMs: number, probe: Probe): JobKind {
  return defineJob({
    kind,
    defaults: { priority: "info", attempts: 1 },
    handler: async ({ payload }) => {
      const now = performance.now();
      const p = payload as { at?: number; due?: number } | null;
      if (p?.at !== undefined) probe.enqueueToStart.push(now - p.at);
      if (p?.due !== undefined) probe.arrivalToStart.push(now - p.due);
      await sleep(serviceMs);
    },
  }) as JobKind;
}

async function openExecutor(
  kinds: JobKind[],
  agingInterval = "5s",
): Promise<{ executor: MaintenanceExecutor; close(): Promise<void> }> {
  const store = new MemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({
    store,
    kinds,
    workers: CONCURRENCY,
    agingInterval,
  });
  await executor.start();
  return {
    executor,
    async close() {
      executor.closeIntake();
      await executor.stop();
      await store.close();
    },
  };
}

/** Jobs per second the executor finishes with jobs of `serviceMs` (closed batch). */
export async function measureCapacity(jobs: number, serviceMs = SERVICE_MS): Promise<number> {
  const probe: Probe = { enqueueToStart: [], arrivalToStart: [] };
  const { executor, close } = await openExecutor([probeKind("io", serviceMs, probe)]);
  const specs: JobSpec[] = Array.from({ length: jobs }, () => ({ kind: "io" }));
  const started = performance.now();
  await executor.enqueueMany(specs);
  await executor.onIdle();
  const seconds = (performance.now() - started) / 1_000;
  await close();
  return jobs / seconds;
}

/** Jobs arriving at `ratePerSec` for `durationMs`, one `enqueue()` each. */
export async function runOpenLoop(
  label: string,
  load: number,
  ratePerSec: number,
  durationMs: number,
): Promise<OpenLoopResult> {
  const probe: Probe = { enqueueToStart: [], arrivalToStart: [] };
  const { executor, close } = await openExecutor([probeKind("io", SERVICE_MS, probe)]);
  const waits: number[] = [];
  const byPriority = new Map<Priority, number[]>();
  executor.on("job:started", ({ waitMs, priority }) => {
    waits.push(waitMs);
    let list = byPriority.get(priority);
    if (list === undefined) byPriority.set(priority, list = []);
    list.push(waitMs);
  });
  const nextPriority = priorityPicker(42);
  const total = Math.max(1, Math.floor((ratePerSec * durationMs) / 1_000));
  const gapMs = 1_000 / ratePerSec;
  const pending: Promise<unknown>[] = [];
  const t0 = performance.now() + 5;
  let k = 0;
  while (k < total) {
    const now = performance.now();
    while (k < total && t0 + k * gapMs <= now) {
      pending.push(executor.enqueue({
        kind: "io",
        priority: nextPriority(),
        payload: { at: performance.now(), due: t0 + k * gapMs },
      }));
      k++;
    }
    if (k < total) await sleep(Math.max(0, t0 + k * gapMs - performance.now()));
  }
  await Promise.all(pending);
  await executor.onIdle();
  await close();
  const waitByPriority: Partial<Record<Priority, LatencySummary>> = {};
  for (const [priority, list] of byPriority) waitByPriority[priority] = summarize(list);
  return {
    label,
    load,
    ratePerSec,
    durationMs,
    jobs: total,
    wait: summarize(waits),
    enqueueToStart: summarize(probe.enqueueToStart),
    arrivalToStart: summarize(probe.arrivalToStart),
    waitByPriority,
    waitP99s: [],
  };
}

/**
 * {@link runOpenLoop} `repetitions` times; the repetition with the median wait p99, with
 * every repetition's p99. One busy moment of a shared machine then moves the range, not the
 * figure.
 */
export async function repeatOpenLoop(
  repetitions: number,
  label: string,
  load: number,
  ratePerSec: number,
  durationMs: number,
): Promise<OpenLoopResult> {
  const runs: OpenLoopResult[] = [];
  for (let i = 0; i < repetitions; i++) {
    runs.push(await runOpenLoop(label, load, ratePerSec, durationMs));
  }
  const byP99 = runs.toSorted((a, b) => a.wait.p99 - b.wait.p99);
  return { ...byP99[(byP99.length - 1) >> 1]!, waitP99s: runs.map((r) => r.wait.p99) };
}

/**
 * Critical jobs arriving every `gapMs` (`count` of them) while `infoQueued` info jobs wait.
 * With `agedMs`, the executor ages one level per `agedMs` and the info jobs have waited
 * long enough to compete as `critical` before the first critical job arrives.
 */
export async function runPriorityUnderLoad(
  label: string,
  infoQueued: number,
  count: number,
  gapMs: number,
  agedMs?: number,
): Promise<PriorityResult> {
  const probe: Probe = { enqueueToStart: [], arrivalToStart: [] };
  const background: Probe = { enqueueToStart: [], arrivalToStart: [] };
  const { executor, close } = await openExecutor(
    [probeKind("critical-probe", SERVICE_MS, probe), probeKind("info-work", 1, background)],
    agedMs === undefined ? "5s" : `${agedMs}ms`,
  );
  const waits: number[] = [];
  executor.on("job:started", ({ waitMs, priority }) => {
    if (priority === "critical") waits.push(waitMs);
  });
  if (infoQueued > 0) {
    const specs: JobSpec[] = Array.from({ length: infoQueued }, () => ({ kind: "info-work" }));
    await executor.enqueueMany(specs);
  }
  await sleep(agedMs === undefined ? 20 : agedMs * 4);
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(executor.enqueue({
      kind: "critical-probe",
      priority: "critical",
      payload: { at: performance.now() },
    }));
    await sleep(gapMs);
  }
  await Promise.all(pending);
  // Give the last ones a fair chance: one window as long as the arrivals took.
  const deadline = performance.now() + Math.max(200, count * gapMs);
  while (waits.length < count && performance.now() < deadline) await sleep(5);
  const snapshot = await executor.snapshot();
  const infoQueuedAfter = snapshot.queue.byPriority.info.queued;
  await close();
  return {
    label,
    infoQueued,
    infoQueuedAfter,
    criticalSent: count,
    criticalStarted: waits.length,
    wait: summarize(waits),
    enqueueToStart: summarize(probe.enqueueToStart),
  };
}

/**
 * Drains `jobs` no-op jobs while a 5 ms interval timer ticks: how long the executor keeps
 * the event loop (timers, signals, the control socket) from running.
 */
export async function measureLoopBlock(jobs: number): Promise<LoopBlockResult> {
  const { executor, close } = await openExecutor([noopJob]);
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > longest) longest = now - last;
    last = now;
  }, 5);
  await sleep(30);
  last = performance.now();
  longest = 0;
  const started = performance.now();
  await executor.enqueueMany(noopSpecs(jobs));
  await executor.onIdle();
  const drainMs = performance.now() - started;
  await sleep(15);
  clearInterval(timer);
  await close();
  return { jobs, drainMs, longestTimerGapMs: longest };
}

/** Runs every latency measurement. */
export async function measureLatency(): Promise<LatencyReport> {
  const capacityPerSec = await measureCapacity(pick(3_000, 40));
  const durationMs = pick(2_000, 100);
  const openLoop: OpenLoopResult[] = [];
  for (const load of [0.5, 0.9]) {
    openLoop.push(
      await repeatOpenLoop(
        pick(3, 1),
        `${Math.round(load * 100)}% of capacity`,
        load,
        capacityPerSec * load,
        durationMs,
      ),
    );
  }
  const infoQueued = pick(100_000, 1_000);
  const count = pick(100, 5);
  const priority = [
    await runPriorityUnderLoad("idle executor", 0, count, 10),
    await runPriorityUnderLoad(
      `${infoQueued.toLocaleString("en-US")} info queued`,
      infoQueued,
      count,
      10,
    ),
    await runPriorityUnderLoad(
      `${infoQueued.toLocaleString("en-US")} info queued, aged to critical`,
      infoQueued,
      count,
      10,
      100,
    ),
  ];
  return {
    serviceMs: SERVICE_MS,
    workers: CONCURRENCY,
    capacityPerSec,
    openLoop,
    priority,
    loopBlock: await measureLoopBlock(pick(100_000, 1_000)),
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await measureLatency()));
}
