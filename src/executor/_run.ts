/**
 * A run: one attempt of a job on a worker. It starts with its context (signal, progress, log,
 * heartbeat, `aliveWhile`, send), may be aborted (timeout, cancel, shutdown, preemption) and,
 * when its handler does not stop within its kill deadline, is abandoned. One watchdog timer,
 * armed for the earliest deadline of every run (timeout, kill, stuck), enforces them.
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import type { JsonValue } from "../shared/json.ts";
import type { ClaimedJob } from "../store/types.ts";
import { STUCK_HINT } from "./_diagnostics.ts";
import { abandon, settle } from "./_settle.ts";
import { type ExecutorState, MAX_TIMER_MS, type WorkerSlot } from "./_state.ts";
import { type JobContext, type JobKind, PermanentJobError } from "./job_kind.ts";

/** Why a run's signal aborted. */
export type AbortReason = "timeout" | "cancelled" | "shutdown" | "preempted";

/** One attempt of a job on a worker. */
export class Run {
  readonly controller = new AbortController();
  deadline = Number.POSITIVE_INFINITY;
  killAt = Number.POSITIVE_INFINITY;
  abortReason: AbortReason | null = null;
  /** The job's own killAfter (from its payload), or `null` for its kind's. */
  killAfterMs: number | null = null;
  /** Settled or abandoned: later settlements of the handler are ignored. */
  over = false;
  /** It failed with an error that says retrying cannot help (the job is dead). */
  permanent = false;
  /** Silence after which its worker is stuck (its kind's, else the executor's); `null`: never. */
  stuckAfterMs: number | null = null;
  /** `aliveWhile` work pending: while any is, the job shows life. */
  alive = 0;
  progress: { done: number; total: number | null } | null = null;
  constructor(
    readonly record: ClaimedJob,
    readonly worker: WorkerSlot,
    readonly attempt: number,
    readonly startedAt: number,
    readonly startedMono: number,
  ) {}
}

/**
 * A running job lost a lease it holds to a higher-priority requester: its signal aborts
 * (reason `JOB_INTERRUPTED`, with `why`) and it is queued again when its handler settles.
 */
export function preemptJob(s: ExecutorState, id: string, why: string): boolean {
  const run = s.running.get(id);
  if (run === undefined) {
    if (!s.claimingIds.has(id)) return false;
    // Its claim is in flight: it is stopped as soon as it starts.
    s.preemptOnStart.set(id, why);
    return true;
  }
  s.preemptedBy.set(id, why);
  abort(s, run, "preempted", s.options.clock(), killAfter(s, run));
  s.preemptedBy.delete(id);
  return true;
}

