/**
 * The event maps of the runtime and its parts, by name: what the executor, the router and the
 * runtime emit, and what the control plane forwards on its event stream. Payloads are plain
 * objects; times are epoch milliseconds unless said otherwise. They live here, in the shared
 * vocabulary, so the control server and the dashboard can name them without importing the
 * parts that emit them.
 *
 * The router's payloads hold JSON views of the message (times as ISO text); a view is built
 * only when someone listens to the event. Every message gets `message:sent` once, then exactly
 * one of the final events `message:delivered`, `message:expired`, `message:rejected` or
 * `message:dead-lettered`.
 *
 * @module
 */
import type { ErrorCode } from "./errors.ts";
import type { AttemptError, JobState } from "./job.ts";
import type { Priority } from "./priority.ts";
import type {
  DeadLetterReason,
  MessageView,
  RouterState,
  UnroutedView,
} from "./router_snapshot.ts";
import type { RuntimeState, ShutdownPhaseEvent, ShutdownReport } from "./snapshot.ts";
import type { PreemptionView } from "./schedule.ts";

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

/** Every event of a `UnifiedMessageRouter`, by name. */
export interface RouterEventMap {
  /** A message was made for one recipient (or for nobody: it is dead-lettered next). */
  "message:sent": { message: MessageView };
  /** A message was handed to its recipient (each delivery, redeliveries included). */
  "message:dispatched": {
    message: MessageView;
    attempt: number;
    /**
     * Milliseconds from the send to the first hand-over; `null` on redeliveries and for a
     * message sent while nobody listened whose latency was not sampled.
     */
    latencyMs: number | null;
    /** Levels aging raised it by. */
    raises: number;
  };
  /** A message was acknowledged (it is delivered next). */
  "message:acked": { message: MessageView; attempt: number };
  /** Final: delivered (its handler returned or it was yielded; or, with an ack asked, acked). */
  "message:delivered": { message: MessageView; acked: boolean };
  /** A delivery failed and the message went back to its mailbox. */
  "message:redelivered": {
    message: MessageView;
    /** The attempt that failed. */
    attempt: number;
    reason: "ack-timeout" | "handler-error";
    error: string | null;
  };
  /** Final: its time to live passed before it was delivered (it is kept as a dead letter). */
  "message:expired": { message: MessageView };
  /** Final: refused to the sender (its mailbox was full and rejects, or the send was aborted). */
  "message:rejected": { message: MessageView; code: ErrorCode | null; error: string };
  /** Final: dead-lettered. */
  "message:dead-lettered": {
    message: MessageView;
    reason: DeadLetterReason;
    error: string | null;
  };
  /**
   * A publish to a topic nobody subscribes to (a `jobs.*` event no one listens for): no
   * message is made, but a tail still sees it.
   */
  "message:unrouted": { message: UnroutedView };
  /** A send has to wait for its sender's tokens. */
  "sender:throttled": { sender: string; priority: Priority; tokens: number; cost: number };
  /** The router's state changed. */
  "router:state": { from: RouterState; to: RouterState };
}

/** Every event of a `Runtime`, by name. */
export interface RuntimeEventMap {
  /** The lifecycle state changed. */
  "state:changed": { from: RuntimeState; to: RuntimeState };
  /** A shutdown phase started, finished, was skipped or failed. */
  "shutdown:phase": ShutdownPhaseEvent;
  /** The ordered shutdown is over. */
  "shutdown:report": ShutdownReport;
  /** An OS signal or an interrupt key arrived, and what it did. */
  "signal": { signal: string; action: "shutdown" | "force" | "ignored" };
  /** A lease was taken from its holder (a job, which is interrupted, or a preemptible one). */
  "lease:preempted": PreemptionView;
  /** Something went wrong outside any job (a store failure, a listener). */
  "error": { where: string; error: unknown };
}
