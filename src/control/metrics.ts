/**
 * `GET /metrics`: the runtime in Prometheus text format (version 0.0.4).
 *
 * @module
 */
import { JOB_STATES } from "../shared/job.ts";
import { PRIORITIES } from "../shared/priority.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";

/** Histogram bucket bounds in seconds. */
export const BUCKETS_SECONDS = [
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  1800,
];

/** Cumulative histogram counts at {@link BUCKETS_SECONDS} (in ms), as the executor gives them. */
export interface HistogramCounts {
  wait: number[];
  run: number[];
  waitCount: number;
  runCount: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Renders the snapshot and histograms as Prometheus text. */
export function renderMetrics(snapshot: RuntimeSnapshot, histograms: HistogramCounts): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const ex = snapshot.executor;

  metric("liminal_info", "gauge", "The runtime's version, store and pid.");
  lines.push(
    `liminal_info{version="${escapeLabel(snapshot.version)}",store="${
      escapeLabel(snapshot.store.kind)
    }",pid="${snapshot.pid}"} 1`,
  );
  metric("liminal_uptime_seconds", "gauge", "Seconds since the runtime started.");
  lines.push(`liminal_uptime_seconds ${(snapshot.uptimeMs / 1000).toFixed(3)}`);

  metric(
    "liminal_queue_depth",
    "gauge",
    "Jobs waiting, by priority and state (queued or scheduled).",
  );
  for (const priority of PRIORITIES) {
    const depth = ex.queue.byPriority[priority];
    lines.push(`liminal_queue_depth{priority="${priority}",state="queued"} ${depth.queued}`);
    lines.push(`liminal_queue_depth{priority="${priority}",state="scheduled"} ${depth.scheduled}`);
  }
  metric(
    "liminal_queue_oldest_wait_seconds",
    "gauge",
    "How long the oldest queued job of each priority has waited.",
  );
  for (const priority of PRIORITIES) {
    const wait = ex.queue.byPriority[priority].oldestWaitMs;
    lines.push(
      `liminal_queue_oldest_wait_seconds{priority="${priority}"} ${
        wait === null ? 0 : wait / 1000
      }`,
    );
  }
  metric("liminal_jobs", "gauge", "Jobs in the store, by state.");
  for (const state of JOB_STATES) {
    lines.push(`liminal_jobs{state="${state}"} ${ex.queue.byState[state]}`);
  }

  metric(
    "liminal_jobs_total",
    "counter",
    "Jobs and attempts since the runtime started, by outcome.",
  );
  const t = ex.totals;
  const outcomes: [string, number][] = [
    ["enqueued", t.enqueued],
    ["started", t.started],
    ["succeeded", t.succeeded],
    ["failed_attempt", t.failedAttempts],
    ["retried", t.retried],
    ["timed_out", t.timedOut],
    ["dead", t.dead],
    ["cancelled", t.cancelled],
    ["interrupted", t.interrupted],
    ["abandoned", t.abandoned],
  ];
  for (const [outcome, value] of outcomes) {
    lines.push(`liminal_jobs_total{outcome="${outcome}"} ${value}`);
  }

  const histogram = (
    name: string,
    help: string,
    counts: number[],
    count: number,
    mean: number | null,
  ) => {
    metric(name, "histogram", help);
    BUCKETS_SECONDS.forEach((bound, i) =>
      lines.push(`${name}_bucket{le="${bound}"} ${counts[i] ?? 0}`)
    );
    lines.push(`${name}_bucket{le="+Inf"} ${count}`);
    lines.push(`${name}_sum ${(((mean ?? 0) * count) / 1000).toFixed(6)}`);
    lines.push(`${name}_count ${count}`);
  };
  histogram(
    "liminal_job_wait_seconds",
    "Time from ready to start.",
    histograms.wait,
    histograms.waitCount,
    ex.waitMs.mean,
  );
  histogram(
    "liminal_job_run_seconds",
    "Time an attempt ran.",
    histograms.run,
    histograms.runCount,
    ex.runMs.mean,
  );

  metric("liminal_workers", "gauge", "Workers by health.");
  for (const state of ["idle", "busy", "stuck"] as const) {
    lines.push(
      `liminal_workers{state="${state}"} ${ex.workers.filter((w) => w.state === state).length}`,
    );
  }
  metric("liminal_throughput_per_second", "gauge", "Attempts finished per second over a window.");
  lines.push(`liminal_throughput_per_second{window="1s"} ${ex.throughput.perSecond1s}`);
  lines.push(`liminal_throughput_per_second{window="10s"} ${ex.throughput.perSecond10s}`);
  lines.push(`liminal_throughput_per_second{window="60s"} ${ex.throughput.perSecond60s}`);
  metric("liminal_warnings", "gauge", "Active warnings, by code.");
  const codes = new Map<string, number>();
  for (const w of snapshot.warnings) codes.set(w.code, (codes.get(w.code) ?? 0) + 1);
  for (const [code, n] of codes) lines.push(`liminal_warnings{code="${code}"} ${n}`);
  return lines.join("\n") + "\n";
}
