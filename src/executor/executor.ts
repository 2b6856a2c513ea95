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
 * The class is the executor's public face; its rooms share one internal state object
 * (`_state.ts`): dispatch (`_dispatch.ts`), settling (`_settle.ts`), the store windows
 * (`_windows.ts`), a run (`_run.ts`), diagnostics (`_diagnostics.ts`) and intake
 * (`_intake.ts`). See `docs/architecture.md`.
 *
 * @module
 */
import type { EventSource } from "../shared/emitter.ts";
import { LiminalError } from "../shared/errors.ts";
import { FINAL_STATES, type JobRecord, type JobState } from "../shared/job.ts";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { ExecutorSnapshot, IntakeState } from "../shared/snapshot.ts";
import {
  explainJob,
  histogramsOf,
  intakeOf,
  leaseWaitersOf,
  queueOrderOf,
  snapshotOf,
} from "./_diagnostics.ts";
import {
  blockKey,
  dispatch,
  dispatchAfterYield,
  endSlice,
  isOpen,
  scheduleDispatch,
} from "./_dispatch.ts";
import { assertAccepting, resolveSpec, resolveSpecs } from "./_intake.ts";
import { abort, killAfter, onWatchdog, preemptJob } from "./_run.ts";
import {
  abandon,
  dropWaiter,
  flush,
  isIdle,
  notifyIdle,
  resolveWaiters,
  untilSettledOr,
} from "./_settle.ts";
import { ExecutorState } from "./_state.ts";
import {
  armDue,
  armResync,
  clearDueTimer,
  offer,
  onStoreChange,
  promoteDue,
  refill,
} from "./_windows.ts";
import type { ExecutorEventMap } from "./events.ts";
import type { JobKind, JobKindRegistry } from "./job_kind.ts";
import type { EnqueueResult, JobSpec } from "./job_spec.ts";
import type { ExecutorOptions } from "./options.ts";

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
  readonly #s: ExecutorState;

  constructor(options: ExecutorOptions) {
    const s = new ExecutorState(options, options.kinds ?? []);
    this.#s = s;
    s.dispatchTask = () => dispatch(s);
    s.endSliceTask = () => endSlice(s);
    s.dispatchAfterYieldTask = () => dispatchAfterYield(s);
    s.blockKey = (entry) => blockKey(s, entry);
    s.isOpen = (key, head) => isOpen(s, key, head);
    s.watchdogTask = () => onWatchdog(s);
    s.leases?.onFree(() => scheduleDispatch(s));
  }

  // ── Events ────────────────────────────────────────────────────────────────────────────

  on<K extends keyof ExecutorEventMap>(
    event: K,
    listener: (payload: ExecutorEventMap[K]) => void,
  ): () => void {
    return this.#s.events.on(event, listener);
  }

  once<K extends keyof ExecutorEventMap>(
    event: K,
    listener: (payload: ExecutorEventMap[K]) => void,
  ): () => void {
    return this.#s.events.once(event, listener);
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────────

  /** The kinds this executor runs. */
  get kinds(): JobKindRegistry {
    return this.#s.kinds;
  }

  /** The number of workers. */
  get workerCount(): number {
    return this.#s.workers.length;
  }

  /** Whether new jobs are taken and queued ones started. */
  get intake(): IntakeState {
    return intakeOf(this.#s);
  }

  /** Attempts that ended so far, interruptions aside. */
  get attemptsEnded(): number {
    const t = this.#s.totals;
    return t.succeeded + t.failedAttempts + t.cancelled;
  }

  /** Queued jobs held in memory: the ready window (the store may hold many more). */
  get inMemory(): number {
    return this.#s.ready.size;
  }

  /** Jobs running now. */
  get runningCount(): number {
    return this.#s.running.size;
  }

  /** Adds a job kind. Only before `start()`. */
  register(kind: JobKind): void {
    if (this.#s.lifecycle !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `job kinds can only be registered before start (kind "${kind.kind}")`,
      );
    }
    this.#s.kinds.register(kind);
  }

  /** Loads the ready window from the store and starts the workers. The store must be open. */
  async start(): Promise<void> {
    if (this.#s.lifecycle !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the executor was already started (${this.#s.lifecycle})`,
      );
    }
    this.#s.lifecycle = "starting";
    if (this.#s.shared) {
      this.#s.offChange = this.#s.store.onChange!((change) => onStoreChange(this.#s, change));
    }
    await Promise.all(PRIORITIES.map((_, level) => refill(this.#s, level)));
    this.#s.lifecycle = "running";
    await promoteDue(this.#s);
    if (this.#s.shared) armResync(this.#s);
    scheduleDispatch(this.#s);
  }

  /** Stops starting jobs until {@link resume}; enqueues are still taken. */
  pause(): void {
    if (this.#s.lifecycle !== "running" || this.#s.paused) return;
    this.#s.paused = true;
    this.#s.events.emit("intake:changed", { intake: "paused" });
  }

  /** Starts queued jobs again after {@link pause}. */
  resume(): void {
    if (this.#s.lifecycle !== "running" || !this.#s.paused) return;
    this.#s.paused = false;
    this.#s.events.emit("intake:changed", { intake: "open" });
    scheduleDispatch(this.#s);
  }

  /**
   * Shutdown phase 1: refuses new jobs (`RUNTIME_SHUTTING_DOWN`) and starts no queued job.
   * Running jobs go on; queued and scheduled ones stay in the store.
   */
  closeIntake(): void {
    if (this.#s.lifecycle === "closing" || this.#s.lifecycle === "closed") return;
    this.#s.lifecycle = "closing";
    clearDueTimer(this.#s);
    this.#s.events.emit("intake:changed", { intake: "closed" });
  }

  /**
   * Shutdown phase 2: waits until no job runs, or `graceMs` passes. Resolves with the number
   * of jobs still running.
   */
  async drain(graceMs: number, signal?: AbortSignal): Promise<number> {
    this.closeIntake();
    if (this.#s.running.size > 0 || this.#s.claiming > 0) {
      await untilSettledOr(this.#s, graceMs, signal);
    }
    await flush(this.#s);
    return this.#s.running.size;
  }

  /**
   * Shutdown phase 3: aborts every running job's signal (reason `JOB_INTERRUPTED`), waits up
   * to `hardMs` for them to settle, then records those still running as interrupted and
   * queues them again. Resolves with the number of jobs interrupted.
   */
  async interrupt(hardMs: number): Promise<number> {
    this.closeIntake();
    // Claims on their way land first: their jobs start and are stopped with the others.
    if (this.#s.claimTasks.size > 0) await Promise.all([...this.#s.claimTasks]);
    const before = this.#s.totals.interrupted;
    const now = this.#s.options.clock();
    for (const run of this.#s.running.values()) abort(this.#s, run, "shutdown", now, hardMs);
    if (this.#s.running.size > 0) await untilSettledOr(this.#s, hardMs);
    const late = this.#s.options.clock();
    for (const run of [...this.#s.running.values()]) abandon(this.#s, run, late);
    await flush(this.#s);
    return this.#s.totals.interrupted - before;
  }

  /** Stops every timer and writes what is pending. The executor cannot start again. */
  async stop(): Promise<void> {
    if (this.#s.lifecycle === "closed") return;
    if (this.#s.running.size > 0 || this.#s.claimTasks.size > 0) await this.interrupt(0);
    this.closeIntake();
    this.#s.lifecycle = "closed";
    clearDueTimer(this.#s);
    if (this.#s.watchdogTimer !== undefined) clearTimeout(this.#s.watchdogTimer);
    this.#s.watchdogTimer = undefined;
    this.#s.watchdogAt = Number.POSITIVE_INFINITY;
    if (this.#s.promoting) await this.#s.promoting.catch(() => {});
    await flush(this.#s);
    if (this.#s.flushRetryTimer !== undefined) clearTimeout(this.#s.flushRetryTimer);
    this.#s.flushRetryTimer = undefined;
    this.#s.offChange?.();
    this.#s.offChange = null;
    if (this.#s.resyncTimer !== undefined) clearTimeout(this.#s.resyncTimer);
    if (this.#s.wakeTimer !== undefined) clearTimeout(this.#s.wakeTimer);
    this.#s.resyncTimer = this.#s.wakeTimer = undefined;
    this.#s.wakeTimerAt = Number.POSITIVE_INFINITY;
    if (this.#s.sliceTimer !== undefined) clearTimeout(this.#s.sliceTimer);
    if (this.#s.yieldTimer !== undefined) clearTimeout(this.#s.yieldTimer);
    this.#s.sliceTimer = this.#s.yieldTimer = undefined;
    this.#s.sliceStart = 0;
    this.#s.dispatchQueued = false;
    this.#s.ready.clear();
    this.#s.foreign.clear();
    this.#s.queuedIds?.clear();
    this.#s.cancelOnStart.clear();
    this.#s.preemptOnStart.clear();
    for (const kind of this.#s.kinds) {
      try {
        await kind.dispose?.();
      } catch (error) {
        this.#s.events.emit("store:error", { operation: `dispose ${kind.kind}`, error });
      }
    }
    notifyIdle(this.#s);
  }

  /** Resolves when no job is queued in memory or running (scheduled jobs may remain). */
  onIdle(): Promise<void> {
    if (isIdle(this.#s)) return Promise.resolve();
    return new Promise((resolve) => this.#s.idleWaiters.push(resolve));
  }

  // ── Jobs ──────────────────────────────────────────────────────────────────────────────

  /**
   * Checks a spec as {@link enqueue} would (kind, payload, priority, durations, leases)
   * without enqueuing it: throws the same errors, changes nothing.
   */
  check(spec: JobSpec): void {
    resolveSpec(this.#s, spec, this.#s.options.clock(), "job");
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
    assertAccepting(this.#s);
    const now = this.#s.options.clock();
    const jobs = resolveSpecs(this.#s, specs, now);
    if (jobs.length === 0) return [];
    const inserted = await this.#s.store.insert(jobs, now);
    const mono = performance.now();
    const results: EnqueueResult[] = new Array(inserted.length);
    let earliestDue = Number.POSITIVE_INFINITY;
    const emit = this.#s.events.has("job:enqueued");
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
      this.#s.totals.enqueued++;
      if (outcome.entry !== null) offer(this.#s, outcome.entry, mono);
      else if (outcome.state === "scheduled" && job.runAt < earliestDue) earliestDue = job.runAt;
      if (emit) {
        this.#s.events.emit("job:enqueued", {
          id: outcome.id,
          kind: job.kind,
          priority: job.priority,
          state: outcome.state,
          runAt: job.runAt,
        });
      }
    }
    if (earliestDue !== Number.POSITIVE_INFINITY) armDue(this.#s, earliestDue);
    scheduleDispatch(this.#s);
    return results;
  }

  /**
   * Cancels a job: a scheduled or queued one becomes `cancelled` at once; a running one has
   * its signal aborted (reason `JOB_CANCELLED`) and becomes `cancelled` when its handler
   * settles. Resolves with the job as it is now.
   */
  async cancel(id: string): Promise<JobRecord> {
    const running = this.#s.running.get(id);
    if (running !== undefined) {
      abort(this.#s, running, "cancelled", this.#s.options.clock(), killAfter(this.#s, running));
      const record = await this.#s.store.get(id);
      if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      return record;
    }
    const record = await this.#s.store.cancel(id, this.#s.options.clock());
    this.#s.foreign.delete(id);
    if (record.state === "running") {
      const run = this.#s.running.get(id);
      if (run !== undefined) {
        abort(this.#s, run, "cancelled", this.#s.options.clock(), killAfter(this.#s, run));
      } else if (this.#s.claimingIds.has(id)) {
        // Claimed here a moment ago: aborted as soon as it starts.
        this.#s.cancelOnStart.add(id);
      }
      // Else it runs on another runtime sharing the store: the store tells that one.
      return record;
    }
    this.#s.totals.cancelled++;
    this.#s.events.emit("job:cancelled", { id, kind: record.kind, running: false });
    resolveWaiters(this.#s, record);
    return record;
  }

  /**
   * A running job lost a lease it holds to a higher-priority requester: its signal aborts
   * (reason `JOB_INTERRUPTED`, with `why`) and it is queued again when its handler settles.
   */
  preempt(id: string, why: string): boolean {
    return preemptJob(this.#s, id, why);
  }

  /** Puts a dead or cancelled job back in the queue with a fresh attempt budget. */
  async retry(id: string): Promise<JobRecord> {
    assertAccepting(this.#s);
    const entry = await this.#s.store.retry(id, this.#s.options.clock());
    offer(this.#s, entry, performance.now());
    this.#s.events.emit("job:retried", { id, kind: entry.kind });
    scheduleDispatch(this.#s);
    const record = await this.#s.store.get(id);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    return record;
  }

  /** The job, or `null`. */
  get(id: string): Promise<JobRecord | null> {
    return this.#s.store.get(id);
  }

  /**
   * Resolves with the job once it is in a final state (`succeeded`, `dead`, `cancelled`) and
   * that state is committed. Unknown id: `JOB_NOT_FOUND`.
   */
  async waitFor(id: string, signal?: AbortSignal): Promise<JobRecord> {
    signal?.throwIfAborted();
    let resolveWaiter!: (record: JobRecord) => void;
    const settled = new Promise<JobRecord>((resolve) => (resolveWaiter = resolve));
    const list = this.#s.waiters.get(id);
    if (list) list.push(resolveWaiter);
    else this.#s.waiters.set(id, [resolveWaiter]);
    const current = await this.#s.store.get(id);
    if (current === null) {
      dropWaiter(this.#s, id, resolveWaiter);
      throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    }
    if (FINAL_STATES.has(current.state)) {
      dropWaiter(this.#s, id, resolveWaiter);
      return current;
    }
    if (signal === undefined) return settled;
    return await new Promise<JobRecord>((resolve, reject) => {
      const onAbort = () => {
        dropWaiter(this.#s, id, resolveWaiter);
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
  snapshot(): Promise<ExecutorSnapshot> {
    return snapshotOf(this.#s);
  }

  /** Wait and run time histograms, as cumulative counts at the given bounds (ms). */
  histograms(
    boundsMs: readonly number[],
  ): { wait: number[]; run: number[]; waitCount: number; runCount: number } {
    return histogramsOf(this.#s, boundsMs);
  }

  /**
   * Why a job is not running: its state, and for a waiting job every reason that holds it
   * back (delay, backoff, paused intake, its place in line, a full per-kind limit, a lease
   * held by someone else, no handler for its kind, all workers busy).
   */
  explain(id: string): Promise<{ id: string; state: JobState; reasons: string[] }> {
    return explainJob(this.#s, id);
  }

  /** Queued jobs waiting for a lease, by resource, in the order they would get it. */
  leaseWaiters(): Map<string, { jobId: string; priority: Priority; since: number }[]> {
    return leaseWaitersOf(this.#s);
  }

  /** The queued entries in the order they would run (at most `limit`), for `jobs why`. */
  queueOrder(
    limit: number,
  ): { id: string; kind: string; priority: Priority; effective: Priority; readyAt: number }[] {
    return queueOrderOf(this.#s, limit);
  }

  /**
   * Checks job specs as `enqueueMany` would, without enqueuing anything: unknown kinds, bad
   * payloads, priorities, durations. Throws the first problem, naming the job (`jobs[3]`).
   */
  validate(specs: readonly JobSpec[]): void {
    resolveSpecs(this.#s, specs, this.#s.options.clock(), true);
  }
}
