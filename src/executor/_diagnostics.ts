/**
 * Diagnostics: the executor's snapshot (workers, queue depth by priority, throughput,
 * latencies, totals) with its warnings (a job waiting too long, a stuck worker, a job slower
 * than usual for its kind, a retry storm, abandoned handlers, queued jobs nobody can run, a
 * failing store), and the answers to "why is this job not running" and "in what order".
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { FINAL_STATES, JOB_STATES, type JobState } from "../shared/job.ts";
import { PRIORITIES, type Priority, priorityAt, priorityLevel } from "../shared/priority.ts";
import type {
  ExecutorSnapshot,
  IntakeState,
  PriorityDepth,
  Warning,
  WorkerSnapshot,
} from "../shared/snapshot.ts";
import type { JobCounts } from "../store/types.ts";
import type { ExecutorState, WorkerSlot } from "./_state.ts";

/** Successful runs of a kind before its p99 counts as "usual". */
const USUAL_SAMPLES = 20;
/** A job is never called slow before it has run this long. */
const SLOW_MIN_MS = 1_000;
/** Failed attempts in 10 s that make a retry storm (when half or more of attempts fail). */
const STORM_MIN_FAILURES = 10;
/** What to do about a stuck worker that is only quiet. */
export const STUCK_HINT =
  "if this job is long and quiet, call ctx.heartbeat() or set stuckAfter on its kind (or --stuck-after)";

/** Why a worker is stuck and what to do, in one line. */
function stuckMessage(silentMs: number): string {
  return `no heartbeat, progress or log for ${formatDuration(silentMs)}; ${STUCK_HINT}`;
}

