/**
 * The `JobStore` interface: the only place jobs live. The executor reaches jobs through
 * these domain verbs and nothing else, so a durable store drops in without touching it.
 *
 * Every verb that changes a job commits before its promise resolves.
 *
 * @module
 */
import type { NodeInfo } from "../shared/snapshot.ts";
import type {
  AttemptError,
  AttemptOutcome,
  JobDefinition,
  JobLogLine,
  JobProgress,
  JobRecord,
  JobState,
} from "../shared/job.ts";
import type { Priority } from "../shared/priority.ts";
import type {
  MissedPolicy,
  OverlapPolicy,
  ScheduledJob,
  ScheduleTiming,
} from "../shared/schedule.ts";

/** A job to insert: its definition, id and times. */
export interface NewJob extends JobDefinition {
  /** The job's id. */
  id: string;
  /** When it was enqueued (epoch ms). */
  createdAt: number;
  /** At or before the insert time: the job is `queued`; later: `scheduled`. */
  runAt: number;
}

/**
 * A queued job's place in the ready queue. The executor keeps a bounded window of these per
 * priority; the store hands them out oldest first (`seq` order).
 */
export interface ReadyEntry {
  /** The job's id. */
  readonly id: string;
  /** The job's kind name. */
  readonly kind: string;
  /** The job's own priority level (0 `info` … 4 `override`). */
  readonly level: number;
  /** Its order within its priority: lower runs first. */
  readonly seq: number;
  /** When it entered `queued` (epoch ms): aging counts from here. */
  readonly readyAt: number;
  /** The leases it must hold to run (empty: none). */
  readonly leases: readonly string[];
}

/** What {@link JobStore.insert} did with one job. */
export interface InsertResult {
  /** The new job's id, or the id of the live job holding the same unique key. */
  id: string;
  /** `false` when an existing job with the same unique key was returned instead. */
  created: boolean;
  /** The job's state after the insert. */
  state: JobState;
  /** Set when the job was created `queued`. */
  entry: ReadyEntry | null;
}

/** A job a worker claimed: what the executor needs to run one attempt of it. */
export interface ClaimedJob extends JobDefinition {
  /** The job's id. */
  readonly id: string;
  /** When it was enqueued (epoch ms). */
  readonly createdAt: number;
  /** The attempt just opened: 1 for the first. */
  readonly attempt: number;
  /** Failed attempts counted against `maxAttempts` so far. */
  readonly failures: number;
  /** Attempts cut short by shutdowns or crashes so far. */
  readonly interruptions: number;
}

/** A worker's claim of a queued job. */
export interface ClaimRequest {
  /** The job to claim. */
  id: string;
  /** The worker that will run it. */
  worker: string;
  /** When (epoch ms). */
  at: number;
  /** The job's kind (stores shared by several runtimes enforce `limit` per kind). */
  kind?: string;
  /**
   * Jobs of this kind allowed to run at once across every runtime sharing the store, or
   * `null`/absent for no limit. A store only this process uses may ignore it (the executor
   * counts its own).
   */
  limit?: number | null;
}

/** A claim refused because its kind already runs `limit` jobs across the runtimes. */
export type ClaimBusy = "busy";

/** Where a job goes when an attempt ends. */
export type NextState = "succeeded" | "scheduled" | "queued" | "dead" | "cancelled";

/** The end of an attempt, as the executor decided it. */
export interface Settlement {
  /** The job's id. */
  id: string;
  /** The attempt number that ended. */
  attempt: number;
  /** When the attempt ended (epoch ms). */
  endedAt: number;
  /** How it ended. */
  outcome: AttemptOutcome;
  /** Why it failed, if it did. */
  error: AttemptError | null;
  /** The result as JSON text (on success). */
  result: string | null;
  /** The job's next state. */
  next: NextState;
  /** For `next: "scheduled"`: when to run again. */
  runAt?: number;
}

/** Filter of {@link JobStore.list}. */
export interface JobFilter {
  /** Only jobs in this state. */
  state?: JobState;
  /** Only jobs of this kind. */
  kind?: string;
  /** At most this many, newest first. @default 50 */
  limit?: number;
}

