/**
 * The job state rules every store applies, and their errors, written once: which jobs can
 * be cancelled or retried, what a cancelled or interrupted job records, how an attempt's
 * outcome counts against its job.
 *
 * ```
 * cancel: scheduled | queued → cancelled (at once)   running → unchanged (the executor aborts it)
 *         succeeded | dead | cancelled → INVALID_JOB_STATE
 * retry:  dead | cancelled → queued (failures reset)  anything else → INVALID_JOB_STATE
 * ```
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import type { AttemptError, AttemptOutcome, JobState } from "../shared/job.ts";

/** The states in which a job holds its unique key. */
export const LIVE_STATES: readonly JobState[] = ["scheduled", "queued", "running"];

/** `LIVE_STATES` as a set. */
export const LIVE: ReadonlySet<JobState> = new Set(LIVE_STATES);

/** The error a job cancelled before it ran records. */
export const CANCELLED_BEFORE_RUN: Readonly<AttemptError> = Object.freeze({
  code: "JOB_CANCELLED",
  message: "cancelled before it ran",
});

/** The error an attempt cut short by a runtime that stopped records. */
export const INTERRUPTED_BY_STOP: Readonly<AttemptError> = Object.freeze({
  code: "JOB_INTERRUPTED",
  message: "the runtime stopped while it ran",
});

/** `JOB_NOT_FOUND` for `id`. */
export function jobNotFound(id: string): LiminalError {
  return new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
}

/**
 * What `cancel` does to a job in `state`: `"cancel"` (scheduled or queued: at once) or
 * `"running"` (left to the executor). A finished job: throws `INVALID_JOB_STATE`.
 */
export function cancelAction(id: string, state: JobState): "cancel" | "running" {
  if (state === "scheduled" || state === "queued") return "cancel";
  if (state === "running") return "running";
  throw new LiminalError(
    "INVALID_JOB_STATE",
    `job ${id} is ${state}; only scheduled, queued or running jobs can be cancelled`,
  );
}

/** Throws `INVALID_JOB_STATE` unless a job in `state` can be retried (dead or cancelled). */
export function assertRetryable(id: string, state: JobState): void {
  if (state !== "dead" && state !== "cancelled") {
    throw new LiminalError(
      "INVALID_JOB_STATE",
      `job ${id} is ${state}; only dead or cancelled jobs can be retried`,
    );
  }
}

/** `INVALID_JOB_STATE`: a retry refused because live job `holder` holds the unique key. */
export function uniqueKeyHeld(holder: string | null, key: string, cause?: unknown): LiminalError {
  return new LiminalError(
    "INVALID_JOB_STATE",
    holder === null
      ? `another job already holds unique key "${key}"`
      : `job ${holder} already holds unique key "${key}"`,
    cause === undefined ? {} : { cause },
  );
}

/** Whether an attempt that ended with `outcome` counts against `maxAttempts`. */
export function countsAsFailure(outcome: AttemptOutcome): boolean {
  return outcome === "failed" || outcome === "timeout";
}

/** Whether an attempt that ended with `outcome` was cut short by a shutdown or crash. */
export function countsAsInterruption(outcome: AttemptOutcome): boolean {
  return outcome === "interrupted";
}

/** How many times a job may be interrupted (shutdowns, crashes) before it is dead: 5. */
export const DEFAULT_MAX_INTERRUPTIONS = 5;

/**
 * Whether a job interrupted `interruptions` times (this interruption counted) has been
 * interrupted too often, `maxInterruptions` allowing: then it is dead, not queued again. The
 * one rule for an ordered shutdown (the executor's settle) and a crash (the stores' recovery,
 * the Postgres rescue of a gone node's jobs).
 */
export function interruptedTooOften(interruptions: number, maxInterruptions: number): boolean {
  return interruptions > maxInterruptions;
}

/** The error message of a job that `interruptedTooOften`: `message`, and that it gave up. */
export function givingUpMessage(message: string, interruptions: number): string {
  return `${message}; interrupted ${interruptions} times, giving up`;
}

/**
 * What a crash recovery does to a job left running that will have been interrupted
 * `interruptions` times: `dead` past `maxInterruptions`, else queued again, and the error
 * its attempt and job record (`message`, by default {@link INTERRUPTED_BY_STOP}'s).
 */
export function recoveryOf(
  interruptions: number,
  maxInterruptions: number,
  message: string = INTERRUPTED_BY_STOP.message,
): { dead: boolean; error: AttemptError } {
  const dead = interruptedTooOften(interruptions, maxInterruptions);
  return {
    dead,
    error: {
      code: INTERRUPTED_BY_STOP.code,
      message: dead ? givingUpMessage(message, interruptions) : message,
    },
  };
}
