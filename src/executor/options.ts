/**
 * Options of the `MaintenanceExecutor`, and their resolution: every default applied once,
 * bad values refused at once with a message that quotes them.
 *
 * @module
 */
import { type Duration, parseDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { DEFAULT_MAX_INTERRUPTIONS } from "../store/types.ts";
import type { JobStore } from "../store/types.ts";
import type { AnyJobKind, Messenger } from "./job_kind.ts";
import type { Priority } from "../shared/priority.ts";

/** Options of a `MaintenanceExecutor`. */
export interface ExecutorOptions {
  /** Where jobs live. */
  store: JobStore;
  /** The job kinds it can run. More can be registered before `start()`. */
  kinds?: Iterable<AnyJobKind>;
  /** Concurrent workers. @default 4 */
  workers?: number;
  /** A waiting job is raised one priority level per interval, up to `critical`. @default "5s" */
  agingInterval?: Duration;
  /** Time a handler has to settle after its signal aborts before its worker is freed. @default "5s" */
  killAfter?: Duration;
  /**
   * A busy worker whose job shows no life this long is `stuck`, unless the job's kind sets
   * its own `stuckAfter` (or `null`: never). @default "30s"
   */
  stuckAfter?: Duration;
  /** A queued job waiting longer than this is a warning. @default "60s" */
  starvationAfter?: Duration;
  /** Queued jobs kept in memory per priority. @default the store's hint (memory: all) */
  window?: number;
  /** Interruptions (shutdowns, crashes) a job survives before it is dead. @default 5 */
  maxInterruptions?: number;
  /** Prefix of worker ids. @default "w" */
  workerPrefix?: string;
  /** The clock, epoch ms. @default Date.now */
  clock?: () => number;
  /** A number in [0, 1) for backoff jitter. @default Math.random */
  random?: () => number;
  /** Territory leases jobs may need (`JobSpec.leases`). @default none: such jobs run at once */
  leases?: LeaseGate;
  /** Where `ctx.send` goes: the runtime's router. @default none (`ctx.send` fails) */
  messenger?: Messenger;
}

/**
 * What the executor needs of territory leases: decide synchronously whether a job may take
 * its leases, take them, give them back when it ends, and hear when one frees up.
 */
export interface LeaseGate {
  /** The resource that keeps `request` from taking every resource now, or `null`. */
  blockedBy(resources: readonly string[], request: LeaseGateRequest): string | null;
  /**
   * Takes every resource for a job: `false` (taking nothing) when one is held now; `true`
   * when taken (a store only this runtime uses); else a promise of whether they were all
   * written (`false`: another runtime sharing the store took one meanwhile, and what was
   * taken is given back). The job starts only on `true`.
   */
  takeForJob(
    resources: readonly string[],
    request: LeaseGateRequest,
  ): boolean | Promise<boolean>;
  /** Gives back every lease a job holds. */
  releaseJob(jobId: string): Promise<void>;
  /** Calls `listener` when a lease is released, expires or changes hands. */
  onFree(listener: () => void): () => void;
  /** Who holds the lease overlapping `resource`, for explanations. */
  holderOf(resource: string): { holder: string; priority: Priority; expiresAt: number } | undefined;
}

/** A job asking for leases. */
export interface LeaseGateRequest {
  /** Who asks: the job's holder name. */
  holder: string;
  /** The job's priority (a higher one may preempt). */
  priority: Priority;
  /** The job's id. */
  jobId: string;
}

/** {@link ExecutorOptions} with every default applied. */
export interface ResolvedExecutorOptions {
  store: JobStore;
  workers: number;
  agingMs: number;
  killAfterMs: number;
  stuckAfterMs: number;
  starvationAfterMs: number;
  window: number;
  maxInterruptions: number;
  workerPrefix: string;
  clock: () => number;
  random: () => number;
  leases: LeaseGate | null;
  messenger: Messenger | null;
}

/** The most workers one executor runs. */
export const MAX_WORKERS = 1024;

/** Checks a worker count given by a user. */
export function resolveWorkers(value: unknown, what = "workers"): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ${what} ${JSON.stringify(value)}: use a whole number from 1 to ${MAX_WORKERS}`,
    );
  }
  return value;
}

/** Applies defaults and checks every option. */
export function resolveExecutorOptions(options: ExecutorOptions): ResolvedExecutorOptions {
  if (options.store === undefined) {
    throw new LiminalError("INVALID_ARGUMENT", "the executor needs a store");
  }
  const window = options.window ?? options.store.windowHint;
  if (!(window === Number.POSITIVE_INFINITY || (Number.isInteger(window) && window >= 1))) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid window ${window}: use a whole number of at least 1`,
    );
  }
  const maxInterruptions = options.maxInterruptions ?? DEFAULT_MAX_INTERRUPTIONS;
  if (!Number.isInteger(maxInterruptions) || maxInterruptions < 0) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid maxInterruptions ${maxInterruptions}: use a whole number of at least 0`,
    );
  }
  return {
    store: options.store,
    workers: resolveWorkers(options.workers ?? 4),
    agingMs: positive(options.agingInterval ?? "5s", "aging interval"),
    killAfterMs: parseDuration(options.killAfter ?? "5s", "kill-after"),
    stuckAfterMs: positive(options.stuckAfter ?? "30s", "stuck-after"),
    starvationAfterMs: positive(options.starvationAfter ?? "60s", "starvation threshold"),
    window,
    maxInterruptions,
    workerPrefix: options.workerPrefix ?? "w",
    clock: options.clock ?? Date.now,
    random: options.random ?? Math.random,
    leases: options.leases ?? null,
    messenger: options.messenger ?? null,
  };
}

function positive(value: Duration, what: string): number {
  const ms = parseDuration(value, what);
  if (ms <= 0) {
    throw new LiminalError(
      "INVALID_DURATION",
      `${what} must be longer than 0, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** Options of `MaintenanceExecutor.interrupt()` (shutdown phase 3). */
export interface InterruptOptions {
  /**
   * Give a job whose kind or payload sets its own kill-after (a `command` job: its kill grace
   * plus a margin) that long, when it is longer than the hard deadline. @default false
   */
  ownKillAfter?: boolean;
  /** Aborting it (a forced shutdown) ends the wait at once. */
  signal?: AbortSignal;
}
