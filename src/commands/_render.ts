/**
 * Human views of jobs and of the runtime's status, shared by `jobs`, `enqueue --wait` and
 * `status`.
 *
 * @module
 */
import { formatDuration, formatMs, formatRelative } from "../shared/duration.ts";
import { cutToWidth } from "../shared/text_width.ts";
import { type JobSnapshot, presentError } from "../shared/job.ts";
import { PRIORITIES } from "../shared/priority.ts";
import type { NodeInfo, RuntimeSnapshot } from "../shared/snapshot.ts";
import { formatTable, paint, paintState } from "./_output.ts";

/** Total run time of a job's attempts. */
export function jobDuration(job: JobSnapshot): string {
  if (job.attempts.length === 0) return "-";
  return formatDuration(job.attempts.reduce((sum, a) => sum + (a.durationMs ?? 0), 0));
}

/** A table of jobs. */
export function formatJobTable(
  jobs: readonly JobSnapshot[],
  color: boolean,
  now = Date.now(),
): string {
  if (jobs.length === 0) return "no jobs\n";
  return formatTable(jobs, [
    { header: "ID", value: (j) => j.id },
    { header: "KIND", value: (j) => j.kind },
    { header: "STATE", value: (j) => paintState(j.state, color) },
    { header: "PRIORITY", value: (j) => j.priority },
    { header: "ATTEMPTS", value: attemptsCell, align: "right" },
    { header: "DURATION", value: jobDuration, align: "right" },
    { header: "CREATED", value: (j) => formatRelative(Date.parse(j.createdAt), now) },
    {
      header: "ERROR",
      value: (j) => cutToWidth(presentError(j)?.message ?? "", 60, false),
    },
  ], color);
}

/** Everything about one job. */
export function formatJobDetail(job: JobSnapshot, color: boolean, now = Date.now()): string {
  const label = (text: string) => paint(text.padEnd(11), "bold", color);
  const when = (
    iso: string | null,
  ) => (iso === null ? "-" : `${iso} (${formatRelative(Date.parse(iso), now)})`);
  const lines = [
    `${label("id")}${job.id}`,
    `${label("kind")}${job.kind}`,
    `${label("state")}${paintState(job.state, color)}`,
    `${label("priority")}${job.priority}`,
    `${label("payload")}${JSON.stringify(job.payload)}`,
    `${label("attempts")}${
      uncountedAttempts(job)
        ? `${job.attempt} made; ${job.failures} failed of ${job.maxAttempts} allowed${
          interrupted(job) > 0 ? `; ${interrupted(job)} interrupted (not counted)` : ""
        }`
        : `${job.attempt} of ${job.maxAttempts}`
    } (backoff ${formatDuration(job.backoff.baseMs)}..${formatDuration(job.backoff.maxMs)})`,
    `${label("timeout")}${job.timeoutMs === null ? "none" : formatDuration(job.timeoutMs)}`,
  ];
  if (job.uniqueKey !== null) lines.push(`${label("unique key")}${job.uniqueKey}`);
  lines.push(`${label("created")}${when(job.createdAt)}`);
  if (job.state === "scheduled") lines.push(`${label("runs at")}${when(job.runAt)}`);
  if (job.finishedAt !== null) lines.push(`${label("finished")}${when(job.finishedAt)}`);
  if (job.progress !== null) {
    const total = job.progress.total === null ? "" : ` of ${job.progress.total}`;
    lines.push(`${label("progress")}${job.progress.done}${total}`);
  }
  if (job.error !== null) {
    lines.push(
      `${label("error")}${paint(`${job.error.code}: ${job.error.message}`, "red", color)}`,
    );
  }
  let out = lines.join("\n") + "\n";
  if (job.attempts.length > 0) {
    out += `\n${paint("attempts", "bold", color)}\n`;
    out += formatTable(job.attempts, [
      { header: "#", value: (a) => String(a.attempt), align: "right" },
      { header: "WORKER", value: (a) => a.worker },
      { header: "STARTED", value: (a) => a.startedAt },
      {
        header: "DURATION",
        value: (a) => (a.durationMs === null ? "running" : formatDuration(a.durationMs)),
        align: "right",
      },
      {
        header: "OUTCOME",
        value: (a) =>
          a.outcome === null ? "running" : paintState(outcomeState(a.outcome), color, a.outcome), // coloured like its state
      },
      {
        header: "ERROR",
        value: (a) => (a.error === null ? "" : cutToWidth(a.error.message, 80, false)),
      },
    ], color);
  }
  if (job.logs.length > 0) {
    out += `\n${paint("log", "bold", color)}\n`;
    for (const line of job.logs.slice(-20)) {
      out += `${paint(line.at.slice(11, 23), "gray", color)} ${line.message}\n`;
    }
    if (job.logs.length > 20) {
      out += paint(`(${job.logs.length - 20} earlier lines in --json)\n`, "gray", color);
    }
  }
  if (job.result !== null) {
    out += `\n${paint("result", "bold", color)}\n${JSON.stringify(job.result, null, 2)}\n`;
  }
  return out;
}

