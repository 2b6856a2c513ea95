/**
 * Settling: a handler settled (or was abandoned), so its job goes where the rules say:
 * `succeeded`, `cancelled`, back to `scheduled` with backoff, `dead`, or `queued` again after
 * an interruption. Settlements are written to the store in one batch per microtask (retried
 * while the store fails); a job's events fire and its waiters resolve only after its
 * settlement is committed. The idle and settled waiters live here too.
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import {
  type AttemptError,
  type AttemptOutcome,
  FINAL_STATES,
  type JobRecord,
  type JobState,
} from "../shared/job.ts";
import { serializePayload } from "../shared/json.ts";
import { givingUpMessage, interruptedTooOften } from "../store/types.ts";
import type { NextState, ReadyEntry, RecoveredDead, Settlement } from "../store/types.ts";
import { freeWorker, releaseKind, scheduleDispatch } from "./_dispatch.ts";
import { killAfter, type Run } from "./_run.ts";
import type { ExecutorState } from "./_state.ts";
import { armDue, offer } from "./_windows.ts";
import { PermanentJobError } from "./job_kind.ts";
import { LatencyHistogram } from "./metrics.ts";
import { backoffDelay } from "./retry_policy.ts";

/** A settlement waiting to be written. */
export interface PendingSettlement {
  settlement: Settlement;
  /** Runs once the settlement is committed. */
  after: () => void;
}

/** A handler settled: decide where its job goes. */
export function settle(s: ExecutorState, run: Run, ok: boolean, value: unknown): void {
  if (run.over) {
    s.lateSettlements++;
    return;
  }
  const now = s.options.clock();
  const durationMs = performance.now() - run.startedMono;
  const reason = run.abortReason;
  if (ok && (reason === null || reason === "shutdown" || reason === "preempted")) {
    let result: string | null;
    try {
      result = value === undefined ? null : serializePayload(value, "result");
    } catch (error) {
      result = null;
      void s.store.appendLog(run.record.id, {
        at: now,
        message: `result dropped: ${errorMessage(error)}`,
      });
    }
    end(s, run, now, durationMs, "succeeded", null, result, "succeeded");
    return;
  }
  if (reason === "cancelled") {
    end(
      s,
      run,
      now,
      durationMs,
      "cancelled",
      { code: "JOB_CANCELLED", message: "cancelled while running" },
      null,
      "cancelled",
    );
    return;
  }
  if (reason === "shutdown" || reason === "preempted") {
    endInterrupted(
      s,
      run,
      now,
      durationMs,
      reason === "shutdown"
        ? `stopped by the shutdown: ${errorMessage(value)}`
        : errorMessage(value),
    );
    return;
  }
  if (reason === "timeout") {
    endFailed(s, run, now, durationMs, "timeout", {
      code: "JOB_TIMEOUT",
      message: `timed out after ${formatDuration(run.record.timeoutMs ?? 0)}`,
    }, false);
    return;
  }
  endFailed(s, run, now, durationMs, "failed", {
    code: value instanceof LiminalError ? value.code : "JOB_FAILED",
    message: errorMessage(value),
  }, value instanceof PermanentJobError);
}

/** The handler did not settle in time after its signal: free its worker. */
export function abandon(s: ExecutorState, run: Run, now: number): void {
  if (run.over) return;
  const reason = run.abortReason ?? "shutdown";
  s.totals.abandoned++;
  s.events.emit("job:abandoned", {
    id: run.record.id,
    kind: run.record.kind,
    worker: run.worker.id,
    reason,
  });
  const durationMs = performance.now() - run.startedMono;
  const note = `; the handler did not stop within ${
    formatDuration(killAfter(s, run))
  } and was abandoned`;
  if (reason === "cancelled") {
    end(
      s,
      run,
      now,
      durationMs,
      "cancelled",
      { code: "JOB_CANCELLED", message: `cancelled while running${note}` },
      null,
      "cancelled",
    );
  } else if (reason === "timeout") {
    endFailed(s, run, now, durationMs, "timeout", {
      code: "JOB_TIMEOUT",
      message: `timed out after ${formatDuration(run.record.timeoutMs ?? 0)}${note}`,
    }, false);
  } else {
    endInterrupted(
      s,
      run,
      now,
      durationMs,
      "stopped by the shutdown; the handler did not stop in time",
    );
  }
}

function endFailed(
  s: ExecutorState,
  run: Run,
  now: number,
  durationMs: number,
  outcome: AttemptOutcome,
  error: AttemptError,
  permanent: boolean,
): void {
  const failures = run.record.failures + 1;
  let next: NextState;
  let retryAt: number | null = null;
  // A job that will not run again is dead, whatever ended it: `failed` is the attempt's
  // outcome, not a state the job rests in.
  run.permanent = permanent;
  if (permanent || failures >= run.record.maxAttempts) next = "dead";
  else {
    next = "scheduled";
    retryAt = now + backoffDelay(run.record.backoff, failures, s.options.random);
  }
  end(s, run, now, durationMs, outcome, error, null, next, retryAt);
}