/** How many jobs are in each state, and how many are queued or scheduled per priority. */
export interface JobCounts {
  /** Jobs per state. */
  byState: Record<JobState, number>;
  /** Queued jobs per priority. */
  queuedByPriority: Record<Priority, number>;
  /** Scheduled jobs per priority. */
  scheduledByPriority: Record<Priority, number>;
}

/** What kind of store this is and where it keeps jobs. */
export interface StoreInfo {
  /** Which store. */
  kind: "memory" | "sqlite" | "postgres";
  /** A path, URL (without password) or `:memory:`. */
  location: string;
  /** Whether jobs survive the process. */
  durable: boolean;
}

/** What {@link JobStore.prune} removes. */
export interface PruneOptions {
  /** Remove finished jobs that finished before this time (epoch ms). */
  finishedBefore?: number;
  /** Keep at most this many finished jobs (the newest). */
  keep?: number;
  /** Remove at most this many in one call. @default 1000 */
  limit?: number;
}

/** A recurring schedule as the store keeps it. Times are epoch ms. */
export interface ScheduleRecord {
  /** The schedule's unique name. */
  name: string;
  /** Where it was defined: a `--jobs` module or the API (`schedules add`). */
  source: "module" | "api";
  /** When it fires. */
  timing: ScheduleTiming;
  /** The job it enqueues. */
  job: ScheduledJob;
  /** What happens when the previous run's job is still live. */
  overlap: OverlapPolicy;
  /** What happens to runs missed while no runtime was up. */
  missed: MissedPolicy;
  /** Whether it is paused. */
  paused: boolean;
  /** The next due time, or `null` while paused or when none is left. */
  nextDueAt: number | null;
  /** The due time of its last run (epoch ms), if it ran. */
  lastDueAt: number | null;
  /** The job its last run enqueued, if any. */
  lastJobId: string | null;
  /** Why the last due run enqueued nothing. */
  lastSkipped: string | null;
  /** How many times it fired. */
  runs: number;
  /** When it was created (epoch ms). */
  createdAt: number;
  /** When it last changed (epoch ms). */
  updatedAt: number;
}

/** What one run of a schedule changes. */
export interface ScheduleRun {
  /** The due time of this run (epoch ms). */
  lastDueAt: number;
  /** When it is due next (epoch ms); `null`: never. */
  nextDueAt: number | null;
  /** The job this run enqueued, if any. */
  lastJobId: string | null;
  /** Why this run enqueued nothing, if so. */
  lastSkipped: string | null;
  /** How many times it fired, this run included. */
  runs: number;
  /** When this was written (epoch ms). */
  at: number;
}

/** A territory lease as the store keeps it. Times are epoch ms. */
export interface LeaseRecord {
  /** The resource held. */
  resource: string;
  /** Who holds it. */
  holder: string;
  /** Changes on every acquisition: a release or renewal must name it. */
  token: string;
  /** The holder's priority. */
  priority: Priority;
  /** The job holding it, when a job does. */
  jobId: string | null;
  /** When it was taken (epoch ms). */
  acquiredAt: number;
  /** When it ends unless renewed (epoch ms). */
  expiresAt: number;
}

/**
 * Where jobs live. Implementations: `memory` (this process only), `sqlite` (embedded,
 * durable), `postgres` (shared by several runtimes).
 *
 * Errors are {@link LiminalError}s: `JOB_NOT_FOUND`, `INVALID_JOB_STATE`, `STORE_ERROR`,
 * `STORE_FULL`.
 */
export interface JobStore {
  /** Which store, where, and whether it survives a restart. */
  readonly info: StoreInfo;
  /**
   * How many ready jobs per priority the executor should keep in memory. `Infinity` for a
   * store that keeps everything in memory anyway.
   */
  readonly windowHint: number;

  /** Opens (and migrates) the store. Nothing else may be called before. */
  open(): Promise<void>;
  /** Flushes and closes. Safe to call twice. */
  close(): Promise<void>;