function outcomeState(outcome: string): string {
  return outcome === "timeout" || outcome === "failed"
    ? "failed"
    : outcome === "interrupted"
    ? "cancelled"
    : outcome;
}

/** The runtime's status for people. */
export function formatStatus(s: RuntimeSnapshot, color: boolean): string {
  const ex = s.executor;
  const b = (text: string) => paint(text, "bold", color);
  const out: string[] = [];
  out.push(
    `${b("runtime")}  ${
      paint(s.state, s.state === "running" ? "green" : "yellow", color)
    }  pid ${s.pid}  up ${formatDuration(s.uptimeMs)}  liminal ${s.version}`,
  );
  out.push(
    `${b("store")}    ${s.store.kind} (${s.store.location})${
      s.store.durable ? "" : ", not durable"
    }`,
  );
  if (s.cluster !== null) {
    const alive = s.cluster.nodes.filter((n) => n.alive).length;
    out.push(
      `${
        b("cluster")
      }  node ${s.cluster.nodeId} of ${s.cluster.nodes.length} sharing the store, ${alive} alive${
        s.cluster.error === null
          ? ""
          : paint(` (node list stale: ${s.cluster.error})`, "yellow", color)
      }`,
    );
  }
  if (s.socket !== null) out.push(`${b("socket")}   ${s.socket}`);
  out.push(`${b("intake")}   ${ex.intake}   ${b("kinds")} ${s.kinds.join(", ")}`);
  const t = ex.totals;
  out.push(
    `${
      b("jobs")
    }     ${t.succeeded} succeeded, ${t.failedAttempts} failed attempts, ${ex.queue.byState.dead} dead, ${ex.queue.byState.running} running, ${ex.queue.byState.queued} queued, ${ex.queue.byState.scheduled} scheduled`,
  );
  out.push(
    `${
      b("rate")
    }     ${ex.throughput.perSecond1s}/s (1s)  ${ex.throughput.perSecond10s}/s (10s)  ${ex.throughput.perSecond60s}/s (60s)`,
  );
  out.push(
    `${b("wait")}     p50 ${formatMs(ex.waitMs.p50)}  p99 ${formatMs(ex.waitMs.p99)}   ${
      b("run")
    } p50 ${formatMs(ex.runMs.p50)}  p99 ${formatMs(ex.runMs.p99)}`,
  );
  out.push(
    `${b("loop")}     lag ${formatMs(s.health.loopLagMs)} (at most ${
      formatMs(s.health.loopLagMax10sMs)
    } in the last 10s)`,
  );
  out.push("");
  out.push(
    formatTable(PRIORITIES.map((p) => ({ p, d: ex.queue.byPriority[p] })), [
      { header: "PRIORITY", value: (r) => r.p },
      { header: "QUEUED", value: (r) => String(r.d.queued), align: "right" },
      { header: "SCHEDULED", value: (r) => String(r.d.scheduled), align: "right" },
      { header: "OLDEST WAIT", value: (r) => formatMs(r.d.oldestWaitMs), align: "right" },
    ], color).trimEnd(),
  );
  out.push("");
  out.push(
    formatTable(ex.workers, [
      { header: "WORKER", value: (w) => w.id },
      {
        header: "STATE",
        value: (w) =>
          paint(w.state, w.state === "stuck" ? "red" : w.state === "busy" ? "cyan" : "gray", color),
      },
      { header: "JOB", value: (w) => (w.job === null ? "" : `${w.job.kind} ${w.job.id}`) },
      {
        header: "ELAPSED",
        value: (w) => (w.job === null ? "" : formatDuration(w.job.elapsedMs)),
        align: "right",
      },
      {
        header: "PROGRESS",
        value: (w) =>
          w.job?.progress
            ? `${w.job.progress.done}${
              w.job.progress.total === null ? "" : `/${w.job.progress.total}`
            }`
            : "",
        align: "right",
      },
      { header: "DONE", value: (w) => String(w.done), align: "right" },
      { header: "FAILED", value: (w) => String(w.failed), align: "right" },
    ], color).trimEnd(),
  );
  if (s.cluster !== null && s.cluster.nodes.length > 0) {
    out.push("");
    out.push(formatNodes(s.cluster.nodes, color).trimEnd());
  }
  if (s.warnings.length > 0) {
    out.push("");
    out.push(b("warnings"));
    for (const w of s.warnings) {
      out.push(`  ${paint("!", ["bold", "yellow"], color)} ${w.message}`);
    }
  }
  return out.join("\n") + "\n";
}

