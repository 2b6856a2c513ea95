/**
 * Options of a `Runtime` (public) and the resolved configuration it runs with (internal):
 * every default applied once, bad values refused at once.
 *
 * @module
 */
import type { AnyJobKind, JobKind } from "../executor/job_kind.ts";
import type { ScheduleDefinition } from "../scheduler/schedule.ts";
import type { EndpointDefinition } from "../router/definition.ts";
import type { RouterOptions } from "../router/options.ts";
import { resolveWorkers } from "../executor/options.ts";
import { type Duration, parseDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import type { JobStore } from "../store/types.ts";
import { resolveRetention, type RetentionOptions, type RetentionPolicy } from "./retention.ts";

/** Options of a `Runtime`. */
export interface RuntimeOptions {
  /** Where jobs live. @default a new memory store */
  store?: JobStore;
  /** Job kinds to run besides the built-in ones. */
  jobs?: Iterable<AnyJobKind>;
  /** Recurring schedules (from `--jobs` modules). */
  schedules?: Iterable<ScheduleDefinition>;
  /** Router endpoints (from `--jobs` modules). */
  endpoints?: Iterable<EndpointDefinition>;
  /** Options of the message router. @default the router's */
  router?: RouterOptions;
  /** Whether to register the built-in kinds (`sleep`, `command`, `fail`). @default true */
  builtins?: boolean;
  /** Concurrent workers. @default 4 */
  workers?: number;
  /** Time running jobs get to finish in an ordered shutdown. @default "10s" */
  grace?: Duration;
  /**
   * Time jobs get to settle after their signal aborts at the end of the grace period, before
   * they are recorded as interrupted and queued again. @default "1s"
   */
  hardDeadline?: Duration;
  /** A waiting job is raised one priority per interval. @default "5s" */
  agingInterval?: Duration;
  /** Time a timed-out or cancelled handler has to settle before its worker is freed. @default "5s" */
  killAfter?: Duration;
  /**
   * Time between SIGTERM and SIGKILL for the programs of `command` jobs (a job's payload may
   * ask for its own), and for the process watchdog that stops them when the runtime dies.
   * @default "5s"
   */
  killGrace?: Duration;
  /** A job silent this long marks its worker stuck. @default "30s" */
  stuckAfter?: Duration;
  /** A job queued this long is a warning. @default "60s" */
  starvationAfter?: Duration;
  /** Queued jobs kept in memory per priority. @default the store's hint */
  window?: number;
  /**
   * Whether the runtime handles SIGINT and SIGTERM itself: the first starts the ordered
   * shutdown, a second SIGINT forces it. @default false
   */
  handleSignals?: boolean;
  /**
   * Serve the control API on this Unix socket (`liminal start` uses `.liminal/liminal.sock`).
   * @default no control server
   */
  socket?: string;
  /** How long and how many finished jobs are kept. @default 7 days and 100,000 */
  retention?: RetentionOptions;
  /** Territory leases: TTLs and the preemption grace. @default the lease manager's */
  leases?: LeaseOptions;
}

/**
 * Options of territory leases. A job's lease is renewed every third of `defaultTtl` while its
 * attempt runs; after a crash it ends at that TTL, so keep it longer than the kill grace.
 */
export interface LeaseOptions {
  /** A lease's TTL when none is asked, and a job's lease's TTL. @default "15m" */
  defaultTtl?: Duration;
  /** The longest TTL. @default "1h" */
  maxTtl?: Duration;
  /** A holder with this much time left or less is not preempted. @default "60s" */
  preemptGrace?: Duration;
}

/** {@link RuntimeOptions} resolved. */
export interface RuntimeConfig {
  store: JobStore | null;
  jobs: JobKind[];
  schedules: ScheduleDefinition[];
  endpoints: EndpointDefinition[];
  router: RouterOptions;
  builtins: boolean;
  workers: number;
  graceMs: number;
  hardDeadlineMs: number;
  agingInterval: Duration;
  killAfter: Duration;
  killGraceMs: number;
  stuckAfter: Duration;
  starvationAfter: Duration;
  window: number | undefined;
  handleSignals: boolean;
  socket: string | null;
  retention: RetentionPolicy;
  leases: LeaseOptions;
}

/** Applies defaults and checks every option. */
export function resolveRuntimeConfig(options: RuntimeOptions): RuntimeConfig {
  const check = (value: Duration, what: string) => {
    parseDuration(value, what);
    return value;
  };
  const window = options.window;
  if (
    window !== undefined && !(Number.isInteger(window) && window >= 1) &&
    window !== Number.POSITIVE_INFINITY
  ) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid window ${window}: use a whole number of at least 1`,
    );
  }
  return {
    store: options.store ?? null,
    jobs: [...(options.jobs ?? [])],
    schedules: [...(options.schedules ?? [])],
    endpoints: [...(options.endpoints ?? [])],
    router: options.router ?? {},
    builtins: options.builtins ?? true,
    workers: resolveWorkers(options.workers ?? 4),
    graceMs: parseDuration(options.grace ?? "10s", "grace"),
    hardDeadlineMs: parseDuration(options.hardDeadline ?? "1s", "hard deadline"),
    agingInterval: check(options.agingInterval ?? "5s", "aging interval"),
    killAfter: check(options.killAfter ?? "5s", "kill-after"),
    killGraceMs: resolveKillGrace(options.killGrace ?? "5s"),
    stuckAfter: check(options.stuckAfter ?? "30s", "stuck-after"),
    starvationAfter: check(options.starvationAfter ?? "60s", "starvation threshold"),
    window,
    handleSignals: options.handleSignals ?? false,
    socket: options.socket ?? null,
    retention: resolveRetention(options.retention),
    leases: { ...options.leases },
  };
}

/** Checks the kill grace: at most 1 h. */
function resolveKillGrace(value: Duration): number {
  const ms = parseDuration(value, "kill grace");
  if (ms > 3_600_000) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid kill grace ${
        JSON.stringify(value)
      }: use at most 1h (time between SIGTERM and SIGKILL)`,
    );
  }
  return ms;
}