  /**
   * Inserts jobs in one transaction, oldest first. A job whose unique key is held by a live
   * (scheduled, queued or running) job is not created; that job's id is returned.
   */
  insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]>;
  /** Up to `limit` queued jobs of one priority level with `seq > afterSeq`, in `seq` order. */
  loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]>;
  /**
   * Moves queued jobs to `running` and opens an attempt on each. The result is aligned with
   * `requests`: `null` where the job was no longer queued (cancelled, claimed elsewhere),
   * `"busy"` where its kind's cluster-wide `limit` is reached (the job stays queued).
   */
  claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null | ClaimBusy)[]>;
  /** Ends attempts and moves their jobs on. Returns the entries of jobs that went back to `queued`. */
  settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]>;
  /** Records a running job's progress (may be written in a short batch). */
  recordProgress(id: string, progress: JobProgress): Promise<void>;
  /** Appends to a running job's log (bounded; may be written in a short batch). */
  appendLog(id: string, line: JobLogLine): Promise<void>;
  /** Moves `scheduled` jobs whose run-at has come to `queued`, oldest run-at first. */
  promoteDue(now: number, limit: number): Promise<ReadyEntry[]>;
  /** The earliest run-at of a scheduled job, or `null`. */
  nextDueAt(): Promise<number | null>;
  /**
   * Cancels a scheduled or queued job at once and returns it. A running job is returned
   * unchanged (the executor aborts it). A finished job: `INVALID_JOB_STATE`.
   */
  cancel(id: string, at: number): Promise<JobRecord>;
  /** Moves a dead or cancelled job back to `queued` with a fresh attempt budget. */
  retry(id: string, at: number): Promise<ReadyEntry>;
  /**
   * Jobs left `running` by a runtime that is gone: each open attempt is closed as
   * `interrupted`, `interruptions` + 1, and the job queued again, or, interrupted more than
   * `maxInterruptions` times (default 5: the same rule as the executor's for a shutdown),
   * moved to `dead` with `lastError` naming the interruptions. Returns how many were queued
   * and which died, for the caller to announce (`job:dead`, `jobs.dead`).
   */
  recoverInterrupted(at: number, maxInterruptions?: number): Promise<Recovery>;
  /** The job `id`, or `null`. */
  get(id: string): Promise<JobRecord | null>;
  /** Jobs matching `filter`, newest first. */
  list(filter?: JobFilter): Promise<JobRecord[]>;
  /**
   * The ids that end with `tail` (lowercase, as ids are written), newest first, at most
   * `limit`: how a short id such as the last 6 characters is resolved to the full one.
   */
  findIdsByTail(tail: string, limit: number): Promise<string[]>;
  /** Jobs per state, and queued/scheduled jobs per priority. */
  counts(): Promise<JobCounts>;
  /** Removes finished jobs by age and count. Returns how many. */
  prune(options: PruneOptions): Promise<number>;

  /** Every schedule. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Creates or replaces a schedule. */
  putSchedule(record: ScheduleRecord): Promise<void>;
  /** Removes a schedule; `false` when there was none. */
  deleteSchedule(name: string): Promise<boolean>;
  /**
   * Records one run of a schedule if its last due time is still `expectedLastDueAt`: with a
   * store shared by several runtimes, exactly one of them gets `true` for a due time.
   */
  recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean>;

  /** Every lease (expired ones too, until deleted). */
  listLeases(): Promise<LeaseRecord[]>;
  /**
   * Writes `lease` if its resource is free, expired at `now`, or held with `expectedToken`,
   * first removing `victims` (leases it preempts on other resources, each if it still has
   * its token), all in one transaction. Returns whether it was written (nothing changes
   * otherwise).
   */
  swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims?: readonly LeaseVictim[],
  ): Promise<boolean>;
  /** Removes a lease if it still has `token`; `false` otherwise. */
  deleteLease(resource: string, token: string): Promise<boolean>;

  // ── Stores shared by several runtimes (Postgres) ─────────────────────────────────────

  /**
   * Calls `listener` for changes other runtimes made that this one should act on. Absent
   * in stores only this process uses. Returns the unsubscribe function.
   */
  onChange?(listener: (change: StoreChange) => void): () => void;
  /** The runtimes sharing the store, this one included. */
  nodes?(): Promise<NodeInfo[]>;
  /** This runtime's id among the nodes sharing the store. */
  readonly nodeId?: string;
  /**
   * Removes a dead node (silent past the node timeout, running nothing) from the list.
   * Refused with `CONFLICT` for this runtime's own node, a node alive, or one that still has
   * running jobs; `NODE_NOT_FOUND` for an unknown id.
   */
  forgetNode?(id: string): Promise<void>;
  /** Tells the other runtimes this one is shutting down (shown in their node lists). */
  markStopping?(): Promise<void>;
  /** How the other runtimes judge this one alive (its heartbeat interval, their timeout). */
  readonly liveness?: { heartbeatMs: number; nodeTimeoutMs: number };
  /**
   * Self-fencing: after `ms` without a successful heartbeat, report `fenced` (the runtime
   * stops its running jobs) and refuse claims until one succeeds (`unfenced`). Before `open()`.
   */
  fenceAfter?(ms: number): void;
}

