/**
 * Snapshot types: plain JSON objects that describe a running runtime. One set of types feeds
 * the control API, `--json` output and the dashboard.
 *
 * @module
 */
import type { JobState } from "./job.ts";
import type { Priority } from "./priority.ts";
import type { LeaseSnapshot } from "./schedule.ts";
import type { RouterSnapshot } from "./router_snapshot.ts";

/** Latency percentiles in milliseconds; `null` before anything was measured. */
export interface LatencySummary {
  /** How many were measured. */
  count: number;
  /** Median. */
  p50: number | null;
  /** 95th percentile. */
  p95: number | null;
  /** 99th percentile. */
  p99: number | null;
  /** Largest. */
  max: number | null;
  /** Mean. */
  mean: number | null;
}

/** Finished attempts per second. */
export interface ThroughputSummary {
  /** Over the last second. */
  perSecond1s: number;
  /** Over the last 10 seconds. */
  perSecond10s: number;
  /** Over the last minute. */
  perSecond60s: number;
  /** Attempts finished in each of the last 60 seconds, oldest first. */
  lastMinute: number[];
}

/** A worker's health. */
export type WorkerState = "idle" | "busy" | "stuck";

/** One worker of the executor. */
export interface WorkerSnapshot {
  /** The worker's id (`w1`, `w2`, …). */
  id: string;
  /** Idle, busy, or busy without a sign of life for too long. */
  state: WorkerState;
  /** The job it runs, if busy. */
  job: {
    id: string;
    kind: string;
    priority: Priority;
    attempt: number;
    startedAt: string;
    elapsedMs: number;
    progress: { done: number; total: number | null } | null;
    /** Set once the job's signal was aborted: why. */
    aborting: "timeout" | "cancelled" | "shutdown" | "preempted" | null;
  } | null;
  /** Milliseconds since its job last showed life (start, heartbeat, progress or log). */
  silentMs: number | null;
  /** Attempts it finished with success. */
  done: number;
  /** Attempts it finished with a failure. */
  failed: number;
}

/** A problem worth a person's attention. */
export interface Warning {
  /** What kind of problem, stable for machines. */
  code:
    | "WORKER_STUCK"
    | "HANDLER_ABANDONED"
    | "JOB_WAITING_TOO_LONG"
    | "UNKNOWN_KIND_QUEUED"
    | "STORE_WRITE_FAILING"
    | "JOB_SLOWER_THAN_USUAL"
    | "RETRY_STORM"
    | "EVENT_LOOP_BLOCKED"
    | "PROCESS_WATCHDOG_FAILING";
  /** The problem, for people. */
  message: string;
  /** The job concerned, if one is. */
  jobId?: string;
  /** The worker concerned, if one is. */
  workerId?: string;
  /** For queue warnings: the priority concerned. */
  priority?: Priority;
}

/** Depth of the queue for one priority. */
export interface PriorityDepth {
  /** Jobs ready to run. */
  queued: number;
  /** Jobs waiting for their run time. */
  scheduled: number;
  /** How long the oldest queued job of this priority has waited, in ms. */
  oldestWaitMs: number | null;
}

/** Running totals since the executor started. */
export interface ExecutorTotals {
  /** Jobs enqueued. */
  enqueued: number;
  /** Attempts started. */
  started: number;
  /** Jobs that succeeded. */
  succeeded: number;
  /** Attempts that failed or timed out (retried or not). */
  failedAttempts: number;
  /** Failed attempts retried. */
  retried: number;
  /** Attempts that timed out. */
  timedOut: number;
  /**
   * Jobs that ended `dead`: attempts used up, a permanent error (`PermanentJobError`, an
   * unknown kind, a bad payload) or interrupted too often.
   */
  dead: number;
  /** Jobs cancelled. */
  cancelled: number;
  /** Attempts cut short by a shutdown or crash. */
  interrupted: number;
  /** Handlers that did not settle after their signal and were left behind. */
  abandoned: number;
}

/** Whether the executor takes new jobs and starts queued ones. */
export type IntakeState = "open" | "paused" | "closed";

/** The executor at one moment. */
export interface ExecutorSnapshot {
  /** Whether the executor takes new jobs. */
  intake: IntakeState;
  /** Every worker. */
  workers: WorkerSnapshot[];
  /** Queue depth per priority. */
  queue: {
    byPriority: Record<Priority, PriorityDepth>;
    byState: Record<JobState, number>;
  };
  /** Attempts finished per second. */
  throughput: ThroughputSummary;
  /** How long jobs waited from ready to start. */
  waitMs: LatencySummary;
  /** How long attempts ran. */
  runMs: LatencySummary;
  /** Running totals since start. */
  totals: ExecutorTotals;
  /** Problems worth a person's attention now. */
  warnings: Warning[];
}

