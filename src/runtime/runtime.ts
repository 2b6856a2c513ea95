/**
 * The `Runtime`: liminal's composition root. One per process.
 *
 * ```
 * created ──start()──► starting ──► running ──shutdown()──► stopping ──► stopped
 *                          └──(a part failed to start: started parts are stopped)──► stopped
 * ```
 *
 * Construction starts nothing. `start()` starts the parts in order (store → leases → router
 * → executor → scheduler → retention → control server → signals), each registering its
 * teardown for the shutdown phases it takes part in. `shutdown()` runs the
 * ordered sequence of `shutdown.ts` once, however often it is called.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ControlServer } from "../control/server.ts";
import { assertSocketFree, checkSocketPath } from "../control/socket.ts";
import { MaintenanceExecutor } from "../executor/executor.ts";
import { builtinJobs, ProcessGuard, runtimeJobs } from "../jobs/mod.ts";
import { overlaps, TerritoryLeases } from "../leases/territory_leases.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { Scheduler } from "../scheduler/scheduler.ts";
import { UnifiedMessageRouter } from "../router/router.ts";
import type { EndpointDefinition } from "../router/definition.ts";
import { formatDuration } from "../shared/duration.ts";
import { Emitter, type EventSource } from "../shared/emitter.ts";
import { type ErrorCode, errorMessage, isLiminalError, LiminalError } from "../shared/errors.ts";
import type {
  ClusterSnapshot,
  RuntimeSnapshot,
  RuntimeState,
  ShutdownProgress,
  ShutdownReport,
  Warning,
} from "../shared/snapshot.ts";
import { VERSION } from "../shared/version.ts";
import { MemoryStore } from "../store/memory/memory_store.ts";
import type { JobStore, NodeInfo } from "../store/types.ts";
import type { RuntimeEventMap } from "./events.ts";
import { controlTarget } from "./control_target.ts";
import { resolveRuntimeConfig, type RuntimeConfig, type RuntimeOptions } from "./options.ts";
import { LoopMonitor } from "./loop_monitor.ts";
import { pruneInBatches, RetentionSweeper } from "./retention.ts";
import { ShutdownPlan } from "./shutdown.ts";
import { StoreWriteWatch } from "./store_writes.ts";
import { type ShutdownSignal, SignalWatcher } from "./signals.ts";

const ACTIVE = Symbol.for("liminal.runtime.active");
type GlobalWithRuntime = typeof globalThis & { [ACTIVE]?: { pid: number; startedAt: number } };

const log = getLogger(["liminal", "runtime"]);

/** Time pending router messages get to be delivered in shutdown phase 4. */
const ROUTER_CLOSE_GRACE_MS = 2_000;

/** Registers a module's endpoint and its topic subscriptions. */
function registerEndpoint(router: UnifiedMessageRouter, definition: EndpointDefinition): void {
  const options = {
    handler: definition.handler,
    ...(definition.concurrency === undefined ? {} : { concurrency: definition.concurrency }),
    ...(definition.mailbox === undefined ? {} : { mailbox: definition.mailbox }),
  };
  router.register(definition.name, options);
  for (const topic of definition.topics ?? []) {
    router.subscribe(topic, { ...options, name: `${definition.name}<${topic}>` });
  }
}

/** Timer lag that counts as a blocked event loop. */
const LOOP_BLOCKED_MS = 200;

/** Options of {@link Runtime.shutdown}. */
export interface ShutdownOptions {
  /** Overrides the grace period of this shutdown. */
  grace?: number;
  /** Skips the drain: running jobs are interrupted at once. */
  force?: boolean;
}

/**
 * One liminal runtime. See the module doc for its lifecycle.
 *
 * @example
 * ```ts
 * await using runtime = new Runtime({ workers: 2 });
 * await runtime.start();
 * const { id } = await runtime.executor.enqueue({ kind: "sleep", payload: { ms: 100 } });
 * await runtime.executor.waitFor(id);
 * // leaving the block runs the ordered shutdown
 * ```
 */