/** A lease removed because another preempts it: its resource and token. */
export interface LeaseVictim {
  /** The lease's resource. */
  resource: string;
  /** The lease's token. */
  token: string;
}

/** A job a crash recovery moved to `dead`: interrupted more than `maxInterruptions` times. */
export interface RecoveredDead {
  /** The job's id. */
  id: string;
  /** The job's kind. */
  kind: string;
  /** Its last attempt, the interrupted one. */
  attempt: number;
  /** Its `lastError` (`JOB_INTERRUPTED`, naming the interruptions). */
  error: AttemptError;
}

/** What {@link JobStore.recoverInterrupted} did. */
export interface Recovery {
  /** How many jobs went back to `queued`. */
  queued: number;
  /** The jobs that went to `dead` instead. */
  dead: RecoveredDead[];
}

/** A change another runtime made, as {@link JobStore.onChange} reports it. */
export type StoreChange =
  /** Jobs became queued (inserted, requeued, promoted, retried, recovered): refill. */
  | {
    kind: "ready";
    /** The priority levels that gained queued jobs, when the writer knew them; else any. */
    levels?: readonly number[];
  }
  /** A job was scheduled for `runAt` (epoch ms): promote it then. */
  | { kind: "scheduled"; runAt: number }
  /** A job running on this runtime was cancelled elsewhere: abort it. */
  | { kind: "cancel"; id: string }
  /** Territory leases changed: reload them. */
  | { kind: "leases" }
  /**
   * This runtime's store rescued the jobs of a gone runtime (a heartbeat's sweep) and these
   * were interrupted too often: they are `dead`, announce them (only the rescuing runtime
   * gets this).
   */
  | { kind: "dead"; jobs: RecoveredDead[] }
  /** A job of a kind with a concurrency limit finished somewhere: retry the parked ones. */
  | { kind: "finished"; jobKind: string }
  /** Jobs reached a final state on another runtime: resolve whoever waits for them here. */
  | { kind: "ended"; ids: string[] }
  /**
   * This runtime's heartbeat has not succeeded for `silentMs`: stop every running job now,
   * before the other runtimes may take this one for dead and run them again.
   */
  | { kind: "fenced"; silentMs: number }
  /** A heartbeat succeeded again after `fenced`: jobs may be claimed again. */
  | { kind: "unfenced" };

export type { NodeInfo };

// The interruption rule the executor (an ordered shutdown) and the stores (a crash's recovery)
// share, written once in `_rules.ts`.
export { DEFAULT_MAX_INTERRUPTIONS, givingUpMessage, interruptedTooOften } from "./_rules.ts";

/** Whether other runtimes write `store` too: a shared store reports their changes. */
export function isSharedStore(
  store: JobStore,
): store is JobStore & Required<Pick<JobStore, "onChange">> {
  return typeof store.onChange === "function";
}