/** Whether new jobs are taken and queued ones started. */
export function intakeOf(s: ExecutorState): IntakeState {
  if (s.lifecycle === "closing" || s.lifecycle === "closed") return "closed";
  return s.paused ? "paused" : "open";
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** Counts of an empty store. */
function emptyCounts(): JobCounts {
  const zero = () => Object.fromEntries(PRIORITIES.map((p) => [p, 0])) as Record<Priority, number>;
  return {
    byState: Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>,
    queuedByPriority: zero(),
    scheduledByPriority: zero(),
  };
}

/** The executor now: workers, queue depth, throughput, latencies, totals, warnings. */
export async function snapshotOf(s: ExecutorState): Promise<ExecutorSnapshot> {
  // A store that does not answer (a database that is down) still leaves a snapshot: the
  // last counts read, and a warning that says why they are old.
  let counts: JobCounts;
  let countsFailed: string | null = null;
  try {
    counts = await s.store.counts();
    s.lastCounts = counts;
  } catch (error) {
    countsFailed = errorMessage(error);
    counts = s.lastCounts ?? emptyCounts();
  }
  const now = s.options.clock();
  const oldest = s.ready.oldestReadyAt();
  const byPriority = {} as Record<Priority, PriorityDepth>;
  const warnings: Warning[] = [];
  PRIORITIES.forEach((priority, level) => {
    const readyAt = oldest[level] ?? null;
    const waitMs = readyAt === null || counts.queuedByPriority[priority] === 0
      ? null
      : Math.max(0, now - readyAt);
    byPriority[priority] = {
      queued: counts.queuedByPriority[priority],
      scheduled: counts.scheduledByPriority[priority],
      oldestWaitMs: waitMs,
    };
    if (waitMs !== null && waitMs > s.options.starvationAfterMs) {
      warnings.push({
        code: "JOB_WAITING_TOO_LONG",
        priority,
        message: `the oldest ${priority} job has waited ${formatDuration(waitMs)} (threshold ${
          formatDuration(s.options.starvationAfterMs)
        })`,
      });
    }
  });
  const workers = s.workers.map((worker) => workerSnapshot(worker, now));
  for (const worker of workers) {
    if (worker.state === "stuck" && worker.job !== null) {
      warnings.push({
        code: "WORKER_STUCK",
        message: `worker ${worker.id} running ${worker.job.kind} ${worker.job.id}: ${
          stuckMessage(worker.silentMs ?? 0)
        }`,
        workerId: worker.id,
        jobId: worker.job.id,
      });
    }
  }
  for (const worker of workers) {
    const job = worker.job;
    if (job === null || worker.state === "stuck") continue;
    const usual = s.runByKind.get(job.kind);
    if (usual === undefined || usual.count < USUAL_SAMPLES) continue;
    const p99 = usual.percentile(99);
    if (job.elapsedMs >= SLOW_MIN_MS && job.elapsedMs > 2 * p99) {
      warnings.push({
        code: "JOB_SLOWER_THAN_USUAL",
        message: `${job.kind} ${job.id} on ${worker.id} has run ${
          formatDuration(job.elapsedMs)
        }; its kind usually takes under ${formatDuration(p99)} (p99)`,
        workerId: worker.id,
        jobId: job.id,
      });
    }
  }
  const failuresPerSecond = s.failureRate.rate(10, now);
  const attemptsPerSecond = s.rate.rate(10, now);
  if (
    failuresPerSecond * 10 >= STORM_MIN_FAILURES && failuresPerSecond >= attemptsPerSecond / 2
  ) {
    warnings.push({
      code: "RETRY_STORM",
      message: `${Math.round(failuresPerSecond * 10)} attempts failed in the last 10s (${
        Math.round((failuresPerSecond / Math.max(attemptsPerSecond, 1e-9)) * 100)
      }% of attempts)`,
    });
  }
  if (s.totals.abandoned > 0) {
    warnings.push({
      code: "HANDLER_ABANDONED",
      message:
        `${s.totals.abandoned} handler(s) did not stop after their signal and were left running${
          s.lateSettlements > 0 ? ` (${s.lateSettlements} settled late)` : ""
        }`,
    });
  }
  const foreign = new Map<string, number>();
  for (const entry of s.foreign.values()) {
    foreign.set(entry.kind, (foreign.get(entry.kind) ?? 0) + 1);
  }
  for (const [kind, count] of foreign) {
    warnings.push({
      code: "UNKNOWN_KIND_QUEUED",
      message: s.shared
        ? `${count} queued job(s) of kind "${kind}" wait for a runtime that loads it (this one does not)`
        : `${count} queued job(s) of kind "${kind}" wait for a handler: start with --jobs to load it`,
    });
  }
  const failing = s.storeFailing ?? s.claimFailing ?? countsFailed;
  if (failing !== null) {
    warnings.push({
      code: "STORE_WRITE_FAILING",
      message: `the store is failing: ${failing}`,
    });
  }
  return {
    intake: intakeOf(s),
    workers,
    queue: { byPriority, byState: counts.byState },
    throughput: s.rate.summary(now),
    waitMs: s.waitTimes.summary(),
    runMs: s.runTimes.summary(),
    totals: { ...s.totals },
    warnings,
  };
}

/** Wait and run time histograms, as cumulative counts at the given bounds (ms). */
export function histogramsOf(
  s: ExecutorState,
  boundsMs: readonly number[],
): { wait: number[]; run: number[]; waitCount: number; runCount: number } {
  return {
    wait: s.waitTimes.cumulative(boundsMs),
    run: s.runTimes.cumulative(boundsMs),
    waitCount: s.waitTimes.count,
    runCount: s.runTimes.count,
  };
}

/**
 * Why a job is not running: its state, and for a waiting job every reason that holds it
 * back (delay, backoff, paused intake, its place in line, a full per-kind limit, a lease
 * held by someone else, no handler for its kind, all workers busy).
 */
export async function explainJob(
  s: ExecutorState,
  id: string,
): Promise<{ id: string; state: JobState; reasons: string[] }> {
  const record = await s.store.get(id);
  if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
  const now = s.options.clock();
  const reasons: string[] = [];
  const state = record.state;
  if (state === "running") {
    const run = s.running.get(id);
    reasons.push(
      run === undefined
        ? "it is running (on another runtime, or being claimed)"
        : `it is running on ${run.worker.id} for ${
          formatDuration(now - run.startedAt)
        } (attempt ${run.attempt})`,
    );
    return { id, state, reasons };
  }
  if (FINAL_STATES.has(state)) {
    reasons.push(
      `it is ${state}${
        record.lastError ? `: ${record.lastError.message}` : ""
      }; it will not run again`,
    );
    if (state !== "succeeded") reasons.push(`liminal jobs retry ${id} puts it back in the queue`);
    return { id, state, reasons };
  }
  if (state === "scheduled") {
    const retrying = record.attempts.length > 0;
    reasons.push(
      retrying
        ? `it waits to retry after attempt ${record.attempts.length} failed (${
          record.lastError?.message ?? "error"
        }): runs in ${formatDuration(Math.max(0, record.runAt - now))}`
        : `it is delayed: runs in ${formatDuration(Math.max(0, record.runAt - now))} (at ${
          new Date(record.runAt).toISOString()
        })`,
    );
    return { id, state, reasons };
  }
  // Queued.
  if (s.paused) {
    reasons.push(
      "intake is paused: no queued job starts until it is resumed (p in the dashboard)",
    );
  }
  if (s.lifecycle !== "running") {
    reasons.push("the runtime is shutting down: queued jobs wait for the next start");
  }
  const kind = s.kinds.get(record.kind);
  if (kind === undefined) {
    reasons.push(
      `no handler for kind "${record.kind}" is loaded: start the runtime with --jobs <module> that exports it`,
    );
  } else if (
    kind.defaults.concurrency !== null &&
    (s.runningByKind.get(record.kind) ?? 0) >= kind.defaults.concurrency
  ) {
    reasons.push(
      `kind "${record.kind}" allows ${kind.defaults.concurrency} at a time and ${
        s.runningByKind.get(record.kind)
      } are running`,
    );
  }
  for (const resource of record.leases) {
    const holder = s.leases?.holderOf(resource);
    if (holder !== undefined && holder.holder !== `job:${id}`) {
      reasons.push(
        `it needs lease ${resource}, held by ${holder.holder} (${holder.priority}) for ${
          formatDuration(Math.max(0, holder.expiresAt - now))
        } more`,
      );
    }
  }
  const waited = now - (record.readyAt ?? record.runAt);
  const effective = priorityAt(
    s.ready.effectiveLevel({
      id,
      kind: record.kind,
      level: priorityLevel(record.priority),
      seq: record.seq,
      readyAt: record.readyAt ?? now,
      leases: record.leases,
    }, now),
  );
  let ahead = 0;
  let found = false;
  for (const entry of s.ready.peekOrder(now)) {
    if (entry.id === id) {
      found = true;
      break;
    }
    ahead++;
  }
  const aged = effective !== record.priority ? `, aged to ${effective}` : "";
  if (found) {
    reasons.push(
      `it is ${ordinal(ahead + 1)} in line (${record.priority}${aged}), waiting ${
        formatDuration(waited)
      }`,
    );
  } else {
    const counts = await s.store.counts();
    const level = priorityLevel(record.priority);
    const higher = PRIORITIES.slice(level).reduce((n, p) => n + counts.queuedByPriority[p], 0);
    reasons.push(
      `it is beyond the ${s.options.window}-job window in memory, behind the oldest of the ${higher} queued job(s) of its priority or higher; waiting ${
        formatDuration(waited)
      }`,
    );
  }
  if (s.idle.length === 0) reasons.push(`all ${s.workers.length} workers are busy`);
  return { id, state, reasons };
}

/** Queued jobs waiting for a lease, by resource, in the order they would get it. */
export function leaseWaitersOf(
  s: ExecutorState,
): Map<string, { jobId: string; priority: Priority; since: number }[]> {
  const now = s.options.clock();
  const out = new Map<string, { jobId: string; priority: Priority; since: number }[]>();
  for (const key of s.ready.parkedKeys().keys()) {
    if (!key.startsWith("lease:")) continue;
    out.set(
      key.slice(6),
      s.ready.parkedUnder(key, now).map((e) => ({
        jobId: e.id,
        priority: priorityAt(e.level),
        since: e.readyAt,
      })),
    );
  }
  return out;
}

/** The queued entries in the order they would run (at most `limit`), for `jobs why`. */
export function queueOrderOf(
  s: ExecutorState,
  limit: number,
): { id: string; kind: string; priority: Priority; effective: Priority; readyAt: number }[] {
  const now = s.options.clock();
  const out = [];
  for (const entry of s.ready.peekOrder(now)) {
    if (out.length >= limit) break;
    out.push({
      id: entry.id,
      kind: entry.kind,
      priority: priorityAt(entry.level),
      effective: priorityAt(s.ready.effectiveLevel(entry, now)),
      readyAt: entry.readyAt,
    });
  }
  return out;
}

function workerSnapshot(worker: WorkerSlot, now: number): WorkerSnapshot {
  const run = worker.run;
  if (run === null) {
    return {
      id: worker.id,
      state: "idle",
      job: null,
      silentMs: null,
      done: worker.done,
      failed: worker.failed,
    };
  }
  // Pending `aliveWhile` work is life shown now.
  const silentMs = run.alive > 0 ? 0 : Math.max(0, now - worker.lastActivity);
  return {
    id: worker.id,
    state: run.stuckAfterMs !== null && silentMs >= run.stuckAfterMs ? "stuck" : "busy",
    job: {
      id: run.record.id,
      kind: run.record.kind,
      priority: run.record.priority,
      attempt: run.attempt,
      startedAt: new Date(run.startedAt).toISOString(),
      elapsedMs: Math.max(0, now - run.startedAt),
      progress: run.progress,
      aborting: run.abortReason,
    },
    silentMs,
    done: worker.done,
    failed: worker.failed,
  };
}
