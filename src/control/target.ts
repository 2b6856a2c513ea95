/**
 * What the control server serves: a {@link ControlTarget} the runtime hands it. It is built
 * from the shared vocabulary only (`src/shared`), so the control plane never imports the
 * runtime module (which starts the server: no cycle) nor the concrete executor, scheduler,
 * lease and router classes behind it. The runtime implements it over its parts
 * (`src/runtime/control_target.ts`); a test can implement it over anything.
 *
 * @module
 */
import type { Duration } from "../shared/duration.ts";
import type { EventSource } from "../shared/emitter.ts";
import type { ExecutorEventMap, RouterEventMap, RuntimeEventMap } from "../shared/events.ts";
import type { BackoffPolicy, JobRecord, JobState } from "../shared/job.ts";
import type { EnqueueResult, JobSpec } from "../shared/job_spec.ts";
import type { JsonValue } from "../shared/json.ts";
import type { Priority } from "../shared/priority.ts";
import type {
  DeadLetterReason,
  DeadLetterView,
  RouterSnapshot,
} from "../shared/router_snapshot.ts";
import type { LeaseSnapshot, Preemption, ScheduleSnapshot } from "../shared/schedule.ts";
import type {
  IntakeState,
  NodeInfo,
  RuntimeSnapshot,
  RuntimeState,
  ShutdownReport,
} from "../shared/snapshot.ts";
import type { HistogramCounts } from "./metrics.ts";

/** A job kind's resolved defaults, as `GET /v1/kinds` shows them. */
export interface KindDefaults {
  priority: Priority;
  timeoutMs: number | null;
  maxAttempts: number;
  backoff: BackoffPolicy;
  concurrency: number | null;
  /** `null`: the executor's `killAfter`. */
  killAfterMs: number | null;
}

/** A registered job kind. */
export interface KindEntry {
  kind: string;
  description: string;
  defaults: KindDefaults;
}

/** The jobs: the executor's public API and the store's reads of jobs. */
export interface ControlJobs extends EventSource<ExecutorEventMap> {
  /** Whether new jobs start (`paused`: they are kept queued). */
  readonly intake: IntakeState;
  /** The registered kinds, in any order. */
  kinds(): Iterable<KindEntry>;
  /** Commits every spec, or none. */
  enqueueMany(specs: readonly JobSpec[]): Promise<EnqueueResult[]>;
  /** A job from the store, `null` when there is none. */
  get(id: string): Promise<JobRecord | null>;
  /** Jobs from the store, newest first. */
  list(filter: { state?: JobState; kind?: string; limit: number }): Promise<JobRecord[]>;
  /** The ids that end with `tail`, newest first, at most `limit` (to resolve a short id). */
  findIdsByTail(tail: string, limit: number): Promise<string[]>;
  /** Resolves once the job is final (rejects when `signal` aborts). */
  waitFor(id: string, signal?: AbortSignal): Promise<JobRecord>;
  /** Why a job is not running. */
  explain(id: string): Promise<{ id: string; state: JobState; reasons: string[] }>;
  cancel(id: string): Promise<JobRecord>;
  retry(id: string): Promise<JobRecord>;
  /** Pauses intake: queued jobs stay queued. */
  pause(): void;
  resume(): void;
  /** Wait and run time histograms at `boundsMs`. */
  histograms(boundsMs: readonly number[]): HistogramCounts;
}

/** What a schedule trigger did. */
export interface TriggerOutcome {
  jobId: string | null;
  skipped: string | null;
}

/** The recurring schedules. */
export interface ControlSchedules {
  list(): Promise<ScheduleSnapshot[]>;
  get(name: string): Promise<ScheduleSnapshot>;
  /**
   * Adds (or replaces) a schedule from its options as JSON; the target checks them
   * (`defineSchedule`) and throws `INVALID_ARGUMENT` naming what is wrong.
   */
  add(options: Record<string, JsonValue>): Promise<ScheduleSnapshot>;
  remove(name: string): Promise<void>;
  pause(name: string): Promise<ScheduleSnapshot>;
  resume(name: string): Promise<ScheduleSnapshot>;
  trigger(name: string): Promise<TriggerOutcome>;
}

/** A lease as the lease verbs answer it. Times are epoch ms. */
export interface LeaseGrant {
  resource: string;
  holder: string;
  priority: Priority;
  jobId: string | null;
  acquiredAt: number;
  expiresAt: number;
  /** Whether a higher priority may take it over (a job's lease, or one acquired so). */
  preemptible: boolean;
}

/** What an operator asks for when acquiring a lease. */
export interface LeaseAsk {
  holder: string;
  ttl?: Duration;
  priority?: Priority;
  preemptible?: boolean;
}

/** Territory leases. */
export interface ControlLeases {
  /** Leases held, with operators and queued jobs waiting for them. */
  snapshot(): LeaseSnapshot[];
  /** The latest preemptions, oldest first. */
  recentPreemptions(): Preemption[];
  /** The lease on exactly `resource`, if one is held. */
  get(resource: string): LeaseGrant | undefined;
  /** Takes the lease now, or throws `LEASE_HELD`. */
  acquire(resource: string, ask: LeaseAsk): Promise<LeaseGrant>;
  /** Takes the lease, waiting in line until `signal` aborts. */
  acquireOrWait(resource: string, ask: LeaseAsk, signal: AbortSignal): Promise<LeaseGrant>;
  release(resource: string, holder: string): Promise<LeaseGrant>;
  renew(resource: string, holder: string, ttl?: Duration): Promise<LeaseGrant>;
}

/** What a send made: the first message's id and every message's. */
export interface SendOutcome {
  readonly id: string | null;
  readonly ids: readonly string[];
}

/** The message router. */
export interface ControlRouter extends EventSource<RouterEventMap> {
  snapshot(): RouterSnapshot;
  send(
    to: string,
    type: string,
    payload: unknown,
    options: { from: string; priority?: Priority; ack?: boolean; ttl?: Duration },
  ): Promise<SendOutcome>;
  deadLetters(query: { reason?: DeadLetterReason; limit: number }): DeadLetterView[];
  replay(id: string): Promise<SendOutcome>;
}

/** What the control server drives: the runtime, seen through its public verbs. */
export interface ControlTarget extends EventSource<RuntimeEventMap> {
  readonly state: RuntimeState;
  readonly jobs: ControlJobs;
  readonly schedules: ControlSchedules;
  readonly leases: ControlLeases;
  readonly router: ControlRouter;
  /** Whether the store is shared by several runtimes (Postgres). */
  readonly sharedStore: boolean;
  /** This runtime's id among those sharing the store (`local` for a store only it uses). */
  readonly nodeId: string;
  /** The runtimes sharing the store (this one alone with a store only it uses). */
  nodes(): Promise<NodeInfo[]>;
  /**
   * Removes a dead node from the list of those sharing the store (see `JobStore.forgetNode`);
   * with a store only this runtime uses, `INVALID_ARGUMENT`: there is no other node.
   */
  forgetNode(id: string): Promise<void>;
  snapshot(): Promise<RuntimeSnapshot>;
  shutdown(options?: { grace?: number; force?: boolean }): Promise<ShutdownReport>;
  prune(options?: { olderThanMs?: number; keep?: number }): Promise<number>;
}