function endInterrupted(
  s: ExecutorState,
  run: Run,
  now: number,
  durationMs: number,
  message: string,
): void {
  const interruptions = run.record.interruptions + 1;
  const exhausted = interruptedTooOften(interruptions, s.options.maxInterruptions);
  end(
    s,
    run,
    now,
    durationMs,
    "interrupted",
    {
      code: "JOB_INTERRUPTED",
      message: exhausted ? givingUpMessage(message, interruptions) : message,
    },
    null,
    exhausted ? "dead" : "queued",
  );
}

/**
 * Ends a run: frees its worker and kind slot, counts it, and queues its settlement, whose events
 * and waiters follow the commit.
 */
export function end(
  s: ExecutorState,
  run: Run,
  now: number,
  durationMs: number,
  outcome: AttemptOutcome,
  error: AttemptError | null,
  result: string | null,
  next: NextState,
  retryAt: number | null = null,
): void {
  run.over = true;
  const record = run.record;
  const worker = run.worker;
  s.running.delete(record.id);
  releaseKind(s, record.kind);
  if (record.leases.length > 0 && s.leases !== null) {
    void s.leases.releaseJob(record.id).catch((error: unknown) =>
      s.events.emit("store:error", { operation: "release leases", error })
    );
  }
  if (worker.stuck) {
    s.events.emit("worker:recovered", { worker: worker.id, jobId: record.id });
  }
  if (outcome === "succeeded") worker.done++;
  else if (outcome === "failed" || outcome === "timeout") worker.failed++;
  freeWorker(s, worker);
  s.runTimes.record(durationMs);
  s.rate.add(now);
  if (outcome === "succeeded") {
    let usual = s.runByKind.get(record.kind);
    if (usual === undefined) s.runByKind.set(record.kind, usual = new LatencyHistogram());
    usual.record(durationMs);
  } else if (outcome === "failed" || outcome === "timeout") {
    s.failureRate.add(now);
  }
  const totals = s.totals;
  switch (outcome) {
    case "succeeded":
      totals.succeeded++;
      break;
    case "cancelled":
      totals.cancelled++;
      break;
    case "interrupted":
      totals.interrupted++;
      break;
    default:
      totals.failedAttempts++;
      if (outcome === "timeout") totals.timedOut++;
      if (next === "scheduled") totals.retried++;
      else if (next === "dead") totals.dead++;
  }
  if (outcome === "interrupted" && next === "dead") totals.dead++;
  const settlement: Settlement = {
    id: record.id,
    attempt: run.attempt,
    endedAt: now,
    outcome,
    error,
    result,
    next,
  };
  if (retryAt !== null) settlement.runAt = retryAt;
  const events = s.events;
  const after = () => {
    // Its kind may have been refused a claim for its cluster-wide limit while this job's
    // end was not yet written: there is room now.
    s.endsWritten++;
    if (s.busyKinds.size > 0 && s.busyKinds.delete(record.kind)) {
      scheduleDispatch(s);
    }
    switch (outcome) {
      case "succeeded":
        if (events.has("job:succeeded")) {
          events.emit("job:succeeded", {
            id: record.id,
            kind: record.kind,
            attempt: run.attempt,
            worker: worker.id,
            durationMs,
          });
        }
        break;
      case "cancelled":
        events.emit("job:cancelled", { id: record.id, kind: record.kind, running: true });
        break;
      case "interrupted":
        events.emit("job:interrupted", {
          id: record.id,
          kind: record.kind,
          attempt: run.attempt,
          worker: worker.id,
          requeued: next === "queued",
        });
        break;
      default:
        events.emit("job:failed", {
          id: record.id,
          kind: record.kind,
          attempt: run.attempt,
          worker: worker.id,
          durationMs,
          error: error!,
          next: next as "scheduled" | "dead",
          retryAt,
        });
    }
    if (next === "dead") {
      events.emit("job:dead", {
        id: record.id,
        kind: record.kind,
        attempt: run.attempt,
        worker: worker.id,
        error: error!,
        reason: outcome === "interrupted"
          ? "interrupted"
          : run.permanent
          ? "permanent"
          : "exhausted",
      });
    }
    if (next === "scheduled" && retryAt !== null && s.lifecycle === "running") {
      armDue(s, retryAt);
    }
    if (FINAL_STATES.has(next as JobState) && s.waiters.has(record.id)) {
      void s.store.get(record.id).then((stored) => stored && resolveWaiters(s, stored));
    }
  };
  s.pending.push({ settlement, after });
  scheduleFlush(s);
  scheduleDispatch(s);
  notifySettled(s);
}