export class Runtime implements EventSource<RuntimeEventMap>, AsyncDisposable {
  readonly #config: RuntimeConfig;
  readonly #events = new Emitter<RuntimeEventMap>();
  #state: RuntimeState = "created";
  readonly #store: JobStore;
  readonly #executor: MaintenanceExecutor;
  readonly #leases: TerritoryLeases;
  readonly #router: UnifiedMessageRouter;
  readonly #scheduler: Scheduler;
  readonly #processes: ProcessGuard;
  #signals: SignalWatcher | null = null;
  #control: ControlServer | null = null;
  #plan = new ShutdownPlan();
  #startedAt: number | null = null;
  #shutdown: Promise<ShutdownReport> | null = null;
  #force = new AbortController();
  #progress: ShutdownProgress | null = null;
  #cluster: ClusterSnapshot | null = null;
  #clusterReading: Promise<void> | null = null;
  /** The code of the last failed node-list read: an unreachable store is said as such. */
  #clusterErrorCode: ErrorCode | null = null;
  readonly #loop = new LoopMonitor();
  readonly #writes = new StoreWriteWatch();
  #report: ShutdownReport | null = null;
  #graceMs = 0;
  #interrupted = 0;
  #stopped: Promise<void>;
  #resolveStopped!: () => void;