function parsePayloadText(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Starts a claimed job on its worker: a new run, its deadlines armed, its handler called with its
 * context.
 */
export function start(
  s: ExecutorState,
  worker: WorkerSlot,
  record: ClaimedJob,
  at: number,
  mono: number,
  waitMs: number,
): void {
  const attempt = record.attempt;
  const run = new Run(record, worker, attempt, at, mono);
  worker.reserved = false;
  worker.run = run;
  worker.lastActivity = at;
  worker.stuck = false;
  s.running.set(record.id, run);
  s.totals.started++;
  if (record.timeoutMs !== null) {
    run.deadline = at + record.timeoutMs;
    if (run.deadline < s.watchdogAt) armWatchdog(s, run.deadline);
  }
  const stuckAfterMs = s.kinds.get(record.kind)?.stuckAfterMs;
  run.stuckAfterMs = stuckAfterMs === undefined ? s.options.stuckAfterMs : stuckAfterMs;
  armStuck(s, run, at);
  if (s.events.has("job:started")) {
    s.events.emit("job:started", {
      id: record.id,
      kind: record.kind,
      priority: record.priority,
      attempt,
      worker: worker.id,
      waitMs,
    });
  }
  if (s.cancelOnStart.delete(record.id)) {
    abort(s, run, "cancelled", at, killAfter(s, run));
  }
  const preempted = s.preemptOnStart.get(record.id);
  if (preempted !== undefined) {
    s.preemptOnStart.delete(record.id);
    s.preemptedBy.set(record.id, preempted);
    abort(s, run, "preempted", at, killAfter(s, run));
    s.preemptedBy.delete(record.id);
  }
  if (run.abortReason !== null) {
    // Cancelled or preempted before it began: its handler is never called (it could not
    // have heard a signal that aborted before it listened).
    settle(s, run, false, run.controller.signal.reason);
    return;
  }

  const kind = s.kinds.get(record.kind);
  let returned: unknown;
  try {
    if (kind === undefined) {
      throw new PermanentJobError(`unknown job kind "${record.kind}"`);
    }
    const payload = kind.parsePayload(parsePayloadText(record.payload));
    run.killAfterMs = kind.killAfterOf?.(payload) ?? null;
    const ctx = context(s, run, kind, payload);
    returned = kind.handler(ctx);
  } catch (error) {
    settle(
      s,
      run,
      false,
      error instanceof LiminalError && error.code === "INVALID_PAYLOAD"
        ? new PermanentJobError(error.message)
        : error,
    );
    return;
  }
  if (isThenable(returned)) {
    returned.then(
      (value) => settle(s, run, true, value),
      (error) => settle(s, run, false, error),
    );
  } else {
    settle(s, run, true, returned);
  }
}

function context(
  s: ExecutorState,
  run: Run,
  kind: JobKind,
  payload: unknown,
): JobContext<unknown> {
  const record = run.record;
  const worker = run.worker;
  const clock = s.options.clock;
  const touch = () => {
    if (run.over) return;
    worker.lastActivity = clock();
    if (worker.stuck) {
      worker.stuck = false;
      s.events.emit("worker:recovered", { worker: worker.id, jobId: record.id });
    }
  };
  return {
    job: {
      id: record.id,
      kind: kind.kind,
      priority: record.priority,
      attempt: run.attempt,
      maxAttempts: record.maxAttempts,
      createdAt: record.createdAt,
      worker: worker.id,
    },
    payload,
    signal: run.controller.signal,
    attempt: run.attempt,
    progress: (done: number, total?: number) => {
      if (run.over) return;
      if (!Number.isFinite(done) || (total !== undefined && !Number.isFinite(total))) return;
      touch();
      run.progress = { done, total: total ?? null };
      void s.store.recordProgress(record.id, { done, total: total ?? null, at: clock() })
        .catch((error) => s.events.emit("store:error", { operation: "recordProgress", error }));
      if (s.events.has("job:progress")) {
        s.events.emit("job:progress", { id: record.id, done, total: total ?? null });
      }
    },
    log: (message: string) => {
      if (run.over) return;
      touch();
      const text = String(message).slice(0, 4_000);
      void s.store.appendLog(record.id, { at: clock(), message: text }).catch((error) =>
        s.events.emit("store:error", { operation: "appendLog", error })
      );
      if (s.events.has("job:log")) {
        s.events.emit("job:log", { id: record.id, message: text });
      }
    },
    heartbeat: touch,
    aliveWhile: <T>(work: PromiseLike<T>): Promise<T> => {
      const pending = Promise.resolve(work);
      if (run.over) return pending;
      touch();
      run.alive++;
      return pending.finally(() => {
        run.alive--;
        if (run.over || run.alive > 0) return;
        // Its silence counts from here.
        touch();
        armStuck(s, run, worker.lastActivity);
      });
    },
    send: (to, type, payload, options = {}) => {
      const messenger = s.options.messenger;
      if (messenger === null) {
        return Promise.reject(
          new LiminalError("ROUTER_CLOSED", "this executor has no router to send through"),
        );
      }
      touch();
      return messenger(`job:${kind.kind}`, to, type, payload, options);
    },
  };
}

/**
 * Aborts a run's signal for `reason` and arms its kill deadline; a later abort may only tighten
 * the deadline.
 */
export function abort(
  s: ExecutorState,
  run: Run,
  reason: AbortReason,
  now: number,
  killAfterMs: number,
): void {
  if (run.over || run.abortReason !== null) {
    // A shutdown or cancel may tighten an earlier deadline, never loosen it.
    if (!run.over && now + killAfterMs < run.killAt) {
      run.killAt = now + killAfterMs;
      if (run.killAt < s.watchdogAt) armWatchdog(s, run.killAt);
    }
    if (!run.over && reason === "cancelled" && run.abortReason === "timeout") {
      run.abortReason = "cancelled";
    }
    return;
  }
  run.abortReason = reason;
  run.killAt = now + killAfterMs;
  const code = reason === "timeout"
    ? "JOB_TIMEOUT"
    : reason === "cancelled"
    ? "JOB_CANCELLED"
    : "JOB_INTERRUPTED";
  const message = reason === "timeout"
    ? `timed out after ${formatDuration(run.record.timeoutMs ?? 0)}`
    : reason === "cancelled"
    ? "the job was cancelled"
    : reason === "preempted"
    ? (s.preemptedBy.get(run.record.id) ?? "a higher-priority holder took one of its leases")
    : "the runtime is shutting down";
  run.controller.abort(new LiminalError(code, message));
  if (run.killAt < s.watchdogAt) armWatchdog(s, run.killAt);
}

/** Wakes the watchdog when `run` would be stuck, counting its silence from `from`. */
function armStuck(s: ExecutorState, run: Run, from: number): void {
  if (run.stuckAfterMs === null) return;
  const stuckAt = from + run.stuckAfterMs;
  if (stuckAt < s.watchdogAt) armWatchdog(s, stuckAt);
}

/**
 * How long a run's handler has to stop after its signal: the job's own, its kind's, else the
 * executor's.
 */
export function killAfter(s: ExecutorState, run: Run): number {
  return run.killAfterMs ?? s.kinds.get(run.record.kind)?.defaults.killAfterMs ??
    s.options.killAfterMs;
}

/**
 * The kill-after a run's job sets itself (from its payload, e.g. a `command`'s `killGrace`)
 * or its kind declares, or `null` when it takes the executor's.
 */
export function ownKillAfter(s: ExecutorState, run: Run): number | null {
  return run.killAfterMs ?? s.kinds.get(run.record.kind)?.defaults.killAfterMs ?? null;
}

function armWatchdog(s: ExecutorState, at: number): void {
  if (s.lifecycle === "closed") return;
  if (s.watchdogTimer !== undefined) clearTimeout(s.watchdogTimer);
  s.watchdogAt = at;
  const delay = Math.min(Math.max(0, at - s.options.clock()), MAX_TIMER_MS);
  s.watchdogTimer = setTimeout(s.watchdogTask, delay);
}

/**
 * The watchdog fired: times out, abandons and marks stuck whatever is due, then arms the next
 * deadline.
 */
export function onWatchdog(s: ExecutorState): void {
  s.watchdogTimer = undefined;
  s.watchdogAt = Number.POSITIVE_INFINITY;
  const now = s.options.clock();
  let next = Number.POSITIVE_INFINITY;
  for (const run of [...s.running.values()]) {
    if (run.over) continue;
    if (run.abortReason === null && now >= run.deadline) {
      abort(s, run, "timeout", now, killAfter(s, run));
    } else if (run.abortReason !== null && now >= run.killAt) {
      abandon(s, run, now);
      continue;
    }
    const worker = run.worker;
    // Never stuck: a kind with `stuckAfter: null`, or `aliveWhile` work pending.
    const stuckAt = run.stuckAfterMs === null || run.alive > 0
      ? Number.POSITIVE_INFINITY
      : worker.lastActivity + run.stuckAfterMs;
    if (!worker.stuck && now >= stuckAt) {
      worker.stuck = true;
      s.events.emit("worker:stuck", {
        worker: worker.id,
        jobId: run.record.id,
        kind: run.record.kind,
        silentMs: now - worker.lastActivity,
        stuckAfterMs: run.stuckAfterMs!,
        hint: STUCK_HINT,
      });
    }
    if (run.abortReason === null) next = Math.min(next, run.deadline);
    else next = Math.min(next, run.killAt);
    if (!worker.stuck) next = Math.min(next, stuckAt);
  }
  if (next !== Number.POSITIVE_INFINITY && next < s.watchdogAt) armWatchdog(s, next);
}
