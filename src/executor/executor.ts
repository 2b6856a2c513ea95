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
import type { RecoveredDead } from "../store/types.ts";
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
import { abort, killAfter, onWatchdog, ownKillAfter, preemptJob } from "./_run.ts";
import {
  abandon,
  announceDead,
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
import type { AnyJobKind, JobKindRegistry } from "./job_kind.ts";
import type { EnqueueResult, JobSpec } from "./job_spec.ts";
import type { ExecutorOptions, InterruptOptions } from "./options.ts";

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

  /** Builds an executor over `options.store`; nothing runs until `start()`. */
  constructor(options: ExecutorOptions) {
    const s = new ExecutorState(options);
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
  register(kind: AnyJobKind): void {
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
    const s = this.#s;
    if (s.lifecycle !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the executor was already started (${s.lifecycle})`,
      );
    }
    s.lifecycle = "starting";
    if (s.shared) {
      s.offChange = s.store.onChange!((change) => onStoreChange(s, change));
    }
    await Promise.all(PRIORITIES.map((_, level) => refill(s, level)));
    s.lifecycle = "running";
    await promoteDue(s);
    if (s.shared) armResync(s);
    scheduleDispatch(s);
  }

  /** Stops starting jobs until {@link resume}; enqueues are still taken. */
  pause(): void {
    const s = this.#s;
    if (s.lifecycle !== "running" || s.paused) return;
    s.paused = true;
    s.events.emit("intake:changed", { intake: "paused" });
  }

  /** Starts queued jobs again after {@link pause}. */
  resume(): void {
    const s = this.#s;
    if (s.lifecycle !== "running" || !s.paused) return;
    s.paused = false;
    s.events.emit("intake:changed", { intake: "open" });
    scheduleDispatch(s);
  }

  /**
   * Shutdown phase 1: refuses new jobs (`RUNTIME_SHUTTING_DOWN`) and starts no queued job.
   * Running jobs go on; queued and scheduled ones stay in the store.
   */
  closeIntake(): void {
    const s = this.#s;
    if (s.lifecycle === "closing" || s.lifecycle === "closed") return;
    s.lifecycle = "closing";
    clearDueTimer(s);
    s.events.emit("intake:changed", { intake: "closed" });
  }

  /**
   * Shutdown phase 2: waits until no job runs, or `graceMs` passes. Resolves with the number
   * of jobs still running.
   */
  async drain(graceMs: number, signal?: AbortSignal): Promise<number> {
    const s = this.#s;
    this.closeIntake();
    if (s.running.size > 0 || s.claiming > 0) {
      await untilSettledOr(s, graceMs, signal);
    }
    await flush(s);
    return s.running.size;
  }

  /**
   * Shutdown phase 3: aborts every running job's signal (reason `JOB_INTERRUPTED`), waits up
   * to `hardMs` for them to settle, then records those still running as interrupted and
   * queues them again. Resolves with the number of jobs interrupted.
   *
   * With `options.ownKillAfter`, a job whose kind or payload sets its own kill-after (a
   * `command` job: its kill grace plus a margin) gets that long when it is longer than
   * `hardMs`: its program has its SIGTERM → SIGKILL grace to clean up. `options.signal`
   * (a forced shutdown) ends every wait at once.
   */
  async interrupt(hardMs: number, options: InterruptOptions = {}): Promise<number> {
    const s = this.#s;
    this.closeIntake();
    // Claims on their way land first: their jobs start and are stopped with the others.
    if (s.claimTasks.size > 0) await Promise.all([...s.claimTasks]);
    const before = s.totals.interrupted;
    const now = s.options.clock();
    const forced = options.signal?.aborted ?? false;
    let waitMs = hardMs;
    for (const run of s.running.values()) {
      const own = options.ownKillAfter && !forced ? ownKillAfter(s, run) : null;
      const ms = Math.max(hardMs, own ?? 0);
      waitMs = Math.max(waitMs, ms);
      abort(s, run, "shutdown", now, ms);
    }
    if (s.running.size > 0) await untilSettledOr(s, waitMs, options.signal);
    const late = s.options.clock();
    for (const run of [...s.running.values()]) abandon(s, run, late);
    await flush(s);
    return s.totals.interrupted - before;
  }

  /** Stops every timer and writes what is pending. The executor cannot start again. */
  async stop(): Promise<void> {
    const s = this.#s;
    if (s.lifecycle === "closed") return;
    if (s.running.size > 0 || s.claimTasks.size > 0) await this.interrupt(0);
    this.closeIntake();
    s.lifecycle = "closed";
    clearDueTimer(s);
    if (s.watchdogTimer !== undefined) clearTimeout(s.watchdogTimer);
    s.watchdogTimer = undefined;
    s.watchdogAt = Number.POSITIVE_INFINITY;
    if (s.promoting) await s.promoting.catch(() => {});
    await flush(s);
    if (s.flushRetryTimer !== undefined) clearTimeout(s.flushRetryTimer);
    s.flushRetryTimer = undefined;
    s.offChange?.();
    s.offChange = null;
    if (s.resyncTimer !== undefined) clearTimeout(s.resyncTimer);
    if (s.wakeTimer !== undefined) clearTimeout(s.wakeTimer);
    s.resyncTimer = s.wakeTimer = undefined;
    s.wakeTimerAt = Number.POSITIVE_INFINITY;
    if (s.sliceTimer !== undefined) clearTimeout(s.sliceTimer);
    if (s.yieldTimer !== undefined) clearTimeout(s.yieldTimer);
    s.sliceTimer = s.yieldTimer = undefined;
    s.sliceStart = 0;
    s.dispatchQueued = false;
    s.ready.clear();
    s.foreign.clear();
    s.queuedIds?.clear();
    s.cancelOnStart.clear();
    s.preemptOnStart.clear();
    for (const kind of s.kinds) {
      try {
        await kind.dispose?.();
      } catch (error) {
        s.events.emit("store:error", { operation: `dispose ${kind.kind}`, error });
      }
    }
    notifyIdle(s);
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
    const s = this.#s;
    assertAccepting(s);
    const now = s.options.clock();
    const jobs = resolveSpecs(s, specs, now);
    if (jobs.length === 0) return [];
    const inserted = await s.store.insert(jobs, now);
    const mono = performance.now();
    const results: EnqueueResult[] = new Array(inserted.length);
    let earliestDue = Number.POSITIVE_INFINITY;
    const emit = s.events.has("job:enqueued");
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
      s.totals.enqueued++;
      if (outcome.entry !== null) offer(s, outcome.entry, mono);
      else if (outcome.state === "scheduled" && job.runAt < earliestDue) earliestDue = job.runAt;
      if (emit) {
        s.events.emit("job:enqueued", {
          id: outcome.id,
          kind: job.kind,
          priority: job.priority,
          state: outcome.state,
          runAt: job.runAt,
        });
      }
    }
    if (earliestDue !== Number.POSITIVE_INFINITY) armDue(s, earliestDue);
    scheduleDispatch(s);
    return results;
  }

  /**
   * Cancels a job: a scheduled or queued one becomes `cancelled` at once; a running one has
   * its signal aborted (reason `JOB_CANCELLED`) and becomes `cancelled` when its handler
   * settles. Resolves with the job as it is now.
   */
  async cancel(id: string): Promise<JobRecord> {
    const s = this.#s;
    const running = s.running.get(id);
    if (running !== undefined) {
      abort(s, running, "cancelled", s.options.clock(), killAfter(s, running));
      const record = await s.store.get(id);
      if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      return record;
    }
    const record = await s.store.cancel(id, s.options.clock());
    s.foreign.delete(id);
    if (record.state === "running") {
      const run = s.running.get(id);
      if (run !== undefined) {
        abort(s, run, "cancelled", s.options.clock(), killAfter(s, run));
      } else if (s.claimingIds.has(id)) {
        // Claimed here a moment ago: aborted as soon as it starts.
        s.cancelOnStart.add(id);
      }
      // Else it runs on another runtime sharing the store: the store tells that one.
      return record;
    }
    s.totals.cancelled++;
    s.events.emit("job:cancelled", { id, kind: record.kind, running: false });
    resolveWaiters(s, record);
    return record;
  }

  /**
   * A running job lost a lease it holds to a higher-priority requester: its signal aborts
   * (reason `JOB_INTERRUPTED`, with `why`) and it is queued again when its handler settles.
   */
  preempt(id: string, why: string): boolean {
    return preemptJob(this.#s, id, why);
  }

  /** Interruptions a job survives before it is dead (`maxInterruptions`). */
  get maxInterruptions(): number {
    return this.#s.options.maxInterruptions;
  }

  /**
   * Announces jobs a store's crash recovery moved to `dead` (see
   * `JobStore.recoverInterrupted`): `job:dead` (reason `interrupted`, worker `"recovery"`)
   * for each, and the waiters for them answered. The runtime calls it for the recovery at
   * its start; rescues a shared store makes later arrive as a `dead` store change.
   */
  announceDead(jobs: readonly RecoveredDead[]): void {
    announceDead(this.#s, jobs);
  }

  /**
   * When a running job that was told to stop (timeout, cancel, shutdown, preemption) will have
   * been killed at the latest (epoch ms); `null` when it does not run here or was not told.
   */
  stopDeadline(id: string): number | null {
    const run = this.#s.running.get(id);
    if (run === undefined || run.abortReason === null) return null;
    return run.killAt;
  }

  /** Puts a dead or cancelled job back in the queue with a fresh attempt budget. */
  async retry(id: string): Promise<JobRecord> {
    const s = this.#s;
    assertAccepting(s);
    const entry = await s.store.retry(id, s.options.clock());
    // The answer is the job as the retry left it (queued), read before a worker may claim it.
    const record = await s.store.get(id);
    offer(s, entry, performance.now());
    s.events.emit("job:retried", { id, kind: entry.kind });
    scheduleDispatch(s);
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
    const s = this.#s;
    signal?.throwIfAborted();
    let resolveWaiter!: (record: JobRecord) => void;
    const settled = new Promise<JobRecord>((resolve) => (resolveWaiter = resolve));
    const list = s.waiters.get(id);
    if (list) list.push(resolveWaiter);
    else s.waiters.set(id, [resolveWaiter]);
    const current = await s.store.get(id);
    if (current === null) {
      dropWaiter(s, id, resolveWaiter);
      throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    }
    if (FINAL_STATES.has(current.state)) {
      dropWaiter(s, id, resolveWaiter);
      return current;
    }
    if (signal === undefined) return settled;
    return await new Promise<JobRecord>((resolve, reject) => {
      const onAbort = () => {
        dropWaiter(s, id, resolveWaiter);
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
