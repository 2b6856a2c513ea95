/**
 * The executor's internal state: one object every room of the executor shares (tokio's
 * `runtime/` keeps its shared state in one handle the same way). Dispatch, settling, the store
 * windows, a run and diagnostics are functions over it; `MaintenanceExecutor` owns it and is
 * its public face. Nothing outside `src/executor` sees it.
 *
 * @module
 */
import { Emitter } from "../shared/emitter.ts";
import type { JobRecord } from "../shared/job.ts";
import type { ExecutorTotals } from "../shared/snapshot.ts";
import { isSharedStore, type JobCounts, type JobStore } from "../store/types.ts";
import type { Run } from "./_run.ts";
import type { PendingSettlement } from "./_settle.ts";
import { emptyWindows, type LevelWindow } from "./_windows.ts";
import type { ExecutorEventMap } from "./events.ts";
import { JobKindRegistry } from "./job_kind.ts";
import {
  type ExecutorOptions,
  type LeaseGate,
  type ResolvedExecutorOptions,
  resolveExecutorOptions,
} from "./options.ts";
import { LatencyHistogram, RateCounter } from "./metrics.ts";
import { type QueuedEntry, ReadyQueue } from "./ready_queue.ts";

/** Where the executor is in its lifecycle (see `executor.ts`). */
export type Lifecycle = "created" | "starting" | "running" | "closing" | "closed";

/** Longest delay `setTimeout` takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const noop = (): void => {};

/** A worker: its run, if any, and its health. */
export class WorkerSlot {
  run: Run | null = null;
  reserved = false;
  lastActivity = 0;
  stuck = false;
  done = 0;
  failed = 0;
  constructor(readonly id: string) {}
}

/** Everything the executor knows, shared by its rooms. */
export class ExecutorState {
  readonly options: ResolvedExecutorOptions;
  readonly store: JobStore;
  readonly leases: LeaseGate | null;
  readonly kinds: JobKindRegistry;
  readonly events = new Emitter<ExecutorEventMap>();
  readonly ready: ReadyQueue;
  readonly workers: WorkerSlot[];
  readonly idle: WorkerSlot[];
  readonly windows: LevelWindow[];
  readonly running = new Map<string, Run>();
  readonly runningByKind = new Map<string, number>();
  readonly cancelOnStart = new Set<string>();
  /** Jobs whose lease was taken over while their claim was in flight, and why. */
  readonly preemptOnStart = new Map<string, string>();
  /** Queued jobs of kinds this runtime has no handler for, by id (kept out of the window). */
  readonly foreign = new Map<string, QueuedEntry>();
  /** With a shared store: the ids waiting in memory and their level (reads repeat entries). */
  readonly queuedIds: Map<string, number> | null;
  readonly preemptedBy = new Map<string, string>();
  readonly waiters = new Map<string, ((record: JobRecord) => void)[]>();
  readonly waitTimes = new LatencyHistogram();
  readonly runTimes = new LatencyHistogram();
  readonly rate: RateCounter;
  /** Failed attempts per second, for retry storms. */
  readonly failureRate: RateCounter;
  /** Run times of successful attempts per kind: what is usual for a kind. */
  readonly runByKind = new Map<string, LatencyHistogram>();
  readonly totals: ExecutorTotals = {
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
  lifecycle: Lifecycle = "created";
  paused = false;
  claiming = 0;
  dispatchQueued = false;
  sliceStart = 0;
  sliceTimer: ReturnType<typeof setTimeout> | undefined;
  yieldTimer: ReturnType<typeof setTimeout> | undefined;
  pending: PendingSettlement[] = [];
  flushQueued = false;
  flushing: Promise<void> | null = null;
  flushRetryMs = 0;
  flushRetryTimer: ReturnType<typeof setTimeout> | undefined;
  storeFailing: string | null = null;
  /** Why the last claim failed, until one succeeds. */
  claimFailing: string | null = null;
  /** The last counts the store gave, for a snapshot while it does not answer. */
  lastCounts: JobCounts | null = null;
  watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  watchdogAt = Number.POSITIVE_INFINITY;
  dueTimer: ReturnType<typeof setTimeout> | undefined;
  dueAt = Number.POSITIVE_INFINITY;
  promoting: Promise<void> | null = null;
  idleWaiters: (() => void)[] = [];
  settledWaiters: (() => void)[] = [];
  lateSettlements = 0;
  /** Whether the store is shared with other runtimes (it reports their changes). */
  readonly shared: boolean;
  offChange: (() => void) | null = null;
  resyncTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ids between `take` and the end of their claim. */
  readonly claimingIds = new Set<string>();
  /** Claims under way (they never reject). */
  readonly claimTasks = new Set<Promise<void>>();
  /** Kinds at their cluster-wide limit, until (epoch ms). */
  readonly busyKinds = new Map<string, number>();
  claimRetryMs = 0;
  /** Attempt ends written to the store so far. */
  endsWritten = 0;
  /** `finished` notifications heard from other runtimes so far. */
  finishedHeard = 0;
  /** Jobs needing leases wait until then after a lease write failed (epoch ms). */
  leaseRetryAt = 0;
  claimBackoffUntil = 0;
  wakeTimer: ReturnType<typeof setTimeout> | undefined;
  wakeTimerAt = Number.POSITIVE_INFINITY;
  // Callbacks bound to this state once (by `MaintenanceExecutor`), so the hot path hands
  // timers, microtasks and the ready queue a function without making one per call.
  /** A dispatch pass (`dispatch`). */
  dispatchTask: () => void = noop;
  /** The end of a dispatch slice (`endSlice`). */
  endSliceTask: () => void = noop;
  /** A dispatch pass after yielding to the event loop (`dispatchAfterYield`). */
  dispatchAfterYieldTask: () => void = noop;
  /** What keeps an entry from starting now (`blockKey`). */
  blockKey: (entry: QueuedEntry) => string | null = () => null;
  /** Whether a parked key is open again (`isOpen`). */
  isOpen: (key: string, head: QueuedEntry) => boolean = () => true;
  /** The watchdog firing (`onWatchdog`). */
  watchdogTask: () => void = noop;

  constructor(options: ExecutorOptions) {
    this.options = resolveExecutorOptions(options);
    this.store = this.options.store;
    this.shared = isSharedStore(this.store);
    this.queuedIds = this.shared ? new Map() : null;
    this.leases = this.options.leases;
    this.kinds = new JobKindRegistry(options.kinds ?? []);
    this.ready = new ReadyQueue(this.options.agingMs);
    this.workers = Array.from(
      { length: this.options.workers },
      (_, i) => new WorkerSlot(`${this.options.workerPrefix}${i + 1}`),
    );
    this.idle = [...this.workers].reverse();
    this.windows = emptyWindows();
    this.rate = new RateCounter(this.options.clock());
    this.failureRate = new RateCounter(this.options.clock());
  }
}
