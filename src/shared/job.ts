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
  /** The error's message. */
  message: string;
}

/** One run of a job's handler. Times are epoch milliseconds. */
export interface AttemptRecord {
  /** 1 for the first attempt. */
  attempt: number;
  /** The worker that ran it (`w1` …), or the node and worker with a shared store. */
  worker: string;
  /** When the attempt started (epoch ms). */
  startedAt: number;
  /** `null` while the attempt runs. */
  endedAt: number | null;
  /** `null` while the attempt runs. */
  outcome: AttemptOutcome | null;
  /** Why the attempt failed; `null` if it did not. */
  error: AttemptError | null;
}

/** Progress reported by a handler. */
export interface JobProgress {
  /** Units done. */
  done: number;
  /** Units in all; `null`: unknown. */
  total: number | null;
  /** Epoch milliseconds of the report. */
  at: number;
}

/** One line logged by a handler. */
export interface JobLogLine {
  /** Epoch milliseconds. */
  at: number;
  /** The line. */
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
  /** The job's kind name. */
  kind: string;
  /** The payload as JSON text (at most 1 MiB). */
  payload: string;
  /** The job's priority. */
  priority: Priority;
  /** `null`: no timeout. */
  timeoutMs: number | null;
  /** How many attempts may fail before the job is dead. */
  maxAttempts: number;
  /** The delay before each retry. */
  backoff: BackoffPolicy;
  /** While a job with this key is live, enqueuing the same key returns it; `null`: none. */
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
  /** The job's id (time-ordered: newer ids sort after older ones). */
  readonly id: string;
  /** Where the job is in its life. */
  state: JobState;
  /** When the job was enqueued (epoch ms). */
  createdAt: number;
  /** When the job may run (for `scheduled` jobs) or became runnable. */
  runAt: number;
  /** When the job last entered `queued`, or `null` when it is not queued. */
  readyAt: number | null;
  /** Its place in the queue: increases every time a job enters `queued`. */
  seq: number;
  /** Every attempt so far, oldest first. */
  attempts: AttemptRecord[];
  /** Failed attempts (failures and timeouts) counted against `maxAttempts` since the last retry. */
  failures: number;
  /** Attempts cut short by a shutdown or crash (they do not count against `maxAttempts`). */
  interruptions: number;
  /** The last progress reported, if any. */
  progress: JobProgress | null;
  /** The last lines the handler logged (at most {@link MAX_LOG_LINES}). */
  logs: JobLogLine[];
  /** The handler's result as JSON text, once succeeded. */
  result: string | null;
  /** The last attempt's error. */
  lastError: AttemptError | null;
  /** When the job reached a final state (epoch ms); `null` while live. */
  finishedAt: number | null;
  /** When the record last changed (epoch ms). */
  updatedAt: number;
}

/** How many log lines a job keeps. */
export const MAX_LOG_LINES = 100;

/** A job as the control API, `--json` output and the TUI show it: times as ISO-8601 text. */
export interface JobSnapshot {
  /** The job's id. */
  id: string;
  /** The job's kind name. */
  kind: string;
  /** Where the job is in its life. */
  state: JobState;
  /** The job's priority. */
  priority: Priority;
  /** The payload. */
  payload: JsonValue;
  /** The job's unique key, if it has one. */
  uniqueKey: string | null;
  /** Territory leases the job holds while it runs. */
  leases: string[];
  /** Timeout of an attempt in ms; `null`: none. */
  timeoutMs: number | null;
  /** How many attempts may fail before the job is dead. */
  maxAttempts: number;
  /** The delay before each retry. */
  backoff: BackoffPolicy;
  /** When the job was enqueued (ISO 8601). */
  createdAt: string;
  /** When it may run (ISO 8601). */
  runAt: string;
  /** When it last entered `queued` (ISO 8601), if it did. */
  readyAt: string | null;
  /** When it reached a final state (ISO 8601); `null` while live. */
  finishedAt: string | null;
  /** When it last changed (ISO 8601). */
  updatedAt: string;
  /** Attempts made so far. */
  attempt: number;
  /** Failed attempts counted against `maxAttempts` since the last retry. */
  failures: number;
  /** Every attempt so far, oldest first. */
  attempts: AttemptSnapshot[];
  /** The last progress reported, if any (`at`: ISO 8601). */
  progress: { done: number; total: number | null; at: string } | null;
  /** The job's log lines, oldest first (`at`: ISO 8601). */
  logs: { at: string; message: string }[];
  /** What the handler returned, once succeeded; `null` before. */
  result: JsonValue;
  /** The last attempt's error, if any. */
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
  /** The attempt's number: 1 for the first. */
  attempt: number;
  /** The worker that ran it. */
  worker: string;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** When it ended (ISO 8601); `null` while it runs. */
  endedAt: string | null;
  /** How long it ran, once ended. */
  durationMs: number | null;
  /** How it ended; `null` while it runs. */
  outcome: AttemptOutcome | null;
  /** Why it failed, if it did. */
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
