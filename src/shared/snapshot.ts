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
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

/** Finished attempts per second. */
export interface ThroughputSummary {
  perSecond1s: number;
  perSecond10s: number;
  perSecond60s: number;
  /** Attempts finished in each of the last 60 seconds, oldest first. */
  lastMinute: number[];
}

/** A worker's health. */
export type WorkerState = "idle" | "busy" | "stuck";

/** One worker of the executor. */
export interface WorkerSnapshot {
  id: string;
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
  done: number;
  failed: number;
}

/** A problem worth a person's attention. */
export interface Warning {
  code:
    | "WORKER_STUCK"
    | "HANDLER_ABANDONED"
    | "JOB_WAITING_TOO_LONG"
    | "UNKNOWN_KIND_QUEUED"
    | "STORE_WRITE_FAILING"
    | "JOB_SLOWER_THAN_USUAL"
    | "RETRY_STORM"
    | "EVENT_LOOP_BLOCKED";
  message: string;
  jobId?: string;
  workerId?: string;
  /** For queue warnings: the priority concerned. */
  priority?: Priority;
}

/** Depth of the queue for one priority. */
export interface PriorityDepth {
  queued: number;
  scheduled: number;
  /** How long the oldest queued job of this priority has waited, in ms. */
  oldestWaitMs: number | null;
}

/** Running totals since the executor started. */
export interface ExecutorTotals {
  enqueued: number;
  started: number;
  succeeded: number;
  /** Attempts that failed or timed out (retried or not). */
  failedAttempts: number;
  retried: number;
  timedOut: number;
  /**
   * Jobs that ended `dead`: attempts used up, a permanent error (`PermanentJobError`, an
   * unknown kind, a bad payload) or interrupted too often.
   */
  dead: number;
  cancelled: number;
  interrupted: number;
  /** Handlers that did not settle after their signal and were left behind. */
  abandoned: number;
}

/** Whether the executor takes new jobs and starts queued ones. */
export type IntakeState = "open" | "paused" | "closed";

/** The executor at one moment. */
export interface ExecutorSnapshot {
  intake: IntakeState;
  workers: WorkerSnapshot[];
  queue: {
    byPriority: Record<Priority, PriorityDepth>;
    byState: Record<JobState, number>;
  };
  throughput: ThroughputSummary;
  waitMs: LatencySummary;
  runMs: LatencySummary;
  totals: ExecutorTotals;
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
  phase: ShutdownPhase;
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
  durationMs: number;
  /** Errors of phases that failed (the others still ran). */
  errors: string[];
}

/** The ordered shutdown as it goes. */
export interface ShutdownProgress {
  /** The phase under way, or `null` once over. */
  phase: ShutdownPhase | null;
  startedAt: string;
  /** The grace period running jobs get. */
  graceMs: number;
  /** When the drain ends and running jobs' signals abort (ISO), once known. */
  drainDeadline: string | null;
  /** Every phase event so far, in order. */
  phases: ShutdownPhaseEvent[];
  forced: boolean;
  report: ShutdownReport | null;
}

/** The runtime at one moment. */
/** A runtime sharing a store with others (a node of the cluster). */
export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
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

export interface RuntimeSnapshot {
  state: RuntimeState;
  pid: number;
  version: string;
  startedAt: string | null;
  uptimeMs: number;
  store: { kind: string; location: string; durable: boolean };
  socket: string | null;
  kinds: string[];
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
  shutdown: ShutdownProgress | null;
}