/** Lifecycle states of a runtime. */
export type RuntimeState = "created" | "starting" | "running" | "stopping" | "stopped";

/** The phases of the ordered shutdown, in order. */
export const SHUTDOWN_PHASES = [
  "intake-closed",
  "drain",
  "cancel",
  "router-closed",
  "control-closed",
  "store-closed",
] as const;

/** A shutdown phase name. */
export type ShutdownPhase = typeof SHUTDOWN_PHASES[number];

/** Progress of one shutdown phase. */
export interface ShutdownPhaseEvent {
  /** 1 to 6, as the architecture map numbers them. */
  index: number;
  /** The phase. */
  phase: ShutdownPhase;
  /** What happened to it. */
  status: "started" | "finished" | "skipped" | "failed";
  /** Set when finished. */
  durationMs?: number;
  /** A short note: jobs still running, the error, … */
  detail?: string;
}

/** What an ordered shutdown did. */
export interface ShutdownReport {
  /** Jobs that finished (any outcome) while the shutdown drained. */
  finished: number;
  /** Running jobs stopped and queued again. */
  interrupted: number;
  /** Jobs left queued or scheduled in the store for the next start. */
  queuedKept: number;
  /** Whether jobs are kept across a restart (false with the memory store). */
  durable: boolean;
  /** Whether a second signal forced it. */
  forced: boolean;
  /** How long the whole shutdown took. */
  durationMs: number;
  /** Errors of phases that failed (the others still ran). */
  errors: string[];
}

/** The ordered shutdown as it goes. */
export interface ShutdownProgress {
  /** The phase under way, or `null` once over. */
  phase: ShutdownPhase | null;
  /** When the shutdown started (ISO 8601). */
  startedAt: string;
  /** The grace period running jobs get. */
  graceMs: number;
  /** When the drain ends and running jobs' signals abort (ISO), once known. */
  drainDeadline: string | null;
  /** Every phase event so far, in order. */
  phases: ShutdownPhaseEvent[];
  /** Whether it was forced (a second signal, or the grace ran out). */
  forced: boolean;
  /** The report, once over. */
  report: ShutdownReport | null;
}

/** A runtime sharing a store with others (a node of the cluster). */
export interface NodeInfo {
  /** The node's id. */
  id: string;
  /** The host it runs on. */
  host: string;
  /** Its process id. */
  pid: number;
  /** Its liminal version. */
  version: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms. */
  heartbeatAt: number;
  /** Whether its heartbeat is within the node timeout. */
  alive: boolean;
  /** Whether it announced its shutdown. */
  stopping: boolean;
  /** Jobs running on it now. */
  running: number;
  /** Whether it is this store's own node. */
  self: boolean;
}

/** The runtimes sharing this runtime's store (Postgres), as this runtime last read them. */
export interface ClusterSnapshot {
  /** This runtime's node id. */
  nodeId: string;
  /** Every node, this one included, alive or not (a dead one until it is forgotten). */
  nodes: NodeInfo[];
  /** When the list was read (epoch ms). */
  readAt: number;
  /** Why the last read failed, if it did (the list is then the last one read). */
  error: string | null;
}

/** The runtime at one moment: what `liminal status --json`, the dashboard and the control API show. */
export interface RuntimeSnapshot {
  /** Where the runtime is in its life. */
  state: RuntimeState;
  /** Its process id. */
  pid: number;
  /** Its liminal version. */
  version: string;
  /** When it started (ISO 8601); `null` before. */
  startedAt: string | null;
  /** How long it has run. */
  uptimeMs: number;
  /** Its store. */
  store: { kind: string; location: string; durable: boolean };
  /** The control socket's path; `null`: none. */
  socket: string | null;
  /** The registered job kinds. */
  kinds: string[];
  /** The executor. */
  executor: ExecutorSnapshot;
  /** The event loop: how late timers fire (a blocked loop delays every job). */
  health: { loopLagMs: number; loopLagMax10sMs: number };
  /** Every warning: the executor's and the runtime's. */
  warnings: Warning[];
  /** Territory leases held now. */
  leases: LeaseSnapshot[];
  /** The message router. */
  router: RouterSnapshot;
  /** With a store shared by several runtimes: the cluster; else `null`. */
  cluster: ClusterSnapshot | null;
  /** The shutdown under way, if one is. */
  shutdown: ShutdownProgress | null;
}