/** A node's health in one word: `alive`, `stopping` or `dead`. */
export function nodeHealth(node: NodeInfo): "alive" | "stopping" | "dead" {
  if (!node.alive) return "dead";
  return node.stopping ? "stopping" : "alive";
}

/** A table of nodes. */
export function formatNodes(nodes: readonly NodeInfo[], color: boolean, now = Date.now()): string {
  return formatTable(nodes, [
    { header: "NODE", value: (n) => (n.self ? `${n.id} (this)` : n.id) },
    {
      header: "HEALTH",
      value: (n) => {
        const health = nodeHealth(n);
        return paint(
          health,
          health === "alive" ? "green" : health === "dead" ? "red" : "yellow",
          color,
        );
      },
    },
    { header: "HOST", value: (n) => n.host },
    { header: "PID", value: (n) => String(n.pid), align: "right" },
    { header: "RUNNING", value: (n) => String(n.running), align: "right" },
    { header: "HEARTBEAT", value: (n) => formatRelative(n.heartbeatAt, now) },
    { header: "STARTED", value: (n) => formatRelative(n.startedAt, now) },
    { header: "VERSION", value: (n) => n.version },
  ], color);
}

/**
 * `2/3`; when some attempts do not count against the limit (interrupted ones, or those before
 * a `jobs retry` gave the job a fresh set), the failures that count and how many were made in
 * all: `1/3 (4 in all)`.
 */
function attemptsCell(j: JobSnapshot): string {
  return uncountedAttempts(j)
    ? `${j.failures}/${j.maxAttempts} (${j.attempt} in all)`
    : `${j.attempt}/${j.maxAttempts}`;
}

/** Whether some of a job's attempts do not count against its limit. */
function uncountedAttempts(j: JobSnapshot): boolean {
  return interrupted(j) > 0 || j.attempt > j.maxAttempts;
}

/** Attempts cut short by a shutdown or a crash (they do not count against the limit). */
function interrupted(j: JobSnapshot): number {
  return j.attempts.filter((a) => a.outcome === "interrupted").length;
}
