/**
 * The executor's events. Payloads are plain objects; times are epoch milliseconds.
 *
 * @module
 */
import type { AttemptError, JobState } from "../shared/job.ts";
import type { Priority } from "../shared/priority.ts";

/** Why a job is dead: see `job:dead`. */
export type DeadReason = "exhausted" | "permanent" | "interrupted";

/** Every event of a `MaintenanceExecutor`, by name. */
export interface ExecutorEventMap {
  /** A job was created (or, with a unique key, found). */
  "job:enqueued": { id: string; kind: string; priority: Priority; state: JobState; runAt: number };
  /** A worker started an attempt. */
  "job:started": {
    id: string;
    kind: string;
    priority: Priority;
    attempt: number;
    worker: string;
    /** How long it waited in the queue. */
    waitMs: number;
  };
  /** A running job reported progress: `done` of `total` (`null`: unknown). */
  "job:progress": { id: string; done: number; total: number | null };
  /** A running job wrote a log line. */
  "job:log": { id: string; message: string };
  /** An attempt succeeded: the job is done. */
  "job:succeeded": {
    id: string;
    kind: string;
    attempt: number;
    worker: string;
    durationMs: number;
  };
  /**
   * An attempt failed or timed out (`failed` is an attempt's outcome); `next` says what
   * happens to the job: `scheduled` to retry, or `dead` (then `job:dead` follows).
   */
  "job:failed": {
    id: string;
    kind: string;
    attempt: number;
    worker: string;
    durationMs: number;
    error: AttemptError;
    next: "scheduled" | "dead";
    /** When it runs again, for `next: "scheduled"`. */
    retryAt: number | null;
  };
  /**
   * A job ended `dead`: it failed and will not run again. Emitted once its state is written,
   * whatever ended it (`reason`): its attempts used up (`exhausted`), a permanent error
   * (`permanent`: `PermanentJobError`, an unknown kind, a bad payload, a missing program or
   * file), or shutdowns and crashes past `maxInterruptions` (`interrupted`).
   */
  "job:dead": {
    id: string;
    kind: string;
    attempt: number;
    worker: string;
    error: AttemptError;
    reason: DeadReason;
  };
  /** A job was cancelled (`running`: it was cancelled while it ran). */
  "job:cancelled": { id: string; kind: string; running: boolean };
  /** A running job was stopped by a shutdown; `requeued` unless it ran out of chances. */
  "job:interrupted": {
    id: string;
    kind: string;
    attempt: number;
    worker: string;
    requeued: boolean;
  };
  /** A dead or cancelled job was put back in the queue by an operator. */
  "job:retried": { id: string; kind: string };
  /** A handler did not settle `killAfter` after its signal; its worker was freed. */
  "job:abandoned": {
    id: string;
    kind: string;
    worker: string;
    reason: "timeout" | "cancelled" | "shutdown" | "preempted";
  };
  /** A worker's job showed no life for its `stuckAfter` (its kind's, else the executor's). */
  "worker:stuck": {
    worker: string;
    jobId: string;
    kind: string;
    silentMs: number;
    /** The threshold it passed. */
    stuckAfterMs: number;
    /** What to do about it. */
    hint: string;
  };
  /** A stuck worker's job showed life again or ended. */
  "worker:recovered": { worker: string; jobId: string };
  /** The store failed; the executor keeps the work and tries again. */
  "store:error": { operation: string; error: unknown };
  /** Intake was paused or resumed. */
  "intake:changed": { intake: "open" | "paused" | "closed" };
}
