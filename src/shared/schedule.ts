/**
 * Schedules and territory leases as the control API, `--json` output and the dashboard show
 * them.
 *
 * @module
 */
import type { JobState } from "./job.ts";
import type { JsonValue } from "./json.ts";
import type { Priority } from "./priority.ts";

/** When a schedule fires: every interval, or on a cron expression in a time zone. */
export type ScheduleTiming =
  | { every: number }
  | { cron: string; timezone: string | null };

/** What happens to a run while the previous one is still queued or running. */
export type OverlapPolicy = "skip" | "queue";
/** What happens to runs missed while the runtime was down. */
export type MissedPolicy = "skip" | "run-once";

/** The job a schedule enqueues on each run. */
export interface ScheduledJob {
  kind: string;
  payload: JsonValue;
  priority?: Priority;
  timeout?: string | number | null;
  attempts?: number;
  leases?: string[];
}

/** A schedule as people see it. */
export interface ScheduleSnapshot {
  name: string;
  /** `module`: declared with defineSchedule in a --jobs module; `api`: added at run time. */
  source: "module" | "api";
  every: number | null;
  cron: string | null;
  timezone: string | null;
  job: ScheduledJob;
  overlap: OverlapPolicy;
  missed: MissedPolicy;
  paused: boolean;
  nextRunAt: string | null;
  lastRun: {
    dueAt: string;
    /** The job it enqueued, if it did. */
    jobId: string | null;
    /** Why no job was enqueued (previous run still live). */
    skipped: string | null;
    /** The job's state now. */
    state: JobState | null;
    /** How late the job started after its due time. */
    lateMs: number | null;
  } | null;
  runs: number;
}

/** A territory lease as people see it. */
export interface LeaseSnapshot {
  resource: string;
  holder: string;
  priority: Priority;
  acquiredAt: string;
  expiresAt: string;
  /** Milliseconds left. */
  leftMs: number;
  /** The job holding it, when a job does. */
  jobId: string | null;
  /** Whether a higher-priority requester may take it over (a job's lease, or one asked so). */
  preemptible?: boolean;
  /** Who waits for it, in the order they will get it. */
  waiters: { holder: string; priority: Priority; since: string; jobId: string | null }[];
}
