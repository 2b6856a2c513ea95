/**
 * The `MaintenanceExecutor`: a priority job queue, a pool of async workers, retries,
 * timeouts, cancellation and worker health, over a `JobStore`.
 *
 * Lifecycle: `created` → `start()` → `running` → `closeIntake()` → `closing` (no new jobs
 * taken or started; running ones go on) → `drain()` / `interrupt()` → `stop()` → `closed`.
 *
 * The hot path: `enqueue` commits to the store, then pushes the job's entry into the
 * {@link ReadyQueue}; one dispatch pass per microtask takes as many entries as there are
 * idle workers and claims them in one store call; handlers run; their settlements are
 * written back in one batch per microtask. Timeouts, kill deadlines and stuck detection
 * share one watchdog timer armed for the earliest of them; scheduled jobs one due timer.
 *
 * @module
 */
import { formatDuration, parseDuration } from "../shared/duration.ts";
import { Emitter, type EventSource } from "../shared/emitter.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import type { AttemptError, AttemptOutcome, JobRecord, JobState } from "../shared/job.ts";
import { FINAL_STATES, JOB_STATES } from "../shared/job.ts";
import { type JsonValue, serializePayload } from "../shared/json.ts";
import {
  parsePriority,
  PRIORITIES,
  type Priority,
  priorityAt,
  priorityLevel,
} from "../shared/priority.ts";
import type {
  ExecutorSnapshot,
  ExecutorTotals,
  IntakeState,
  PriorityDepth,
  Warning,
  WorkerSnapshot,
} from "../shared/snapshot.ts";
import {
  type ClaimedJob,
  isSharedStore,
  type JobCounts,
  type JobStore,
  type NewJob,
  type NextState,
  type ReadyEntry,
  type Settlement,
  type StoreChange,
} from "../store/types.ts";
import type { ExecutorEventMap } from "./events.ts";
import {
  type AnyJobKind,
  type JobContext,
  type JobKind,
  JobKindRegistry,
  PermanentJobError,
  resolveAttempts,
  resolveBackoff,
  resolveTimeout,
} from "./job_kind.ts";
import { type EnqueueResult, type JobSpec, parseLeaseList, parseRunAt } from "./job_spec.ts";
import {
  type ExecutorOptions,
  type LeaseGate,
  type LeaseGateRequest,
  type ResolvedExecutorOptions,
  resolveExecutorOptions,
} from "./options.ts";
import { LatencyHistogram, RateCounter } from "./metrics.ts";
import { type QueuedEntry, ReadyQueue } from "./ready_queue.ts";
import { backoffDelay } from "./retry_policy.ts";

type ExecutorState = "created" | "starting" | "running" | "closing" | "closed";
type AbortReason = "timeout" | "cancelled" | "shutdown" | "preempted";

/** Longest delay `setTimeout` takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The longest the executor keeps the event loop to itself before it yields. */
const SLICE_MS = 10;
/** Successful runs of a kind before its p99 counts as "usual". */
const USUAL_SAMPLES = 20;
/** A job is never called slow before it has run this long. */
const SLOW_MIN_MS = 1_000;
/** Failed attempts in 10 s that make a retry storm (when half or more of attempts fail). */
const STORM_MIN_FAILURES = 10;
/** Scheduled jobs promoted per store call. */
const PROMOTE_BATCH = 1_000;
/** What to do about a stuck worker that is only quiet. */
const STUCK_HINT =
  "if this job is long and quiet, call ctx.heartbeat() or set stuckAfter on its kind (or --stuck-after)";

/** Why a worker is stuck and what to do, in one line. */
function stuckMessage(silentMs: number): string {
  return `no heartbeat, progress or log for ${formatDuration(silentMs)}; ${STUCK_HINT}`;
}

class WorkerSlot {
  run: Run | null = null;
  reserved = false;
  lastActivity = 0;
  stuck = false;
  done = 0;
  failed = 0;
  constructor(readonly id: string) {}
}

class Run {
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

interface LevelWindow {
  /** Every queued job of this level with `seq > lastSeq` is known to be in the store only. */
  complete: boolean;
  lastSeq: number;
  refilling: boolean;
  /** A job was offered while a refill was reading: the window cannot be complete yet. */
  dirty: boolean;
  /**
   * With a shared store: reload this level from the start at the next refill, replacing what
   * is in memory (claims came back empty: others took jobs, or a row was busy).
   */
  resync: boolean;
  /** When the last resync read the store (epoch ms). */
  resyncedAt: number;
  /**
   * With a shared store: lastSeq moved past jobs of other runtimes that may not be loaded
   * (an offer of this runtime's own job); read again from here. `Infinity`: no gap.
   */
  gapFrom: number;
}

/** With a shared store, a level is reloaded from the store at most this often. */
const RESYNC_MIN_MS = 200;
/** With a shared store, every level is reloaded at least this often (missed notifications). */
const RESYNC_EVERY_MS = 5_000;
/** A kind whose cluster-wide limit was reached is tried again after this, at the latest. */
const BUSY_RETRY_MS = 1_000;
/** After a lease write failed, jobs needing leases wait this long before trying again. */
const LEASE_RETRY_MS = 250;

/** A job taken from the ready queue for a worker, on its way to being claimed. */
interface ClaimSlot {
  entry: QueuedEntry;
  worker: WorkerSlot;
  /**
   * Its leases: `true` taken, a promise that resolves once they are written (`false`:
   * another runtime took one), or `null` when it needs none.
   */
  leases: Promise<boolean> | boolean | null;
}

interface PendingSettlement {
  settlement: Settlement;
  /** Runs once the settlement is committed. */
  after: () => void;
}

/**
 * Runs maintenance jobs. See the module doc for its lifecycle.
 *
 * @example
 * ```ts
 * const executor = new MaintenanceExecutor({ store: new MemoryStore(), kinds: [sleepJob] });
 * await executor.start();
 * const { id } = await executor.enqueue({ kind: "sleep", payload: { ms: 10 } });
 * const job = await executor.waitFor(id); // job.state === "succeeded"
 * ```
 */
export class MaintenanceExecutor implements EventSource<ExecutorEventMap> {
  readonly #options: ResolvedExecutorOptions;
  readonly #store: JobStore;
  readonly #leases: LeaseGate | null;
  readonly #kinds: JobKindRegistry;
  readonly #events = new Emitter<ExecutorEventMap>();
  readonly #ready: ReadyQueue;
  readonly #workers: WorkerSlot[];
  readonly #idle: WorkerSlot[];
  readonly #windows: LevelWindow[];
  readonly #running = new Map<string, Run>();
  readonly #runningByKind = new Map<string, number>();
  readonly #cancelOnStart = new Set<string>();
  /** Jobs whose lease was taken over while their claim was in flight, and why. */
  readonly #preemptOnStart = new Map<string, string>();
  /** Queued jobs of kinds this runtime has no handler for, by id (kept out of the window). */
  readonly #foreign = new Map<string, QueuedEntry>();
  /** With a shared store: the ids waiting in memory and their level (reads repeat entries). */
  readonly #queuedIds: Map<string, number> | null;
  readonly #preemptedBy = new Map<string, string>();
  readonly #waiters = new Map<string, ((record: JobRecord) => void)[]>();
  readonly #wait = new LatencyHistogram();
  readonly #run = new LatencyHistogram();
  readonly #rate: RateCounter;
  /** Failed attempts per second, for retry storms. */
  readonly #failureRate: RateCounter;
  /** Run times of successful attempts per kind: what is usual for a kind. */
  readonly #runByKind = new Map<string, LatencyHistogram>();
  readonly #totals: ExecutorTotals = {
    enqueued: 0,
    started: 0,
    succeeded: 0,
    failedAttempts: 0,
    retried: 0,
    timedOut: 0,
    dead: 0,
    cancelled: 0,
    interrupted: 0,
    abandoned: 0,
  };
  #state: ExecutorState = "created";
  #paused = false;
  #claiming = 0;
  #dispatchQueued = false;
  #sliceStart = 0;
  #sliceTimer: ReturnType<typeof setTimeout> | undefined;
  #yieldTimer: ReturnType<typeof setTimeout> | undefined;
  #pending: PendingSettlement[] = [];
  #flushQueued = false;
  #flushing: Promise<void> | null = null;
  #flushRetryMs = 0;
  #flushRetryTimer: ReturnType<typeof setTimeout> | undefined;
  #storeFailing: string | null = null;
  /** Why the last claim failed, until one succeeds. */
  #claimFailing: string | null = null;
  /** The last counts the store gave, for a snapshot while it does not answer. */
  #lastCounts: JobCounts | null = null;
  #watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdogAt = Number.POSITIVE_INFINITY;
  #dueTimer: ReturnType<typeof setTimeout> | undefined;
  #dueAt = Number.POSITIVE_INFINITY;
  #promoting: Promise<void> | null = null;
  #idleWaiters: (() => void)[] = [];
  #settledWaiters: (() => void)[] = [];
  #lateSettlements = 0;
  /** Whether the store is shared with other runtimes (it reports their changes). */
  readonly #shared: boolean;
  #offChange: (() => void) | null = null;
  #resyncTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ids between `take` and the end of their claim. */
  readonly #claimingIds = new Set<string>();
  /** Claims under way (they never reject). */
  readonly #claimTasks = new Set<Promise<void>>();
  /** Kinds at their cluster-wide limit, until (epoch ms). */
  readonly #busyKinds = new Map<string, number>();
  #claimRetryMs = 0;
  /** Attempt ends written to the store so far. */
  #endsWritten = 0;
  /** `finished` notifications heard from other runtimes so far. */
  #finishedHeard = 0;
  /** Jobs needing leases wait until then after a lease write failed (epoch ms). */
  #leaseRetryAt = 0;
  #claimBackoffUntil = 0;
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #wakeTimerAt = Number.POSITIVE_INFINITY;