function scheduleFlush(s: ExecutorState): void {
  if (s.flushQueued || s.flushing !== null || s.flushRetryTimer !== undefined) return;
  s.flushQueued = true;
  queueMicrotask(() => {
    s.flushQueued = false;
    void flush(s);
  });
}

/** Writes pending settlements; resolves when none is pending or in flight. */
export function flush(s: ExecutorState): Promise<void> {
  if (s.flushing !== null) {
    return s.flushing.then(() => (s.pending.length > 0 ? flush(s) : undefined));
  }
  if (s.pending.length === 0) return Promise.resolve();
  s.flushing = writePending(s).finally(() => {
    s.flushing = null;
    // Settlements may have arrived after the last loop of writePending.
    if (s.pending.length > 0) scheduleFlush(s);
    else notifyIdle(s);
  });
  return s.flushing;
}

async function writePending(s: ExecutorState): Promise<void> {
  while (s.pending.length > 0) {
    const batch = s.pending;
    s.pending = [];
    let requeued: ReadyEntry[];
    try {
      requeued = await s.store.settle(batch.map((p) => p.settlement));
    } catch (error) {
      // Keep the settlements (the jobs stay running in the store) and try again.
      s.pending = batch.concat(s.pending);
      s.storeFailing = errorMessage(error);
      s.events.emit("store:error", { operation: "settle", error });
      if (s.lifecycle === "closed") return;
      s.flushRetryMs = Math.min(Math.max(s.flushRetryMs * 2, 50), 5_000);
      await new Promise<void>((resolve) => {
        s.flushRetryTimer = setTimeout(() => {
          s.flushRetryTimer = undefined;
          resolve();
        }, s.flushRetryMs);
      });
      continue;
    }
    s.flushRetryMs = 0;
    s.storeFailing = null;
    const mono = performance.now();
    for (const entry of requeued) offer(s, entry, mono);
    for (const pending of batch) pending.after();
    if (requeued.length > 0) scheduleDispatch(s);
  }
  notifyIdle(s);
}

/** Resolves every `waitFor` of a job with its final record. */
export function resolveWaiters(s: ExecutorState, record: JobRecord): void {
  const list = s.waiters.get(record.id);
  if (list === undefined) return;
  s.waiters.delete(record.id);
  for (const resolve of list) resolve(record);
}

/** Forgets one `waitFor` of a job (it was answered or aborted). */
export function dropWaiter(
  s: ExecutorState,
  id: string,
  waiter: (record: JobRecord) => void,
): void {
  const list = s.waiters.get(id);
  if (list === undefined) return;
  const next = list.filter((w) => w !== waiter);
  if (next.length === 0) s.waiters.delete(id);
  else s.waiters.set(id, next);
}

/** Whether nothing runs, is being claimed or written, and nothing runnable waits in memory. */
export function isIdle(s: ExecutorState): boolean {
  return s.running.size === 0 && s.claiming === 0 && s.pending.length === 0 &&
    s.flushing === null &&
    (s.ready.size === s.ready.parkedSize || s.lifecycle !== "running" || s.paused);
}

/** Resolves the `onIdle()` waiters once the executor is idle. */
export function notifyIdle(s: ExecutorState): void {
  if (s.idleWaiters.length === 0 || !isIdle(s)) return;
  const waiters = s.idleWaiters;
  s.idleWaiters = [];
  for (const resolve of waiters) resolve();
}

function notifySettled(s: ExecutorState): void {
  if (s.running.size > 0 || s.claiming > 0) return;
  const waiters = s.settledWaiters;
  s.settledWaiters = [];
  for (const resolve of waiters) resolve();
}

/** Resolves when nothing runs, or after `ms`, or on `signal`. Leaves no timer behind. */
export function untilSettledOr(s: ExecutorState, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener("abort", done);
      s.settledWaiters = s.settledWaiters.filter((w) => w !== done);
      resolve();
    };
    if (signal?.aborted) return resolve();
    signal?.addEventListener("abort", done, { once: true });
    s.settledWaiters.push(done);
    timer = setTimeout(done, Math.max(0, ms));
  });
}

/**
 * Announces jobs a recovery moved to `dead` (interrupted too often by crashes: see
 * `JobStore.recoverInterrupted`): `job:dead` for each, as if its last attempt had settled
 * here (`worker` is `"recovery"`), and whoever waits for them here is answered.
 */
export function announceDead(s: ExecutorState, jobs: readonly RecoveredDead[]): void {
  for (const job of jobs) {
    s.events.emit("job:dead", {
      id: job.id,
      kind: job.kind,
      attempt: job.attempt,
      worker: "recovery",
      error: job.error,
      reason: "interrupted",
    });
    if (s.waiters.has(job.id)) {
      void s.store.get(job.id).then(
        (record) => record !== null && resolveWaiters(s, record),
        (error) => s.events.emit("store:error", { operation: "get", error }),
      );
    }
  }
}
