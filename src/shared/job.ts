/**
 * The job vocabulary shared by the executor, the stores, the control plane and the TUI.
 *
 * A job moves through these states:
 *
 * ```
 * scheduled ──(run-at reached)──► queued ──(claimed by a worker)──► running
 * running ──► succeeded
 *         ──► scheduled   (attempt failed, attempts left: retry after backoff)
 *         ──► dead        (attempt failed and the job will not run again: no attempts left,
 *                          a permanent error, an unknown kind, or interrupted too often)
 *         ──► cancelled   (cancelled while it ran)
 *         ──► queued      (interrupted by a shutdown or a crash: at-least-once)
 * scheduled | queued ──(cancel)──► cancelled
 * dead | cancelled ──(retry)──► queued
 * ```
 *
 * `failed` is how an attempt ends ({@link AttemptOutcome}), never a state a job rests in: a
 * job whose attempt failed is either `scheduled` again (it will retry) or `dead`. Stores
 * written by older versions may hold jobs in a `failed` state; they read as `dead`
 * ({@link storedJobState}) and the stores' migrations move them.
 *
 * @module
 */
import type { JsonValue } from "./json.ts";
import type { Priority } from "./priority.ts";

/** Every job state. */
export const JOB_STATES = [
  "scheduled",
  "queued",
  "running",
  "succeeded",
  "dead",
  "cancelled",
] as const;

/** A job state. */
export type JobState = typeof JOB_STATES[number];

/** States a job never leaves on its own. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set([
  "succeeded",
  "dead",
  "cancelled",
]);

/** Whether `value` names a job state. */
export function isJobState(value: unknown): value is JobState {
  return typeof value === "string" && (JOB_STATES as readonly string[]).includes(value);
}

/**
 * A state as a store keeps it, as this version reads it: the `failed` state of older versions
 * (a job that failed for good) is `dead`.
 */
export function storedJobState(text: string): JobState {
  return text === "failed" ? "dead" : text as JobState;
}

/** How an attempt ended. */
export type AttemptOutcome =
  | "succeeded"
  | "failed"
  | "timeout"
  | "cancelled"
  | "interrupted";

/** The error an attempt ended with. */
export interface AttemptError {
  /** A stable code: `JOB_TIMEOUT`, `JOB_CANCELLED`, `JOB_INTERRUPTED`, or `JOB_FAILED`. */
  code: string;
  message: string;
}

/** One run of a job's handler. Times are epoch milliseconds. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  attempt: number;
  /** The worker that ran it (`w1` …), or the node and worker with a shared store. */
  worker: string;
  startedAt: number;
  /** `null` while the attempt runs. */
  endedAt: number | null;
  /** `null` while the attempt runs. */
  outcome: AttemptOutcome | null;
  error: AttemptError | null;
}

/** Progress reported by a handler. */
export interface JobProgress {
  done: number;
  total: number | null;
  /** Epoch milliseconds of the report. */
  at: number;
}

/** One line logged by a handler. */
export interface JobLogLine {
  /** Epoch milliseconds. */
  at: number;
  message: string;
}

/** Exponential backoff with full jitter between attempts, in milliseconds. */
export interface BackoffPolicy {
  /** The ceiling of the first retry's delay. */
  baseMs: number;
  /** The largest ceiling. */
  maxMs: number;
}

/** The resolved, storable specification of a job: every default applied. */
export interface JobDefinition {
  kind: string;
  /** The payload as JSON text (at most 1 MiB). */
  payload: string;
  priority: Priority;
  /** `null`: no timeout. */
  timeoutMs: number | null;
  /** How many attempts may fail before the job is dead. */
  maxAttempts: number;
  backoff: BackoffPolicy;
  uniqueKey: string | null;
  /** Territory leases the job must hold to run (empty: none). */
  leases: string[];
}

/**
 * A job as the store keeps it. Times are epoch milliseconds.
 *
 * Records returned by a store are read-only to everyone else: change a job through the
 * store's verbs.
 */