  /** Builds an executor over `options.store`; nothing runs until `start()`. */
  constructor(options: ExecutorOptions) {
    this.#options = resolveExecutorOptions(options);
    this.#store = this.#options.store;
    this.#shared = isSharedStore(this.#store);
    this.#queuedIds = this.#shared ? new Map() : null;
    this.#leases = this.#options.leases;
    this.#leases?.onFree(() => this.#scheduleDispatch());
    this.#kinds = new JobKindRegistry(options.kinds ?? []);
    this.#ready = new ReadyQueue(this.#options.agingMs);
    this.#workers = Array.from(
      { length: this.#options.workers },
      (_, i) => new WorkerSlot(`${this.#options.workerPrefix}${i + 1}`),
    );
    this.#idle = [...this.#workers].reverse();
    this.#windows = PRIORITIES.map(() => ({
      complete: false,
      lastSeq: 0,
      refilling: false,
      dirty: false,
      resync: false,
      resyncedAt: 0,
      gapFrom: Number.POSITIVE_INFINITY,
    }));
    this.#rate = new RateCounter(this.#options.clock());
    this.#failureRate = new RateCounter(this.#options.clock());
  }

  // ── Events ────────────────────────────────────────────────────────────────────────────

  on<K extends keyof ExecutorEventMap>(
    event: K,
    listener: (payload: ExecutorEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ExecutorEventMap>(
    event: K,
    listener: (payload: ExecutorEventMap[K]) => void,
  ): () => void {
    return this.#events.once(event, listener);
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────────

  /** The kinds this executor runs. */
  get kinds(): JobKindRegistry {
    return this.#kinds;
  }

  /** The number of workers. */
  get workerCount(): number {
    return this.#workers.length;
  }

  /** Whether new jobs are taken and queued ones started. */
  get intake(): IntakeState {
    if (this.#state === "closing" || this.#state === "closed") return "closed";
    return this.#paused ? "paused" : "open";
  }

  /** Attempts that ended so far, interruptions aside. */
  get attemptsEnded(): number {
    const t = this.#totals;
    return t.succeeded + t.failedAttempts + t.cancelled;
  }

  /** Queued jobs held in memory: the ready window (the store may hold many more). */
  get inMemory(): number {
    return this.#ready.size;
  }

  /** Jobs running now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /** Adds a job kind. Only before `start()`. */
  register(kind: AnyJobKind): void {
    if (this.#state !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `job kinds can only be registered before start (kind "${kind.kind}")`,
      );
    }
    this.#kinds.register(kind);
  }

  /** Loads the ready window from the store and starts the workers. The store must be open. */
  async start(): Promise<void> {
    if (this.#state !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the executor was already started (${this.#state})`,
      );
    }
    this.#state = "starting";
    if (this.#shared) {
      this.#offChange = this.#store.onChange!((change) => this.#onStoreChange(change));
    }
    await Promise.all(PRIORITIES.map((_, level) => this.#refill(level)));
    this.#state = "running";
    await this.#promoteDue();
    if (this.#shared) this.#armResync();
    this.#scheduleDispatch();
  }

  /** Stops starting jobs until {@link resume}; enqueues are still taken. */
  pause(): void {
    if (this.#state !== "running" || this.#paused) return;
    this.#paused = true;
    this.#events.emit("intake:changed", { intake: "paused" });
  }

  /** Starts queued jobs again after {@link pause}. */
  resume(): void {
    if (this.#state !== "running" || !this.#paused) return;
    this.#paused = false;
    this.#events.emit("intake:changed", { intake: "open" });
    this.#scheduleDispatch();
  }

  /**
   * Shutdown phase 1: refuses new jobs (`RUNTIME_SHUTTING_DOWN`) and starts no queued job.
   * Running jobs go on; queued and scheduled ones stay in the store.
   */
  closeIntake(): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.#state = "closing";
    this.#clearDueTimer();
    this.#events.emit("intake:changed", { intake: "closed" });
  }

  /**
   * Shutdown phase 2: waits until no job runs, or `graceMs` passes. Resolves with the number
   * of jobs still running.
   */
  async drain(graceMs: number, signal?: AbortSignal): Promise<number> {
    this.closeIntake();
    if (this.#running.size > 0 || this.#claiming > 0) {
      await this.#untilSettledOr(graceMs, signal);
    }
    await this.#flush();
    return this.#running.size;
  }

  /**
   * Shutdown phase 3: aborts every running job's signal (reason `JOB_INTERRUPTED`), waits up
   * to `hardMs` for them to settle, then records those still running as interrupted and
   * queues them again. Resolves with the number of jobs interrupted.
   */
  async interrupt(hardMs: number): Promise<number> {
    this.closeIntake();
    // Claims on their way land first: their jobs start and are stopped with the others.
    if (this.#claimTasks.size > 0) await Promise.all([...this.#claimTasks]);
    const before = this.#totals.interrupted;
    const now = this.#options.clock();
    for (const run of this.#running.values()) this.#abort(run, "shutdown", now, hardMs);
    if (this.#running.size > 0) await this.#untilSettledOr(hardMs);
    const late = this.#options.clock();
    for (const run of [...this.#running.values()]) this.#abandon(run, late);
    await this.#flush();
    return this.#totals.interrupted - before;
  }

  /** Stops every timer and writes what is pending. The executor cannot start again. */
  async stop(): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#running.size > 0 || this.#claimTasks.size > 0) await this.interrupt(0);
    this.closeIntake();
    this.#state = "closed";
    this.#clearDueTimer();
    if (this.#watchdogTimer !== undefined) clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    this.#watchdogAt = Number.POSITIVE_INFINITY;
    if (this.#promoting) await this.#promoting.catch(() => {});
    await this.#flush();
    if (this.#flushRetryTimer !== undefined) clearTimeout(this.#flushRetryTimer);
    this.#flushRetryTimer = undefined;
    this.#offChange?.();
    this.#offChange = null;
    if (this.#resyncTimer !== undefined) clearTimeout(this.#resyncTimer);
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#resyncTimer = this.#wakeTimer = undefined;
    this.#wakeTimerAt = Number.POSITIVE_INFINITY;
    if (this.#sliceTimer !== undefined) clearTimeout(this.#sliceTimer);
    if (this.#yieldTimer !== undefined) clearTimeout(this.#yieldTimer);
    this.#sliceTimer = this.#yieldTimer = undefined;
    this.#sliceStart = 0;
    this.#dispatchQueued = false;
    this.#ready.clear();
    this.#foreign.clear();
    this.#queuedIds?.clear();
    this.#cancelOnStart.clear();
    this.#preemptOnStart.clear();
    for (const kind of this.#kinds) {
      try {
        await kind.dispose?.();
      } catch (error) {
        this.#events.emit("store:error", { operation: `dispose ${kind.kind}`, error });
      }
    }
    this.#notifyIdle();
  }

  /** Resolves when no job is queued in memory or running (scheduled jobs may remain). */
  onIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  // ── Jobs ──────────────────────────────────────────────────────────────────────────────

  /**
   * Checks a spec as {@link enqueue} would (kind, payload, priority, durations, leases)
   * without enqueuing it: throws the same errors, changes nothing.
   */
  check(spec: JobSpec): void {
    this.#resolveSpec(spec, this.#options.clock(), "job");
  }

  /** Enqueues one job; resolves once it is committed to the store. */
  async enqueue(spec: JobSpec): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([spec]);
    return result!;
  }

  /**
   * Enqueues jobs in one store transaction. Every spec is checked first: one bad spec
   * refuses the whole batch and changes nothing.
   */
  async enqueueMany(specs: readonly JobSpec[]): Promise<EnqueueResult[]> {
    this.#assertAccepting();
    const now = this.#options.clock();
    const jobs = this.#resolveSpecs(specs, now);
    if (jobs.length === 0) return [];
    const inserted = await this.#store.insert(jobs, now);
    const mono = performance.now();
    const results: EnqueueResult[] = new Array(inserted.length);
    let earliestDue = Number.POSITIVE_INFINITY;
    const emit = this.#events.has("job:enqueued");
    for (let i = 0; i < inserted.length; i++) {
      const outcome = inserted[i]!;
      const job = jobs[i]!;
      results[i] = {
        id: outcome.id,
        kind: job.kind,
        created: outcome.created,
        state: outcome.state,
      };
      if (!outcome.created) continue;
      this.#totals.enqueued++;
      if (outcome.entry !== null) this.#offer(outcome.entry, mono);
      else if (outcome.state === "scheduled" && job.runAt < earliestDue) earliestDue = job.runAt;
      if (emit) {
        this.#events.emit("job:enqueued", {
          id: outcome.id,
          kind: job.kind,
          priority: job.priority,
          state: outcome.state,
          runAt: job.runAt,
        });
      }
    }
    if (earliestDue !== Number.POSITIVE_INFINITY) this.#armDue(earliestDue);
    this.#scheduleDispatch();
    return results;
  }

  /**
   * Cancels a job: a scheduled or queued one becomes `cancelled` at once; a running one has
   * its signal aborted (reason `JOB_CANCELLED`) and becomes `cancelled` when its handler
   * settles. Resolves with the job as it is now.
   */
  async cancel(id: string): Promise<JobRecord> {
    const running = this.#running.get(id);
    if (running !== undefined) {
      this.#abort(running, "cancelled", this.#options.clock(), this.#killAfter(running));
      const record = await this.#store.get(id);
      if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      return record;
    }
    const record = await this.#store.cancel(id, this.#options.clock());
    this.#foreign.delete(id);
    if (record.state === "running") {
      const run = this.#running.get(id);
      if (run !== undefined) {
        this.#abort(run, "cancelled", this.#options.clock(), this.#killAfter(run));
      } else if (this.#claimingIds.has(id)) {
        // Claimed here a moment ago: aborted as soon as it starts.
        this.#cancelOnStart.add(id);
      }
      // Else it runs on another runtime sharing the store: the store tells that one.
      return record;
    }
    this.#totals.cancelled++;
    this.#events.emit("job:cancelled", { id, kind: record.kind, running: false });
    this.#resolveWaiters(record);
    return record;
  }

  /**
   * A running job lost a lease it holds to a higher-priority requester: its signal aborts
   * (reason `JOB_INTERRUPTED`, with `why`) and it is queued again when its handler settles.
   */
  preempt(id: string, why: string): boolean {
    const run = this.#running.get(id);
    if (run === undefined) {
      if (!this.#claimingIds.has(id)) return false;
      // Its claim is in flight: it is stopped as soon as it starts.
      this.#preemptOnStart.set(id, why);
      return true;
    }
    this.#preemptedBy.set(id, why);
    this.#abort(run, "preempted", this.#options.clock(), this.#killAfter(run));
    this.#preemptedBy.delete(id);
    return true;
  }

  /** Puts a dead or cancelled job back in the queue with a fresh attempt budget. */
  async retry(id: string): Promise<JobRecord> {
    this.#assertAccepting();
    const entry = await this.#store.retry(id, this.#options.clock());
    this.#offer(entry, performance.now());
    this.#events.emit("job:retried", { id, kind: entry.kind });
    this.#scheduleDispatch();
    const record = await this.#store.get(id);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    return record;
  }

  /** The job, or `null`. */
  get(id: string): Promise<JobRecord | null> {
    return this.#store.get(id);
  }

  /**
   * Resolves with the job once it is in a final state (`succeeded`, `dead`, `cancelled`) and
   * that state is committed. Unknown id: `JOB_NOT_FOUND`.
   */
  async waitFor(id: string, signal?: AbortSignal): Promise<JobRecord> {
    signal?.throwIfAborted();
    let resolveWaiter!: (record: JobRecord) => void;
    const settled = new Promise<JobRecord>((resolve) => (resolveWaiter = resolve));
    const list = this.#waiters.get(id);
    if (list) list.push(resolveWaiter);
    else this.#waiters.set(id, [resolveWaiter]);
    const current = await this.#store.get(id);
    if (current === null) {
      this.#dropWaiter(id, resolveWaiter);
      throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    }
    if (FINAL_STATES.has(current.state)) {
      this.#dropWaiter(id, resolveWaiter);
      return current;
    }
    if (signal === undefined) return settled;
    return await new Promise<JobRecord>((resolve, reject) => {
      const onAbort = () => {
        this.#dropWaiter(id, resolveWaiter);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      settled.then((record) => {
        signal.removeEventListener("abort", onAbort);
        resolve(record);
      });
    });
  }

  // ── Snapshot ──────────────────────────────────────────────────────────────────────────

  /** The executor now: workers, queue depth, throughput, latencies, totals, warnings. */
  async snapshot(): Promise<ExecutorSnapshot> {
    // A store that does not answer (a database that is down) still leaves a snapshot: the
    // last counts read, and a warning that says why they are old.
    let counts: JobCounts;
    let countsFailed: string | null = null;
    try {
      counts = await this.#store.counts();
      this.#lastCounts = counts;
    } catch (error) {
      countsFailed = errorMessage(error);
      counts = this.#lastCounts ?? emptyCounts();
    }
    const now = this.#options.clock();
    const oldest = this.#ready.oldestReadyAt();
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
      if (waitMs !== null && waitMs > this.#options.starvationAfterMs) {
        warnings.push({
          code: "JOB_WAITING_TOO_LONG",
          priority,
          message: `the oldest ${priority} job has waited ${formatDuration(waitMs)} (threshold ${
            formatDuration(this.#options.starvationAfterMs)
          })`,
        });
      }
    });
    const workers = this.#workers.map((worker) => this.#workerSnapshot(worker, now));
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
      const usual = this.#runByKind.get(job.kind);
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
    const failuresPerSecond = this.#failureRate.rate(10, now);
    const attemptsPerSecond = this.#rate.rate(10, now);
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
    if (this.#totals.abandoned > 0) {
      warnings.push({
        code: "HANDLER_ABANDONED",
        message:
          `${this.#totals.abandoned} handler(s) did not stop after their signal and were left running${
            this.#lateSettlements > 0 ? ` (${this.#lateSettlements} settled late)` : ""
          }`,
      });
    }
    const foreign = new Map<string, number>();
    for (const entry of this.#foreign.values()) {
      foreign.set(entry.kind, (foreign.get(entry.kind) ?? 0) + 1);
    }
    for (const [kind, count] of foreign) {
      warnings.push({
        code: "UNKNOWN_KIND_QUEUED",
        message: this.#shared
          ? `${count} queued job(s) of kind "${kind}" wait for a runtime that loads it (this one does not)`
          : `${count} queued job(s) of kind "${kind}" wait for a handler: start with --jobs to load it`,
      });
    }
    const failing = this.#storeFailing ?? this.#claimFailing ?? countsFailed;
    if (failing !== null) {
      warnings.push({
        code: "STORE_WRITE_FAILING",
        message: `the store is failing: ${failing}`,
      });
    }
    return {
      intake: this.intake,
      workers,
      queue: { byPriority, byState: counts.byState },
      throughput: this.#rate.summary(now),
      waitMs: this.#wait.summary(),
      runMs: this.#run.summary(),
      totals: { ...this.#totals },
      warnings,
    };
  }

  /** Wait and run time histograms, as cumulative counts at the given bounds (ms). */
  histograms(
    boundsMs: readonly number[],
  ): { wait: number[]; run: number[]; waitCount: number; runCount: number } {
    return {
      wait: this.#wait.cumulative(boundsMs),
      run: this.#run.cumulative(boundsMs),
      waitCount: this.#wait.count,
      runCount: this.#run.count,
    };
  }

  /**
   * Why a job is not running: its state, and for a waiting job every reason that holds it
   * back (delay, backoff, paused intake, its place in line, a full per-kind limit, a lease
   * held by someone else, no handler for its kind, all workers busy).
   */
  async explain(id: string): Promise<{ id: string; state: JobState; reasons: string[] }> {
    const record = await this.#store.get(id);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    const now = this.#options.clock();
    const reasons: string[] = [];
    const state = record.state;
    if (state === "running") {
      const run = this.#running.get(id);
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
    if (this.#paused) {
      reasons.push(
        "intake is paused: no queued job starts until it is resumed (p in the dashboard)",
      );
    }
    if (this.#state !== "running") {
      reasons.push("the runtime is shutting down: queued jobs wait for the next start");
    }
    const kind = this.#kinds.get(record.kind);
    if (kind === undefined) {
      reasons.push(
        `no handler for kind "${record.kind}" is loaded: start the runtime with --jobs <module> that exports it`,
      );
    } else if (
      kind.defaults.concurrency !== null &&
      (this.#runningByKind.get(record.kind) ?? 0) >= kind.defaults.concurrency
    ) {
      reasons.push(
        `kind "${record.kind}" allows ${kind.defaults.concurrency} at a time and ${
          this.#runningByKind.get(record.kind)
        } are running`,
      );
    }
    for (const resource of record.leases) {
      const holder = this.#leases?.holderOf(resource);
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
      this.#ready.effectiveLevel({
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
    for (const entry of this.#ready.peekOrder(now)) {
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
      const counts = await this.#store.counts();
      const level = priorityLevel(record.priority);
      const higher = PRIORITIES.slice(level).reduce((n, p) => n + counts.queuedByPriority[p], 0);
      reasons.push(
        `it is beyond the ${this.#options.window}-job window in memory, behind the oldest of the ${higher} queued job(s) of its priority or higher; waiting ${
          formatDuration(waited)
        }`,
      );
    }
    if (this.#idle.length === 0) reasons.push(`all ${this.#workers.length} workers are busy`);
    return { id, state, reasons };
  }

  /** Queued jobs waiting for a lease, by resource, in the order they would get it. */
  leaseWaiters(): Map<string, { jobId: string; priority: Priority; since: number }[]> {
    const now = this.#options.clock();
    const out = new Map<string, { jobId: string; priority: Priority; since: number }[]>();
    for (const key of this.#ready.parkedKeys().keys()) {
      if (!key.startsWith("lease:")) continue;
      out.set(
        key.slice(6),
        this.#ready.parkedUnder(key, now).map((e) => ({
          jobId: e.id,
          priority: priorityAt(e.level),
          since: e.readyAt,
        })),
      );
    }
    return out;
  }

  /** The queued entries in the order they would run (at most `limit`), for `jobs why`. */
  queueOrder(
    limit: number,
  ): { id: string; kind: string; priority: Priority; effective: Priority; readyAt: number }[] {
    const now = this.#options.clock();
    const out = [];
    for (const entry of this.#ready.peekOrder(now)) {
      if (out.length >= limit) break;
      out.push({
        id: entry.id,
        kind: entry.kind,
        priority: priorityAt(entry.level),
        effective: priorityAt(this.#ready.effectiveLevel(entry, now)),
        readyAt: entry.readyAt,
      });
    }
    return out;
  }

  #workerSnapshot(worker: WorkerSlot, now: number): WorkerSnapshot {
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

  // ── Enqueue internals ─────────────────────────────────────────────────────────────────

  #assertAccepting(): void {
    if (this.#state === "running" || this.#state === "starting") return;
    if (this.#state === "created") {
      throw new LiminalError("RUNTIME_NOT_RUNNING", "the executor is not started");
    }
    throw new LiminalError(
      "RUNTIME_SHUTTING_DOWN",
      "the runtime is shutting down and takes no new jobs",
      {
        hint: "start it again, then enqueue",
      },
    );
  }

  /**
   * Checks job specs as `enqueueMany` would, without enqueuing anything: unknown kinds, bad
   * payloads, priorities, durations. Throws the first problem, naming the job (`jobs[3]`).
   */
  validate(specs: readonly JobSpec[]): void {
    this.#resolveSpecs(specs, this.#options.clock(), true);
  }

  #resolveSpecs(specs: readonly JobSpec[], now: number, numbered = specs.length > 1): NewJob[] {
    const jobs: NewJob[] = new Array(specs.length);
    const batch = numbered;
    for (let i = 0; i < specs.length; i++) {
      try {
        jobs[i] = this.#resolveSpec(specs[i]!, now, batch ? `jobs[${i}]` : "job");
      } catch (error) {
        if (!batch || !(error instanceof LiminalError) || error.message.startsWith("jobs[")) {
          throw error;
        }
        throw new LiminalError(error.code, `jobs[${i}]: ${error.message}`, {
          cause: error,
          ...(error.hint === undefined ? {} : { hint: error.hint }),
        });
      }
    }
    return jobs;
  }

  #resolveSpec(spec: JobSpec, now: number, label: string): NewJob {
    if (typeof spec !== "object" || spec === null) {
      throw new LiminalError("INVALID_ARGUMENT", `${label} must be an object with at least "kind"`);
    }
    const kind = this.#kinds.require(spec.kind);
    const payload = serializePayload(spec.payload, `${label} payload`);
    kind.parsePayload(spec.payload ?? null);
    const d = kind.defaults;
    let runAt = now;
    if (spec.delay !== undefined && spec.runAt !== undefined) {
      throw new LiminalError("INVALID_ARGUMENT", `${label}: give delay or runAt, not both`);
    }
    if (spec.delay !== undefined) {
      runAt = now + resolveDelay(spec.delay, label);
    } else if (spec.runAt !== undefined) {
      runAt = Math.max(now, parseRunAt(spec.runAt, `${label} runAt`));
    }
    if (
      spec.uniqueKey !== undefined && (typeof spec.uniqueKey !== "string" || spec.uniqueKey === "")
    ) {
      throw new LiminalError("INVALID_ARGUMENT", `${label}: uniqueKey must be a non-empty string`);
    }
    return {
      id: newId(now),
      kind: kind.kind,
      payload,
      priority: spec.priority === undefined ? d.priority : checkPriority(spec.priority, label),
      timeoutMs: spec.timeout === undefined ? d.timeoutMs : resolveTimeout(spec.timeout, label),
      maxAttempts: spec.attempts === undefined
        ? d.maxAttempts
        : resolveAttempts(spec.attempts, label),
      backoff: spec.backoff === undefined
        ? d.backoff
        : resolveBackoff(spec.backoff, d.backoff, label),
      uniqueKey: spec.uniqueKey ?? null,
      leases: spec.leases === undefined ? [] : parseLeaseList(spec.leases, label),
      createdAt: now,
      runAt,
    };
  }

  /** Offers a newly queued entry to the in-memory window of its level. */
  #offer(entry: ReadyEntry, mono: number): void {
    const window = this.#windows[entry.level]!;
    if (entry.seq <= window.lastSeq) return; // already loaded by a refill
    if (window.complete && this.#laneLoad(entry.level) < this.#options.window) {
      if (this.#shared && window.gapFrom === Number.POSITIVE_INFINITY) {
        // Jobs of other runtimes between lastSeq and this seq are committed (seq values are
        // handed out in commit order) but maybe not yet announced: read them.
        window.gapFrom = window.lastSeq;
        queueMicrotask(() => void this.#refill(entry.level));
      }
      window.lastSeq = entry.seq;
      const queued = entry as QueuedEntry;
      queued.readyMono = mono;
      this.#queue(queued);
    } else {
      window.complete = false;
      if (window.refilling) window.dirty = true;
    }
  }

  /**
   * Puts a loaded entry in line; one of a kind this runtime has no handler for is set aside
   * (it cannot run here, and must not fill the window ahead of jobs that can).
   */
  #queue(entry: QueuedEntry): void {
    const ids = this.#queuedIds;
    if (ids !== null) {
      // With a shared store an entry may be read again while it waits, is claimed or runs.
      if (ids.has(entry.id) || this.#claimingIds.has(entry.id) || this.#running.has(entry.id)) {
        return;
      }
      ids.set(entry.id, entry.level);
    }
    if (this.#kinds.has(entry.kind)) this.#ready.push(entry);
    else this.#foreign.set(entry.id, entry);
  }

  #laneLoad(level: number): number {
    return this.#ready.sizeAt(level);
  }

  /** Reads queued jobs of a level into memory; `resyncNow`: a resync asked for may run. */
  async #refill(level: number, resyncNow = true): Promise<void> {
    const window = this.#windows[level]!;
    const resync = resyncNow && window.resync;
    const gap = !resync && window.gapFrom !== Number.POSITIVE_INFINITY;
    if (window.refilling || (window.complete && !resync && !gap)) return;
    const infinite = this.#options.window === Number.POSITIVE_INFINITY;
    const room = resync || gap
      ? (infinite ? 10_000 : this.#options.window)
      : infinite
      ? 10_000
      : this.#options.window - this.#laneLoad(level);
    if (room <= 0) return;
    window.refilling = true;
    window.dirty = false;
    if (resync) window.resync = false;
    const from = resync ? 0 : gap ? window.gapFrom : window.lastSeq;
    window.gapFrom = Number.POSITIVE_INFINITY;
    // Offers made during the read must not count on what is in memory now.
    if (resync) window.complete = false;
    try {
      const entries = await this.#store.loadReady(level, from, room);
      const now = this.#options.clock();
      const mono = performance.now();
      if (resync) {
        // The store's view replaces ours: entries others claimed meanwhile go, entries whose
        // claim came back empty while their row was busy come back.
        this.#ready.clearLevel(level);
        for (const [id, foreign] of this.#foreign) {
          if (foreign.level === level) this.#foreign.delete(id);
        }
        if (this.#queuedIds !== null) {
          for (const [id, at] of this.#queuedIds) if (at === level) this.#queuedIds.delete(id);
        }
        window.lastSeq = 0;
        window.resyncedAt = now;
      }
      let full = false;
      for (const entry of entries) {
        const queued = entry as QueuedEntry;
        queued.readyMono = mono - Math.max(0, now - entry.readyAt);
        if (gap) {
          // Between lastSeq values already taken: most are in memory (deduplicated).
          if (!full && this.#laneLoad(level) >= this.#options.window) {
            // No room for the rest: read from here again later.
            full = true;
            window.lastSeq = Math.min(window.lastSeq, entry.seq - 1);
            window.complete = false;
          }
          if (!full) this.#queue(queued);
          continue;
        }
        if (entry.seq <= window.lastSeq) continue;
        window.lastSeq = entry.seq;
        this.#queue(queued);
      }
      // A job offered while the store was being read may not be in what was read.
      if (!gap) window.complete = entries.length < room && !window.dirty;
      else if (window.dirty) window.complete = false;
    } catch (error) {
      if (resync) window.resync = true;
      this.#events.emit("store:error", { operation: "loadReady", error });
      return; // tried again at the next dispatch, not in a loop
    } finally {
      window.refilling = false;
      window.dirty = false;
    }
    if (!window.complete && infinite && this.#state !== "closed") {
      return this.#refill(level, false);
    }
    this.#scheduleDispatch();
  }

  #refillLowWindows(): void {
    const low = this.#options.window === Number.POSITIVE_INFINITY
      ? 0
      : Math.floor(this.#options.window / 2);
    const now = this.#options.clock();
    for (let level = 0; level < this.#windows.length; level++) {
      const window = this.#windows[level]!;
      if (window.refilling) continue;
      if (window.resync && now - window.resyncedAt >= RESYNC_MIN_MS) {
        void this.#refill(level, true);
        continue;
      }
      // A resync held back by the throttle does not hold back new jobs meanwhile.
      if (window.resync) this.#wakeAt(window.resyncedAt + RESYNC_MIN_MS);
      if (!window.complete && this.#laneLoad(level) <= low) void this.#refill(level, false);
    }
  }

  // ── Dispatch ──────────────────────────────────────────────────────────────────────────

  /**
   * Runs a dispatch pass soon: in a microtask, unless dispatching has held the event loop for
   * a whole slice. Jobs that finish without awaiting anything keep the executor in
   * microtasks; every {@link SLICE_MS} it yields to the event loop, so timers, signals and the
   * control socket are served even while a million no-op jobs drain.
   */
  #scheduleDispatch(): void {
    if (this.#dispatchQueued || this.#state === "closed") return;
    this.#dispatchQueued = true;
    const now = performance.now();
    if (this.#sliceStart === 0) {
      this.#sliceStart = now;
      // Fires at the next turn of the event loop: the slice ends there.
      this.#sliceTimer = setTimeout(this.#endSlice, 0);
    } else if (now - this.#sliceStart > SLICE_MS) {
      this.#yieldTimer = setTimeout(this.#dispatchAfterYield, 0);
      return;
    }
    queueMicrotask(this.#dispatch);
  }

  #endSlice = (): void => {
    this.#sliceTimer = undefined;
    this.#sliceStart = 0;
  };

  #dispatchAfterYield = (): void => {
    this.#yieldTimer = undefined;
    this.#dispatch();
  };

  #canRun = (kind: string): boolean => {
    const handler = this.#kinds.get(kind);
    if (handler === undefined) return false;
    if (this.#busyKinds.size > 0) {
      const until = this.#busyKinds.get(kind);
      if (until !== undefined) {
        if (until > this.#options.clock()) return false;
        this.#busyKinds.delete(kind);
      }
    }
    const limit = handler.defaults.concurrency;
    return limit === null || (this.#runningByKind.get(kind) ?? 0) < limit;
  };

  /** What keeps an entry from starting now: its kind, or a lease it needs; `null`: nothing. */
  #blockKey = (entry: QueuedEntry): string | null => {
    if (!this.#canRun(entry.kind)) return `kind:${entry.kind}`;
    if (entry.leases.length > 0 && this.#leases !== null) {
      if (this.#leaseRetryAt > this.#options.clock()) return `lease:${entry.leases[0]}`;
      const resource = this.#leases.blockedBy(entry.leases, leaseRequest(entry));
      if (resource !== null) return `lease:${resource}`;
    }
    return null;
  };

  #isOpen = (key: string, head: QueuedEntry): boolean => {
    if (key.startsWith("kind:")) return this.#canRun(key.slice(5));
    if (key.startsWith("lease:")) {
      if (this.#leaseRetryAt > this.#options.clock()) return false;
      return this.#leases === null ||
        this.#leases.blockedBy([key.slice(6)], leaseRequest(head)) === null;
    }
    return true;
  };

  #dispatch = (): void => {
    this.#dispatchQueued = false;
    if (this.#state !== "running" || this.#paused) return;
    const idle = this.#idle;
    if (idle.length === 0 || this.#ready.size === 0) {
      this.#refillLowWindows();
      this.#notifyIdle();
      return;
    }
    const now = this.#options.clock();
    if (now < this.#claimBackoffUntil) return; // the store failed: the wake timer comes back
    const batch: ClaimSlot[] = [];
    while (idle.length > 0) {
      const entry = this.#ready.take(now, this.#blockKey, this.#isOpen);
      if (entry === undefined) break;
      this.#queuedIds?.delete(entry.id);
      let leases: Promise<boolean> | boolean | null = null;
      if (entry.leases.length > 0 && this.#leases !== null) {
        const taken = this.#leases.takeForJob(entry.leases, leaseRequest(entry));
        if (taken === false) {
          // Cannot happen after #blockKey said free, unless a lease changed in between.
          this.#queue(entry);
          break;
        }
        leases = taken;
      }
      const worker = idle.pop()!;
      worker.reserved = true;
      this.#runningByKind.set(entry.kind, (this.#runningByKind.get(entry.kind) ?? 0) + 1);
      this.#claimingIds.add(entry.id);
      batch.push({ entry, worker, leases });
    }
    this.#refillLowWindows();
    if (batch.length > 0) this.#track(this.#claim(batch, now));
    else this.#notifyIdle();
  };

  /** A slot given back without starting its job: the worker, the kind's count, the leases. */
  #unreserve({ entry, worker, leases }: ClaimSlot): void {
    this.#claimingIds.delete(entry.id);
    this.#releaseKind(entry.kind);
    this.#freeWorker(worker);
    if (leases !== null) {
      void this.#leases?.releaseJob(entry.id).catch((error: unknown) =>
        this.#events.emit("store:error", { operation: "release leases", error })
      );
    }
  }

  async #claim(batch: ClaimSlot[], at: number): Promise<void> {
    this.#claiming += batch.length;
    if (batch.some((slot) => slot.leases instanceof Promise)) {
      // A job whose leases are still being written (a shared store: another runtime may
      // have taken one meanwhile) is claimed once they are; the others go on at once.
      const pending = batch.filter((slot) => slot.leases instanceof Promise);
      batch = batch.filter((slot) => !(slot.leases instanceof Promise));
      this.#track(this.#claimAfterLeases(pending, at));
      if (batch.length === 0) return;
    }
    await this.#claimNow(batch, at);
  }

  /** Claims jobs taken for workers (counted in `#claiming`) and starts those it got. */
  async #claimNow(batch: ClaimSlot[], at: number): Promise<void> {
    let records: (ClaimedJob | null | "busy" | "failed")[];
    const endsWritten = this.#endsWritten + this.#finishedHeard;
    try {
      records = await this.#store.claim(
        batch.map(({ entry, worker }) => ({
          id: entry.id,
          worker: worker.id,
          at,
          kind: entry.kind,
          limit: this.#kinds.get(entry.kind)?.defaults.concurrency ?? null,
        })),
      );
      this.#claimRetryMs = 0;
      this.#claimFailing = null;
    } catch (error) {
      this.#claimFailing = errorMessage(error);
      this.#events.emit("store:error", { operation: "claim", error });
      // The jobs are still queued in the store: they wait in memory again, and claims pause
      // for a while (doubling up to 5 s) so a store that is down is not hammered.
      records = batch.map(() => "failed");
      this.#claimRetryMs = Math.min(5_000, Math.max(100, this.#claimRetryMs * 2));
      this.#claimBackoffUntil = this.#options.clock() + this.#claimRetryMs;
      this.#wakeAt(this.#claimBackoffUntil);
    }
    this.#claiming -= batch.length;
    const mono = performance.now();
    for (let i = 0; i < batch.length; i++) {
      const slot = batch[i]!;
      const { entry, worker } = slot;
      const record = records[i] ?? null;
      if (record === null) {
        // Gone (cancelled, or claimed by another runtime), or its row was busy for a moment:
        // with a shared store the level is read again from the store to know which.
        this.#unreserve(slot);
        if (this.#shared) this.#windows[entry.level]!.resync = true;
        continue;
      }
      if (record === "busy" || record === "failed") {
        this.#unreserve(slot);
        this.#queue(entry);
        if (record === "busy" && this.#endsWritten + this.#finishedHeard === endsWritten) {
          // Its kind runs its limit across the runtimes: wait for one to finish. (When an end
          // of this runtime was written meanwhile, the count may have been older: try now.)
          const until = this.#options.clock() + BUSY_RETRY_MS;
          this.#busyKinds.set(entry.kind, until);
          this.#wakeAt(until);
        }
        continue;
      }
      this.#claimingIds.delete(entry.id);
      this.#wait.record(mono - entry.readyMono);
      this.#start(worker, record, at, mono, mono - entry.readyMono);
    }
    this.#scheduleDispatch();
  }

  /** Claims jobs once their leases are written; those refused wait in line again. */
  async #claimAfterLeases(pending: ClaimSlot[], at: number): Promise<void> {
    const granted = await Promise.all(pending.map((slot) => slot.leases));
    const kept: ClaimSlot[] = [];
    for (let i = 0; i < pending.length; i++) {
      const slot = pending[i]!;
      if (granted[i]) {
        kept.push(slot);
        continue;
      }
      this.#claiming--;
      this.#unreserve(slot);
      this.#queue(slot.entry);
      // The lease manager has read the leases again; should the write have failed for
      // another reason (the store), jobs needing leases wait a little before trying again.
      this.#leaseRetryAt = this.#options.clock() + LEASE_RETRY_MS;
      this.#wakeAt(this.#leaseRetryAt);
    }
    if (kept.length > 0) await this.#claimNow(kept, at);
    else this.#scheduleDispatch();
  }

  /** Keeps a claim under way in `#claimTasks` until it has landed. */
  #track(task: Promise<void>): void {
    this.#claimTasks.add(task);
    void task.finally(() => this.#claimTasks.delete(task));
  }

  /** Dispatches again at `at` (epoch ms), for claims that wait on time. */
  #wakeAt(at: number): void {
    if (this.#state === "closed" || at >= this.#wakeTimerAt) return;
    if (this.#wakeTimer !== undefined) clearTimeout(this.#wakeTimer);
    this.#wakeTimerAt = at;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakeTimerAt = Number.POSITIVE_INFINITY;
      this.#scheduleDispatch();
      // Deadlines asked for later than this one were not armed: arm the next of them.
      const now = this.#options.clock();
      let next = Number.POSITIVE_INFINITY;
      if (this.#claimBackoffUntil > now) next = this.#claimBackoffUntil;
      if (this.#leaseRetryAt > now) next = Math.min(next, this.#leaseRetryAt);
      for (const until of this.#busyKinds.values()) if (until > now) next = Math.min(next, until);
      for (const window of this.#windows) {
        if (window.resync) next = Math.min(next, window.resyncedAt + RESYNC_MIN_MS);
      }
      if (next !== Number.POSITIVE_INFINITY) this.#wakeAt(Math.max(next, now + 1));
    }, Math.max(0, at - this.#options.clock()));
  }

  /** A change another runtime made to a shared store. */
  #onStoreChange(change: StoreChange): void {
    if (this.#state === "closed" || this.#state === "created") return;
    switch (change.kind) {
      case "ready":
        if (this.#state !== "running" && this.#state !== "starting") return;
        for (let level = 0; level < this.#windows.length; level++) {
          if (change.levels !== undefined && !change.levels.includes(level)) continue;
          const window = this.#windows[level]!;
          window.complete = false;
          if (window.refilling) window.dirty = true;
        }
        this.#refillLowWindows();
        this.#scheduleDispatch();
        return;
      case "scheduled":
        if (this.#state === "running") this.#armDue(change.runAt);
        return;
      case "cancel": {
        const run = this.#running.get(change.id);
        if (run !== undefined && run.abortReason === null) {
          this.#abort(run, "cancelled", this.#options.clock(), this.#killAfter(run));
        } else if (run === undefined && this.#claimingIds.has(change.id)) {
          // The claim's answer is still on its way: abort it as soon as it starts.
          this.#cancelOnStart.add(change.id);
        }
        return;
      }
      case "finished":
        this.#finishedHeard++;
        if (this.#busyKinds.delete(change.jobKind)) this.#scheduleDispatch();
        return;
      case "ended":
        for (const id of change.ids) {
          if (!this.#waiters.has(id)) continue;
          void this.#store.get(id).then((record) => {
            if (record !== null && FINAL_STATES.has(record.state)) this.#resolveWaiters(record);
          }, (error) => this.#events.emit("store:error", { operation: "get", error }));
        }
        return;
      case "leases":
        return; // the runtime's lease manager reloads them
      case "fenced": {
        // Another runtime may soon take this one for dead and run its jobs: stop them all.
        const why = `this runtime's store heartbeat has failed for ${
          formatDuration(change.silentMs)
        }: its jobs are stopped before another runtime may run them`;
        for (const id of [...this.#running.keys(), ...this.#claimingIds]) this.preempt(id, why);
        return;
      }
      case "unfenced":
        this.#claimBackoffUntil = 0;
        this.#scheduleDispatch();
        return;
    }
  }

  /**
   * With a shared store: every level is read again now and then, and the jobs waited for
   * are looked up (for a notification missed while the connection was down).
   */
  #armResync(): void {
    this.#resyncTimer = setTimeout(() => {
      this.#resyncTimer = undefined;
      if (this.#state !== "running") return;
      for (const window of this.#windows) window.resync = true;
      this.#refillLowWindows();
      for (const id of this.#waiters.keys()) {
        if (this.#running.has(id) || this.#claimingIds.has(id)) continue;
        void this.#store.get(id).then((record) => {
          if (record !== null && FINAL_STATES.has(record.state)) this.#resolveWaiters(record);
        }, () => {});
      }
      this.#armResync();
    }, RESYNC_EVERY_MS);
  }

  #start(worker: WorkerSlot, record: ClaimedJob, at: number, mono: number, waitMs: number): void {
    const attempt = record.attempt;
    const run = new Run(record, worker, attempt, at, mono);
    worker.reserved = false;
    worker.run = run;
    worker.lastActivity = at;
    worker.stuck = false;
    this.#running.set(record.id, run);
    this.#totals.started++;
    if (record.timeoutMs !== null) {
      run.deadline = at + record.timeoutMs;
      if (run.deadline < this.#watchdogAt) this.#armWatchdog(run.deadline);
    }
    const stuckAfterMs = this.#kinds.get(record.kind)?.stuckAfterMs;
    run.stuckAfterMs = stuckAfterMs === undefined ? this.#options.stuckAfterMs : stuckAfterMs;
    this.#armStuck(run, at);
    if (this.#events.has("job:started")) {
      this.#events.emit("job:started", {
        id: record.id,
        kind: record.kind,
        priority: record.priority,
        attempt,
        worker: worker.id,
        waitMs,
      });
    }
    if (this.#cancelOnStart.delete(record.id)) {
      this.#abort(run, "cancelled", at, this.#killAfter(run));
    }
    const preempted = this.#preemptOnStart.get(record.id);
    if (preempted !== undefined) {
      this.#preemptOnStart.delete(record.id);
      this.#preemptedBy.set(record.id, preempted);
      this.#abort(run, "preempted", at, this.#killAfter(run));
      this.#preemptedBy.delete(record.id);
    }
    if (run.abortReason !== null) {
      // Cancelled or preempted before it began: its handler is never called (it could not
      // have heard a signal that aborted before it listened).
      this.#settle(run, false, run.controller.signal.reason);
      return;
    }

    const kind = this.#kinds.get(record.kind);
    let settle: unknown;
    try {
      if (kind === undefined) {
        throw new PermanentJobError(`unknown job kind "${record.kind}"`);
      }
      const payload = kind.parsePayload(parsePayloadText(record.payload));
      run.killAfterMs = kind.killAfterOf?.(payload) ?? null;
      const ctx = this.#context(run, kind, payload);
      settle = kind.handler(ctx);
    } catch (error) {
      this.#settle(
        run,
        false,
        error instanceof LiminalError && error.code === "INVALID_PAYLOAD"
          ? new PermanentJobError(error.message)
          : error,
      );
      return;
    }
    if (isThenable(settle)) {
      settle.then(
        (value) => this.#settle(run, true, value),
        (error) => this.#settle(run, false, error),
      );
    } else {
      this.#settle(run, true, settle);
    }
  }

  #context(run: Run, kind: JobKind, payload: unknown): JobContext<unknown> {
    const record = run.record;
    const worker = run.worker;
    const clock = this.#options.clock;
    const touch = () => {
      if (run.over) return;
      worker.lastActivity = clock();
      if (worker.stuck) {
        worker.stuck = false;
        this.#events.emit("worker:recovered", { worker: worker.id, jobId: record.id });
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
        void this.#store.recordProgress(record.id, { done, total: total ?? null, at: clock() })
          .catch((error) =>
            this.#events.emit("store:error", { operation: "recordProgress", error })
          );
        if (this.#events.has("job:progress")) {
          this.#events.emit("job:progress", { id: record.id, done, total: total ?? null });
        }
      },
      log: (message: string) => {
        if (run.over) return;
        touch();
        const text = String(message).slice(0, 4_000);
        void this.#store.appendLog(record.id, { at: clock(), message: text }).catch((error) =>
          this.#events.emit("store:error", { operation: "appendLog", error })
        );
        if (this.#events.has("job:log")) {
          this.#events.emit("job:log", { id: record.id, message: text });
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
          this.#armStuck(run, worker.lastActivity);
        });
      },
      send: (to, type, payload, options = {}) => {
        const messenger = this.#options.messenger;
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

  // ── Settling ──────────────────────────────────────────────────────────────────────────

  /** A handler settled: decide where its job goes. */
  #settle(run: Run, ok: boolean, value: unknown): void {
    if (run.over) {
      this.#lateSettlements++;
      return;
    }
    const now = this.#options.clock();
    const durationMs = performance.now() - run.startedMono;
    const reason = run.abortReason;
    if (ok && (reason === null || reason === "shutdown" || reason === "preempted")) {
      let result: string | null;
      try {
        result = value === undefined ? null : serializePayload(value, "result");
      } catch (error) {
        result = null;
        void this.#store.appendLog(run.record.id, {
          at: now,
          message: `result dropped: ${errorMessage(error)}`,
        });
      }
      this.#end(run, now, durationMs, "succeeded", null, result, "succeeded");
      return;
    }
    if (reason === "cancelled") {
      this.#end(
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
      this.#endInterrupted(
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
      this.#endFailed(run, now, durationMs, "timeout", {
        code: "JOB_TIMEOUT",
        message: `timed out after ${formatDuration(run.record.timeoutMs ?? 0)}`,
      }, false);
      return;
    }
    this.#endFailed(run, now, durationMs, "failed", {
      code: value instanceof LiminalError ? value.code : "JOB_FAILED",
      message: errorMessage(value),
    }, value instanceof PermanentJobError);
  }

  /** The handler did not settle in time after its signal: free its worker. */
  #abandon(run: Run, now: number): void {
    if (run.over) return;
    const reason = run.abortReason ?? "shutdown";
    this.#totals.abandoned++;
    this.#events.emit("job:abandoned", {
      id: run.record.id,
      kind: run.record.kind,
      worker: run.worker.id,
      reason,
    });
    const durationMs = performance.now() - run.startedMono;
    const note = `; the handler did not stop within ${
      formatDuration(this.#killAfter(run))
    } and was abandoned`;
    if (reason === "cancelled") {
      this.#end(
        run,
        now,
        durationMs,
        "cancelled",
        { code: "JOB_CANCELLED", message: `cancelled while running${note}` },
        null,
        "cancelled",
      );
    } else if (reason === "timeout") {
      this.#endFailed(run, now, durationMs, "timeout", {
        code: "JOB_TIMEOUT",
        message: `timed out after ${formatDuration(run.record.timeoutMs ?? 0)}${note}`,
      }, false);
    } else {
      this.#endInterrupted(
        run,
        now,
        durationMs,
        "stopped by the shutdown; the handler did not stop in time",
      );
    }
  }

  #endFailed(
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
      retryAt = now + backoffDelay(run.record.backoff, failures, this.#options.random);
    }
    this.#end(run, now, durationMs, outcome, error, null, next, retryAt);
  }

  #endInterrupted(run: Run, now: number, durationMs: number, message: string): void {
    const exhausted = run.record.interruptions + 1 > this.#options.maxInterruptions;
    this.#end(
      run,
      now,
      durationMs,
      "interrupted",
      {
        code: "JOB_INTERRUPTED",
        message: exhausted
          ? `${message}; interrupted ${run.record.interruptions + 1} times, giving up`
          : message,
      },
      null,
      exhausted ? "dead" : "queued",
    );
  }

  #end(
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
    this.#running.delete(record.id);
    this.#releaseKind(record.kind);
    if (record.leases.length > 0 && this.#leases !== null) {
      void this.#leases.releaseJob(record.id).catch((error: unknown) =>
        this.#events.emit("store:error", { operation: "release leases", error })
      );
    }
    if (worker.stuck) {
      this.#events.emit("worker:recovered", { worker: worker.id, jobId: record.id });
    }
    if (outcome === "succeeded") worker.done++;
    else if (outcome === "failed" || outcome === "timeout") worker.failed++;
    this.#freeWorker(worker);
    this.#run.record(durationMs);
    this.#rate.add(now);
    if (outcome === "succeeded") {
      let usual = this.#runByKind.get(record.kind);
      if (usual === undefined) this.#runByKind.set(record.kind, usual = new LatencyHistogram());
      usual.record(durationMs);
    } else if (outcome === "failed" || outcome === "timeout") {
      this.#failureRate.add(now);
    }
    const totals = this.#totals;
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
    const events = this.#events;
    const after = () => {
      // Its kind may have been refused a claim for its cluster-wide limit while this job's
      // end was not yet written: there is room now.
      this.#endsWritten++;
      if (this.#busyKinds.size > 0 && this.#busyKinds.delete(record.kind)) {
        this.#scheduleDispatch();
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
      if (next === "scheduled" && retryAt !== null && this.#state === "running") {
        this.#armDue(retryAt);
      }
      if (FINAL_STATES.has(next as JobState) && this.#waiters.has(record.id)) {
        void this.#store.get(record.id).then((stored) => stored && this.#resolveWaiters(stored));
      }
    };
    this.#pending.push({ settlement, after });
    this.#scheduleFlush();
    this.#scheduleDispatch();
    this.#notifySettled();
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#flushing !== null || this.#flushRetryTimer !== undefined) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      void this.#flush();
    });
  }

  /** Writes pending settlements; resolves when none is pending or in flight. */
  #flush(): Promise<void> {
    if (this.#flushing !== null) {
      return this.#flushing.then(() => (this.#pending.length > 0 ? this.#flush() : undefined));
    }
    if (this.#pending.length === 0) return Promise.resolve();
    this.#flushing = this.#writePending().finally(() => {
      this.#flushing = null;
      // Settlements may have arrived after the last loop of #writePending.
      if (this.#pending.length > 0) this.#scheduleFlush();
      else this.#notifyIdle();
    });
    return this.#flushing;
  }

  async #writePending(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      let requeued: ReadyEntry[];
      try {
        requeued = await this.#store.settle(batch.map((p) => p.settlement));
      } catch (error) {
        // Keep the settlements (the jobs stay running in the store) and try again.
        this.#pending = batch.concat(this.#pending);
        this.#storeFailing = errorMessage(error);
        this.#events.emit("store:error", { operation: "settle", error });
        if (this.#state === "closed") return;
        this.#flushRetryMs = Math.min(Math.max(this.#flushRetryMs * 2, 50), 5_000);
        await new Promise<void>((resolve) => {
          this.#flushRetryTimer = setTimeout(() => {
            this.#flushRetryTimer = undefined;
            resolve();
          }, this.#flushRetryMs);
        });
        continue;
      }
      this.#flushRetryMs = 0;
      this.#storeFailing = null;
      const mono = performance.now();
      for (const entry of requeued) this.#offer(entry, mono);
      for (const pending of batch) pending.after();
      if (requeued.length > 0) this.#scheduleDispatch();
    }
    this.#notifyIdle();
  }

  #abort(run: Run, reason: AbortReason, now: number, killAfterMs: number): void {
    if (run.over || run.abortReason !== null) {
      // A shutdown or cancel may tighten an earlier deadline, never loosen it.
      if (!run.over && now + killAfterMs < run.killAt) {
        run.killAt = now + killAfterMs;
        if (run.killAt < this.#watchdogAt) this.#armWatchdog(run.killAt);
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
      ? (this.#preemptedBy.get(run.record.id) ?? "a higher-priority holder took one of its leases")
      : "the runtime is shutting down";
    run.controller.abort(new LiminalError(code, message));
    if (run.killAt < this.#watchdogAt) this.#armWatchdog(run.killAt);
  }

  /** Wakes the watchdog when `run` would be stuck, counting its silence from `from`. */
  #armStuck(run: Run, from: number): void {
    if (run.stuckAfterMs === null) return;
    const stuckAt = from + run.stuckAfterMs;
    if (stuckAt < this.#watchdogAt) this.#armWatchdog(stuckAt);
  }

  #killAfter(run: Run): number {
    return run.killAfterMs ?? this.#kinds.get(run.record.kind)?.defaults.killAfterMs ??
      this.#options.killAfterMs;
  }

  // ── Timers ────────────────────────────────────────────────────────────────────────────

  #armWatchdog(at: number): void {
    if (this.#state === "closed") return;
    if (this.#watchdogTimer !== undefined) clearTimeout(this.#watchdogTimer);
    this.#watchdogAt = at;
    const delay = Math.min(Math.max(0, at - this.#options.clock()), MAX_TIMER_MS);
    this.#watchdogTimer = setTimeout(this.#onWatchdog, delay);
  }

  #onWatchdog = (): void => {
    this.#watchdogTimer = undefined;
    this.#watchdogAt = Number.POSITIVE_INFINITY;
    const now = this.#options.clock();
    let next = Number.POSITIVE_INFINITY;
    for (const run of [...this.#running.values()]) {
      if (run.over) continue;
      if (run.abortReason === null && now >= run.deadline) {
        this.#abort(run, "timeout", now, this.#killAfter(run));
      } else if (run.abortReason !== null && now >= run.killAt) {
        this.#abandon(run, now);
        continue;
      }
      const worker = run.worker;
      // Never stuck: a kind with `stuckAfter: null`, or `aliveWhile` work pending.
      const stuckAt = run.stuckAfterMs === null || run.alive > 0
        ? Number.POSITIVE_INFINITY
        : worker.lastActivity + run.stuckAfterMs;
      if (!worker.stuck && now >= stuckAt) {
        worker.stuck = true;
        this.#events.emit("worker:stuck", {
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
    if (next !== Number.POSITIVE_INFINITY && next < this.#watchdogAt) this.#armWatchdog(next);
  };

  #armDue(at: number): void {
    if (this.#state !== "running" || at >= this.#dueAt) return;
    this.#clearDueTimer();
    this.#dueAt = at;
    const delay = Math.min(Math.max(0, at - this.#options.clock()), MAX_TIMER_MS);
    this.#dueTimer = setTimeout(() => {
      this.#dueTimer = undefined;
      this.#dueAt = Number.POSITIVE_INFINITY;
      void this.#promoteDue();
    }, delay);
  }

  #clearDueTimer(): void {
    if (this.#dueTimer !== undefined) clearTimeout(this.#dueTimer);
    this.#dueTimer = undefined;
    this.#dueAt = Number.POSITIVE_INFINITY;
  }

  /** Moves due scheduled jobs to the queue, then arms the timer for the next. */
  #promoteDue(): Promise<void> {
    if (this.#promoting !== null) return this.#promoting;
    this.#promoting = (async () => {
      try {
        for (;;) {
          if (this.#state !== "running") return;
          const now = this.#options.clock();
          const entries = await this.#store.promoteDue(now, PROMOTE_BATCH);
          const mono = performance.now();
          for (const entry of entries) this.#offer(entry, mono - Math.max(0, now - entry.readyAt));
          if (entries.length > 0) this.#scheduleDispatch();
          if (entries.length < PROMOTE_BATCH) break;
        }
        const next = await this.#store.nextDueAt();
        if (next !== null) this.#armDue(next);
      } catch (error) {
        this.#events.emit("store:error", { operation: "promoteDue", error });
        this.#armDue(this.#options.clock() + 1_000);
      } finally {
        this.#promoting = null;
      }
    })();
    return this.#promoting;
  }

  // ── Bookkeeping ───────────────────────────────────────────────────────────────────────

  #releaseKind(kind: string): void {
    const count = (this.#runningByKind.get(kind) ?? 1) - 1;
    if (count <= 0) this.#runningByKind.delete(kind);
    else this.#runningByKind.set(kind, count);
  }

  #freeWorker(worker: WorkerSlot): void {
    worker.run = null;
    worker.reserved = false;
    worker.stuck = false;
    this.#idle.push(worker);
  }

  #resolveWaiters(record: JobRecord): void {
    const list = this.#waiters.get(record.id);
    if (list === undefined) return;
    this.#waiters.delete(record.id);
    for (const resolve of list) resolve(record);
  }

  #dropWaiter(id: string, waiter: (record: JobRecord) => void): void {
    const list = this.#waiters.get(id);
    if (list === undefined) return;
    const next = list.filter((w) => w !== waiter);
    if (next.length === 0) this.#waiters.delete(id);
    else this.#waiters.set(id, next);
  }

  #isIdle(): boolean {
    return this.#running.size === 0 && this.#claiming === 0 && this.#pending.length === 0 &&
      this.#flushing === null &&
      (this.#ready.size === this.#ready.parkedSize || this.#state !== "running" || this.#paused);
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #notifySettled(): void {
    if (this.#running.size > 0 || this.#claiming > 0) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves when nothing runs, or after `ms`, or on `signal`. Leaves no timer behind. */
  #untilSettledOr(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        signal?.removeEventListener("abort", done);
        this.#settledWaiters = this.#settledWaiters.filter((w) => w !== done);
        resolve();
      };
      if (signal?.aborted) return resolve();
      signal?.addEventListener("abort", done, { once: true });
      this.#settledWaiters.push(done);
      timer = setTimeout(done, Math.max(0, ms));
    });
  }
}

/** A queued job's request for its leases. */
function leaseRequest(entry: { id: string; level: number }): LeaseGateRequest {
  return { holder: `job:${entry.id}`, priority: priorityAt(entry.level), jobId: entry.id };
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

function resolveDelay(value: NonNullable<JobSpec["delay"]>, label: string): number {
  return parseDuration(value, `${label} delay`);
}

function checkPriority(priority: unknown, label: string): Priority {
  return parsePriority(priority, `${label} priority`);
}

function parsePayloadText(text: string): JsonValue {
  return JSON.parse(text) as JsonValue;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
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