  /** Builds the parts from `options`; nothing opens, listens or runs until `start()`. */
  constructor(options: RuntimeOptions = {}) {
    const config = resolveRuntimeConfig(options);
    this.#config = config;
    this.#stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    // Building the parts is pure: nothing opens, listens or runs until start().
    // Every part writes through the watch, so status can say when the store refuses writes.
    const store: JobStore = this.#writes.watch(config.store ?? new MemoryStore());
    this.#store = store;
    if (store.liveness !== undefined) checkFencing(store.liveness, config.killGraceMs);
    // The process groups of `command` jobs: a watchdog kills them if this process dies, and
    // with a SQLite store they are recorded next to it for the next start on it.
    this.#processes = new ProcessGuard({
      killGraceMs: config.killGraceMs,
      file: processRecordOf(store),
    });
    this.#leases = new TerritoryLeases({
      store,
      ...config.leases,
      // A preempted job's lease is handed over once its attempt ends: by this deadline.
      stopDeadline: (jobId) => this.#executor.stopDeadline(jobId),
    });
    const leases = this.#leases;
    // The executor publishes job events: it pays no token budget.
    const routerOptions = config.router;
    this.#router = new UnifiedMessageRouter({
      ...routerOptions,
      tokens: routerOptions.tokens === false ? false : {
        ...routerOptions.tokens,
        senders: { ...routerOptions.tokens?.senders, executor: false, leases: false },
      },
    });
    const router = this.#router;
    this.#executor = new MaintenanceExecutor({
      store,
      kinds: [
        ...(config.builtins ? builtinJobs({ processes: this.#processes }) : []),
        ...(config.builtins
          ? runtimeJobs({
            prune: (options) => this.prune(options),
            sweepLeases: () => leases.sweep(),
          })
          : []),
        ...config.jobs,
      ],
      workers: config.workers,
      agingInterval: config.agingInterval,
      killAfter: config.killAfter,
      stuckAfter: config.stuckAfter,
      starvationAfter: config.starvationAfter,
      leases,
      messenger: (from, to, type, payload, options) =>
        router.send(to, type, payload, {
          from,
          ...(options.priority === undefined ? {} : { priority: options.priority }),
          ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
          ...(options.ack === undefined ? {} : { ack: options.ack }),
          ...(options.optional === undefined ? {} : { optional: options.optional }),
        }),
      ...(config.window === undefined ? {} : { window: config.window }),
    });
    const executor = this.#executor;
    this.#scheduler = new Scheduler({
      store,
      definitions: config.schedules,
      target: {
        enqueue: (spec) => executor.enqueue(spec),
        get: (id) => executor.get(id),
        requireKind: (kind) => void executor.kinds.require(kind),
        check: (spec) => executor.check(spec),
      },
    });
  }

  on<K extends keyof RuntimeEventMap>(
    event: K,
    listener: (payload: RuntimeEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof RuntimeEventMap>(
    event: K,
    listener: (payload: RuntimeEventMap[K]) => void,
  ): () => void {
    return this.#events.once(event, listener);
  }

  /** The lifecycle state. */
  get state(): RuntimeState {
    return this.#state;
  }

  /** The executor (built with the runtime, started by `start()`). */
  get executor(): MaintenanceExecutor {
    return this.#executor;
  }

  /** Territory leases. */
  get leases(): TerritoryLeases {
    return this.#leases;
  }

  /** The message router. */
  get router(): UnifiedMessageRouter {
    return this.#router;
  }

  /** Recurring schedules. */
  get scheduler(): Scheduler {
    return this.#scheduler;
  }

  /**
   * The process groups of running `command` jobs, and their watchdog.
   *
   * @internal For the CLI and the built-in jobs; not part of the public API.
   */
  get processes(): ProcessGuard {
    return this.#processes;
  }

  /** The job store (opened by `start()`). */
  get store(): JobStore {
    return this.#store;
  }

  /**
   * The resolved configuration (every default applied).
   *
   * @internal For the CLI and the control server; not part of the public API.
   */
  get config(): Readonly<RuntimeConfig> {
    return this.#config;
  }

  /** Resolves once the runtime is stopped (after a shutdown, or a failed start). */
  stopped(): Promise<void> {
    return this.#stopped;
  }

  /** The report of the last shutdown, once it is over. */
  get report(): ShutdownReport | null {
    return this.#report;
  }

  /**
   * Builds and starts the parts in order. Refused with `RUNTIME_ALREADY_RUNNING` when
   * another runtime runs in this process. If a part fails to start, the parts already
   * started are stopped and the error is thrown.
   */
  async start(): Promise<void> {
    if (this.#state !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `a runtime starts once; this one is ${this.#state}`,
      );
    }
    const global = globalThis as GlobalWithRuntime;
    const active = global[ACTIVE];
    if (active !== undefined) {
      throw new LiminalError(
        "RUNTIME_ALREADY_RUNNING",
        `a runtime already runs in this process (pid ${active.pid}, started ${
          new Date(active.startedAt).toISOString()
        })`,
        { hint: "use the running runtime, or shut it down first" },
      );
    }
    global[ACTIVE] = { pid: Deno.pid, startedAt: Date.now() };
    this.#setState("starting");
    const started = performance.now();
    try {
      await this.#startParts();
    } catch (error) {
      log.debug("start failed: {error}", { error: errorMessage(error) });
      await this.#plan.run(AbortSignal.abort(), () => {});
      await this.#control?.close().catch(() => {});
      this.#signals?.uninstall();
      this.#finish();
      throw error;
    }
    this.#startedAt = Date.now();
    this.#setState("running");
    log.info("runtime started in {ms}: {workers} workers, store {store}", {
      ms: formatDuration(performance.now() - started),
      workers: this.#config.workers,
      store: this.#store.info.location,
    });
  }

  async #startParts(): Promise<void> {
    const config = this.#config;
    // Refuse a socket path too long to bind, or a live runtime on it, before touching the store.
    if (config.socket !== null) {
      checkSocketPath(config.socket);
      await assertSocketFree(config.socket);
    }
    this.#loop.start();
    this.#plan.add("store-closed", "loop monitor", () => this.#loop.stop());
    // 1. store
    const store = this.#store;
    if (store.liveness !== undefined && typeof store.fenceAfter === "function") {
      // Self-fencing: this runtime's jobs (and their processes) are stopped before the other
      // runtimes may take it for dead. See docs/architecture.md.
      const { heartbeatMs, nodeTimeoutMs } = store.liveness;
      store.fenceAfter(nodeTimeoutMs - config.killGraceMs - heartbeatMs);
      store.onChange?.((change) => {
        if (change.kind === "fenced") this.#processes.killAll();
      });
    }
    await store.open();
    this.#plan.add("store-closed", "store", async () => {
      await store.close();
    });
    if (typeof store.markStopping === "function") {
      // The other runtimes sharing the store see this one stopping at once.
      this.#plan.add("intake-closed", "store", async () => {
        await store.markStopping!().catch((error) =>
          log.warn("could not tell the other runtimes: {error}", { error: errorMessage(error) })
        );
      });
    }
    // Before any interrupted job is queued again: the programs an earlier runtime on this
    // store left running are stopped, and the start waits until they are gone.
    const processes = this.#processes;
    this.#plan.add("store-closed", "processes", () => processes.close());
    const reaped = await processes.recover((message) => log.warn(message));
    if (reaped.killed.length > 0) {
      log.warn("{count} process group(s) left running by a runtime that stopped were stopped", {
        count: reaped.killed.length,
      });
    }
    if (typeof store.nodes === "function") await this.#readCluster();
    // A job interrupted too often (crashes count like shutdowns) is dead: announced (job:dead,
    // jobs.dead) once the router and the modules' endpoints are up.
    const recovered = await store.recoverInterrupted(
      Date.now(),
      this.#executor.maxInterruptions,
    );
    if (recovered.queued > 0) {
      log.warn("{count} job(s) left running by a runtime that stopped were queued again", {
        count: recovered.queued,
      });
    }

    // 2. territory leases (loaded back; those of a dead runtime expire on their own)
    const leases = this.#leases;
    await leases.start();
    this.#plan.add("store-closed", "leases", () => leases.stop());
    leases.on("lease:preempted", ({ lease, by }) => {
      log.warn("lease {resource}: {holder} was preempted by {by} ({priority})", {
        resource: lease.resource,
        holder: lease.holder,
        by: by.holder,
        priority: by.priority,
      });
      if (lease.jobId !== null) {
        this.#executor.preempt(
          lease.jobId,
          `preempted by ${by.holder} (${by.priority}): it takes lease ${lease.resource} once this attempt has ended`,
        );
      }
      const event = {
        resource: lease.resource,
        holder: lease.holder,
        jobId: lease.jobId,
        by: by.holder,
        byJobId: by.jobId,
        byPriority: by.priority,
        at: new Date().toISOString(),
      };
      this.#events.emit("lease:preempted", event);
      const router = this.#router;
      if (router.state === "running") {
        router.publish("leases.preempted", "lease.preempted", event, { from: "leases" }).catch(
          () => {
            // A full mailbox of a subscriber: that subscriber misses the event.
          },
        );
      }
    });

    // 3. router: endpoints of modules, job events on topics
    const router = this.#router;
    router.start();
    this.#plan.add("router-closed", "router", async ({ forced }) => {
      const report = await router.close({ graceMs: forced ? 0 : ROUTER_CLOSE_GRACE_MS });
      return `${report.delivered} message(s) delivered, ${report.deadLettered} dead-lettered (shutdown)`;
    });
    for (const endpoint of config.endpoints) registerEndpoint(router, endpoint);
    this.#publishJobEvents(router);
    this.#executor.announceDead(recovered.dead);

    // 4. executor
    const executor = this.#executor;
    executor.on("store:error", ({ operation, error }) => {
      log.error("store {operation} failed: {error}", { operation, error: errorMessage(error) });
      this.#events.emit("error", { where: `store.${operation}`, error });
    });
    this.#plan.add("store-closed", "executor", async () => {
      await executor.stop();
    });
    this.#plan.add("intake-closed", "executor", () => {
      executor.closeIntake();
    });
    this.#plan.add("drain", "executor", async ({ forceSignal }) => {
      const running = executor.runningCount;
      if (running === 0) return "no job running";
      const left = await executor.drain(this.#graceMs, forceSignal);
      return left === 0
        ? `${running} running job(s) finished`
        : `${left} job(s) still running at the deadline`;
    });
    this.#plan.add("cancel", "executor", async ({ forced, forceSignal }) => {
      if (executor.runningCount === 0) return "no job to interrupt";
      // A job with a kill grace of its own (a `command`) gets it: SIGTERM, then SIGKILL after
      // the grace, and its worker waits. Forcing ends the wait at once.
      const interrupted = await executor.interrupt(forced ? 0 : this.#config.hardDeadlineMs, {
        ownKillAfter: true,
        signal: forceSignal,
      });
      this.#interrupted += interrupted;
      return `${interrupted} job(s) interrupted and queued again`;
    });
    await executor.start();

    // 5. scheduler
    const scheduler = this.#scheduler;
    await scheduler.start();
    this.#plan.add("intake-closed", "scheduler", async () => {
      await scheduler.stop();
    });

    // Retention of finished jobs, in the background.
    const sweeper = new RetentionSweeper(store, config.retention);
    sweeper.start();
    this.#plan.add("intake-closed", "retention", async () => {
      await sweeper.stop();
    });

    // 6. control server
    if (config.socket !== null) {
      const control = new ControlServer(controlTarget(this), { path: config.socket });
      await control.start();
      this.#control = control;
      this.#plan.add("intake-closed", "control", () => {
        control.closeIntake();
      });
      this.#plan.add("control-closed", "control", async () => {
        // The event streams stay open until the report is out (see #runShutdown).
        await control.stopListening();
        return `socket ${control.path} removed`;
      });
    }

    // Last: signals.
    if (config.handleSignals) {
      this.#signals = new SignalWatcher((signal) => this.interrupt(signal));
      this.#signals.install();
    }
  }

  /** Forwards the executor's job events to topics (`jobs.enqueued`, `jobs.succeeded`, …). */
  #publishJobEvents(router: UnifiedMessageRouter): void {
    const forward = (topic: string, type: string) => (data: unknown) => {
      if (router.state !== "running") return;
      router.publish(topic, type, data, { from: "executor" }).catch(() => {
        // A full mailbox of a subscriber: that subscriber misses the event, the job goes on.
      });
    };
    const executor = this.#executor;
    executor.on("job:enqueued", forward("jobs.enqueued", "job.enqueued"));
    executor.on("job:started", forward("jobs.started", "job.started"));
    executor.on("job:succeeded", forward("jobs.succeeded", "job.succeeded"));
    executor.on("job:failed", forward("jobs.failed", "job.failed"));
    // Every job that will not run again, whatever ended it (attempts used up, a permanent
    // error, interrupted too often): what alerting subscribes to.
    executor.on("job:dead", forward("jobs.dead", "job.dead"));
    executor.on("job:cancelled", forward("jobs.cancelled", "job.cancelled"));
    executor.on("job:interrupted", forward("jobs.interrupted", "job.interrupted"));
    executor.on("job:retried", forward("jobs.retried", "job.retried"));
  }

  /**
   * What Ctrl-C does: the first starts the ordered shutdown, the next forces it. SIGTERM
   * starts the shutdown and never forces. Returns what it did.
   */
  interrupt(source: ShutdownSignal | "key" = "SIGINT"): "shutdown" | "force" | "ignored" {
    let action: "shutdown" | "force" | "ignored" = "ignored";
    if (this.#state === "running" || this.#state === "starting") {
      action = "shutdown";
      log.info("{source}: ordered shutdown started{again}", {
        source: source === "key" ? "Ctrl-C" : source,
        again: source === "SIGTERM" ? "" : "; press Ctrl-C again to force it",
      });
      void this.shutdown().catch((error) =>
        this.#events.emit("error", { where: "shutdown", error })
      );
    } else if (this.#state === "stopping" && source !== "SIGTERM" && !this.#force.signal.aborted) {
      action = "force";
      this.#forceNow();
    }
    this.#events.emit("signal", { signal: source, action });
    return action;
  }

  /**
   * The ordered shutdown (see `shutdown.ts`). Safe to call more than once: every call gets
   * the same report. With `force`, running jobs are interrupted at once.
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
    if (options.force) this.#forceNow();
    if (this.#shutdown !== null) return this.#shutdown;
    if (this.#state === "created") {
      this.#setState("stopped");
      this.#resolveStopped();
      this.#report = emptyReport();
      this.#shutdown = Promise.resolve(this.#report);
      return this.#shutdown;
    }
    this.#shutdown = this.#runShutdown(options);
    return this.#shutdown;
  }

  #forceNow(): void {
    if (this.#force.signal.aborted) return;
    log.warn("shutdown forced: running jobs are interrupted now");
    this.#force.abort();
  }

  async #runShutdown(options: ShutdownOptions): Promise<ShutdownReport> {
    // A shutdown called while starting waits for the start to settle.
    while (this.#state === "starting") await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.#state === "stopped") return this.#report ?? emptyReport();
    this.#graceMs = options.grace ?? this.#config.graceMs;
    this.#setState("stopping");
    const started = performance.now();
    const executor = this.#executor;
    const before = finishedCount(executor);
    let queuedKept = 0;
    log.info("shutdown started: grace {grace}", { grace: formatDuration(this.#graceMs) });
    this.#plan.add("store-closed", "count", async () => {
      // Runs first in its phase: the store is still open.
      const counts = await this.#store.counts();
      // The interrupted jobs are queued again too: counted once, as "interrupted and requeued".
      queuedKept = Math.max(
        0,
        counts.byState.queued + counts.byState.scheduled - this.#interrupted,
      );
    });
    const progress: ShutdownProgress = {
      phase: null,
      startedAt: new Date().toISOString(),
      graceMs: this.#graceMs,
      drainDeadline: null,
      phases: [],
      forced: this.#force.signal.aborted,
      report: null,
    };
    this.#progress = progress;
    this.#force.signal.addEventListener("abort", () => {
      progress.forced = true;
      progress.drainDeadline = new Date().toISOString();
    }, { once: true });
    const errors = await this.#plan.run(this.#force.signal, (event) => {
      if (event.status === "started") {
        progress.phase = event.phase;
        if (event.phase === "drain" && !progress.forced) {
          progress.drainDeadline = new Date(Date.now() + this.#graceMs).toISOString();
        }
      }
      progress.phases.push(event);
      this.#events.emit("shutdown:phase", event);
      if (event.status !== "started") {
        const took = event.durationMs === undefined
          ? ""
          : ` in ${formatDuration(event.durationMs)}`;
        const detail = event.detail ? ` (${event.detail})` : "";
        const level = event.status === "failed" ? "error" : "info";
        log[level](`shutdown phase {index}/6 {phase}: {status}${took}${detail}`, { ...event });
      }
    });
    this.#signals?.uninstall();
    const finished = finishedCount(executor) - before;
    const report: ShutdownReport = {
      finished,
      interrupted: this.#interrupted,
      queuedKept,
      durable: this.#store.info.durable,
      forced: this.#force.signal.aborted,
      durationMs: performance.now() - started,
      errors,
    };
    this.#report = report;
    progress.phase = null;
    progress.report = report;
    log.info(formatReport(report));
    this.#events.emit("shutdown:report", report);
    // Now the event streams end: their clients (`liminal shutdown`) have heard the report.
    await this.#control?.close().catch((error) =>
      log.warn("control socket: closing the event streams failed: {error}", {
        error: errorMessage(error),
      })
    );
    this.#finish();
    return report;
  }

  #finish(): void {
    const global = globalThis as GlobalWithRuntime;
    delete global[ACTIVE];
    this.#setState("stopped");
    this.#resolveStopped();
  }

  #setState(to: RuntimeState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#events.emit("state:changed", { from, to });
  }

  /**
   * Removes finished jobs now: those finished more than `olderThanMs` ago and those beyond
   * the newest `keep`. With neither, the runtime's retention policy applies. Resolves with
   * how many were removed.
   */
  async prune(options: { olderThanMs?: number; keep?: number } = {}): Promise<number> {
    const policy = this.#config.retention;
    const byPolicy = options.olderThanMs === undefined && options.keep === undefined;
    const olderThanMs = byPolicy ? policy.maxAgeMs : options.olderThanMs;
    const keep = byPolicy ? policy.maxCount : options.keep;
    return await pruneInBatches(this.#store, {
      ...(olderThanMs === undefined ? {} : { finishedBefore: Date.now() - olderThanMs }),
      ...(keep === undefined ? {} : { keep }),
      batch: policy.batch,
    });
  }

  /** Leases held now, with their waiters: operators in line and queued jobs that need them. */
  leaseSnapshot(): LeaseSnapshot[] {
    const leases = this.#leases.snapshot();
    const jobs = this.#executor.leaseWaiters();
    for (const lease of leases) {
      for (const [resource, waiting] of jobs) {
        if (!overlaps(resource, lease.resource)) continue;
        for (const w of waiting) {
          lease.waiters.push({
            holder: `job:${w.jobId}`,
            priority: w.priority,
            since: new Date(w.since).toISOString(),
            jobId: w.jobId,
          });
        }
      }
    }
    return leases;
  }

  /**
   * The runtimes sharing this one's store (Postgres), read now; with a store only this
   * runtime uses, this runtime alone.
   */
  async nodes(): Promise<NodeInfo[]> {
    const store = this.#store;
    if (typeof store.nodes === "function") {
      await this.#readCluster(true);
      if (this.#cluster?.error) {
        throw new LiminalError(
          this.#clusterErrorCode === "STORE_UNREACHABLE"
            ? "STORE_UNREACHABLE"
            : "STORE_UNAVAILABLE",
          `could not list the nodes: ${this.#cluster.error}`,
        );
      }
      return this.#cluster!.nodes;
    }
    const now = Date.now();
    return [{
      id: "local",
      host: Deno.hostname(),
      pid: Deno.pid,
      version: VERSION,
      startedAt: this.#startedAt ?? now,
      heartbeatAt: now,
      alive: this.#state === "running" || this.#state === "starting",
      stopping: this.#state === "stopping",
      running: this.#executor.runningCount,
      self: true,
    }];
  }

  /** Reads the node list into the snapshot's cache (at most one read at a time). */
  #readCluster(wait = true): Promise<void> {
    const store = this.#store;
    if (typeof store.nodes !== "function") return Promise.resolve();
    this.#clusterReading ??= (async () => {
      const readAt = Date.now();
      try {
        const nodes = await store.nodes!();
        this.#cluster = { nodeId: store.nodeId ?? "", nodes, readAt, error: null };
        this.#clusterErrorCode = null;
      } catch (error) {
        this.#clusterErrorCode = isLiminalError(error) ? error.code : null;
        this.#cluster = {
          nodeId: store.nodeId ?? "",
          nodes: this.#cluster?.nodes ?? [],
          readAt: this.#cluster?.readAt ?? readAt,
          error: errorMessage(error),
        };
      } finally {
        this.#clusterReading = null;
      }
    })();
    return wait ? this.#clusterReading : Promise.resolve();
  }

  /** The runtime now, as one JSON object. */
  async snapshot(): Promise<RuntimeSnapshot> {
    const executor = this.executor;
    const store = this.store;
    const now = Date.now();
    const executorSnapshot = await executor.snapshot();
    const lag = this.#loop.lag();
    const refused = this.#writes.warning(now);
    // The watch sees every write, the executor's own settle and claim failures included.
    const warnings: Warning[] = refused === null
      ? [...executorSnapshot.warnings]
      : [...executorSnapshot.warnings.filter((w) => w.code !== "STORE_WRITE_FAILING"), refused];
    const watchdog = this.#processes.trouble;
    if (watchdog !== null) warnings.push({ code: "PROCESS_WATCHDOG_FAILING", message: watchdog });
    if (lag.max10sMs >= LOOP_BLOCKED_MS) {
      warnings.push({
        code: "EVENT_LOOP_BLOCKED",
        message: `the event loop was blocked for ${
          formatDuration(lag.max10sMs)
        } in the last 10s: timers, signals and the socket waited (a handler or a large batch computing without awaiting)`,
      });
    }
    return {
      state: this.#state,
      pid: Deno.pid,
      version: VERSION,
      startedAt: this.#startedAt === null ? null : new Date(this.#startedAt).toISOString(),
      uptimeMs: this.#startedAt === null ? 0 : now - this.#startedAt,
      store: { ...store.info },
      socket: this.#control?.path ?? null,
      kinds: executor.kinds.names(),
      executor: executorSnapshot,
      health: { loopLagMs: lag.lastMs, loopLagMax10sMs: lag.max10sMs },
      warnings,
      leases: this.leaseSnapshot(),
      router: this.#router.snapshot(),
      cluster: await this.#clusterView(now),
      shutdown: this.#progress === null ? null : structuredClone(this.#progress),
    };
  }

  /**
   * The node list, read again when older than 2 s; a slow database delays the snapshot by
   * half a second at most (the older list is shown meanwhile).
   */
  async #clusterView(now: number): Promise<ClusterSnapshot | null> {
    if (typeof this.#store.nodes !== "function") return null;
    const storeOpen = this.#state === "running" || this.#state === "stopping";
    if (storeOpen && (this.#cluster === null || now - this.#cluster.readAt >= CLUSTER_TTL_MS)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#readCluster(true),
        new Promise<void>((resolve) => timer = setTimeout(resolve, CLUSTER_READ_WAIT_MS)),
      ]);
      clearTimeout(timer);
    }
    return this.#cluster === null ? null : structuredClone(this.#cluster);
  }

  /** Runs the ordered shutdown (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

/**
 * Refuses a shared store whose node timeout leaves no room to stop this runtime's processes
 * before the others take it for dead: it must exceed two heartbeats (one may fail without
 * fencing), the kill grace, and a margin of one more heartbeat.
 */