export interface JobRecord extends JobDefinition {
  readonly id: string;
  state: JobState;
  createdAt: number;
  /** When the job may run (for `scheduled` jobs) or became runnable. */
  runAt: number;
  /** When the job last entered `queued`, or `null` when it is not queued. */
  readyAt: number | null;
  /** Its place in the queue: increases every time a job enters `queued`. */
  seq: number;
  attempts: AttemptRecord[];
  /** Failed attempts (failures and timeouts) counted against `maxAttempts` since the last retry. */
  failures: number;
  /** Attempts cut short by a shutdown or crash (they do not count against `maxAttempts`). */
  interruptions: number;
  progress: JobProgress | null;
  /** The last lines the handler logged (at most {@link MAX_LOG_LINES}). */
  logs: JobLogLine[];
  /** The handler's result as JSON text, once succeeded. */
  result: string | null;
  /** The last attempt's error. */
  lastError: AttemptError | null;
  finishedAt: number | null;
  updatedAt: number;
}

/** How many log lines a job keeps. */
export const MAX_LOG_LINES = 100;

/** A job as the control API, `--json` output and the TUI show it: times as ISO-8601 text. */
export interface JobSnapshot {
  id: string;
  kind: string;
  state: JobState;
  priority: Priority;
  payload: JsonValue;
  uniqueKey: string | null;
  leases: string[];
  timeoutMs: number | null;
  maxAttempts: number;
  backoff: BackoffPolicy;
  createdAt: string;
  runAt: string;
  readyAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
  /** Attempts made so far. */
  attempt: number;
  /** Failed attempts counted against `maxAttempts` since the last retry. */
  failures: number;
  attempts: AttemptSnapshot[];
  progress: { done: number; total: number | null; at: string } | null;
  logs: { at: string; message: string }[];
  result: JsonValue;
  error: AttemptError | null;
}

/**
 * The job's last error when it belongs to its present state: it ended badly or waits to
 * retry. A job running or queued again (retried) shows no error of an earlier life.
 */
export function presentError(job: JobSnapshot): AttemptError | null {
  return job.state === "dead" || job.state === "cancelled" || job.state === "scheduled"
    ? job.error
    : null;
}

/** An attempt as {@link JobSnapshot} shows it. */
export interface AttemptSnapshot {
  attempt: number;
  worker: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  outcome: AttemptOutcome | null;
  error: AttemptError | null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function parseStored(text: string | null): JsonValue {
  if (text === null) return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

/** The JSON view of a stored job. */
export function toJobSnapshot(record: JobRecord): JobSnapshot {
  return {
    id: record.id,
    kind: record.kind,
    state: record.state,
    priority: record.priority,
    payload: parseStored(record.payload),
    uniqueKey: record.uniqueKey,
    leases: [...record.leases],
    timeoutMs: record.timeoutMs,
    maxAttempts: record.maxAttempts,
    backoff: { ...record.backoff },
    createdAt: iso(record.createdAt),
    runAt: iso(record.runAt),
    readyAt: record.readyAt === null ? null : iso(record.readyAt),
    finishedAt: record.finishedAt === null ? null : iso(record.finishedAt),
    updatedAt: iso(record.updatedAt),
    attempt: record.attempts.length,
    failures: record.failures,
    attempts: record.attempts.map((a) => ({
      attempt: a.attempt,
      worker: a.worker,
      startedAt: iso(a.startedAt),
      endedAt: a.endedAt === null ? null : iso(a.endedAt),
      durationMs: a.endedAt === null ? null : a.endedAt - a.startedAt,
      outcome: a.outcome,
      error: a.error === null ? null : { ...a.error },
    })),
    progress: record.progress === null ? null : {
      done: record.progress.done,
      total: record.progress.total,
      at: iso(record.progress.at),
    },
    logs: record.logs.map((line) => ({ at: iso(line.at), message: line.message })),
    result: parseStored(record.result),
    error: record.lastError === null ? null : { ...record.lastError },
  };
}