function checkFencing(
  liveness: { heartbeatMs: number; nodeTimeoutMs: number },
  killGraceMs: number,
): void {
  const { heartbeatMs, nodeTimeoutMs } = liveness;
  const needed = 3 * heartbeatMs + killGraceMs;
  if (nodeTimeoutMs >= needed) return;
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `the node timeout (${formatDuration(nodeTimeoutMs)}) is too short for a heartbeat of ${
      formatDuration(heartbeatMs)
    } and a kill grace of ${
      formatDuration(killGraceMs)
    }: a runtime that loses the store must stop its jobs' processes before the others take it for dead, which needs at least 3 × heartbeat + kill grace = ${
      formatDuration(needed)
    }`,
    {
      hint: `raise --node-timeout to at least ${
        formatDuration(needed)
      }, or lower --heartbeat or --kill-grace`,
    },
  );
}

/**
 * Where a runtime records the process groups of its `command` jobs: `<db>.procs` next to a
 * SQLite file (one runtime at a time owns it, by its lock); none for other stores.
 */
function processRecordOf(store: JobStore): string | null {
  const { kind, location } = store.info;
  if (kind !== "sqlite" || location === ":memory:" || location.startsWith("file:")) return null;
  return `${location}.procs`;
}

/** How long the snapshot's node list is kept before it is read again. */
const CLUSTER_TTL_MS = 2_000;
/** How long a snapshot waits for the node list. */
const CLUSTER_READ_WAIT_MS = 500;

function finishedCount(executor: MaintenanceExecutor): number {
  return executor.attemptsEnded;
}

function emptyReport(): ShutdownReport {
  return {
    finished: 0,
    interrupted: 0,
    queuedKept: 0,
    durable: false,
    forced: false,
    durationMs: 0,
    errors: [],
  };
}

/** The one line that ends a shutdown: `shutdown: 3 finished, 1 interrupted and requeued, 12 queued kept, 1.4s`. */
export function formatReport(report: ShutdownReport): string {
  const parts = [
    `${report.finished} finished`,
    `${report.interrupted} interrupted and requeued`,
    `${report.queuedKept} queued kept${
      report.durable || report.queuedKept === 0 ? "" : " (memory store: lost at exit)"
    }`,
  ];
  return `shutdown${report.forced ? " (forced)" : ""}: ${parts.join(", ")}, ${
    formatDuration(report.durationMs)
  }${report.errors.length > 0 ? `; errors: ${report.errors.join("; ")}` : ""}`;
}
