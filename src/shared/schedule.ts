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
  /** The kind of the job to enqueue. */
  kind: string;
  /** Its payload. */
  payload: JsonValue;
  /** Its priority (default: the kind's). */
  priority?: Priority;
  /** Its timeout (default: the kind's); `null`: none. */
  timeout?: string | number | null;
  /** Its attempts (default: the kind's). */
  attempts?: number;
  /** Territory leases it must hold to run. */
  leases?: string[];
}

/** A schedule as people see it. */
export interface ScheduleSnapshot {
  /** The schedule's unique name. */
  name: string;
  /** `module`: declared with defineSchedule in a --jobs module; `api`: added at run time. */
  source: "module" | "api";
  /** The interval in ms, for an `every` schedule. */
  every: number | null;
  /** The cron expression, for a cron schedule. */
  cron: string | null;
  /** The cron expression's time zone; `null`: none given, or not a cron schedule. */
  timezone: string | null;
  /** The job it enqueues. */
  job: ScheduledJob;
  /** What happens when the previous run's job is still live. */
  overlap: OverlapPolicy;
  /** What happens to runs missed while no runtime was up. */
  missed: MissedPolicy;
  /** Whether it is paused. */
  paused: boolean;
  /** When it fires next (ISO 8601); `null`: not due again. */
  nextRunAt: string | null;
  /** Its last run, if it ran (`dueAt`: ISO 8601). */
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
  /** How many times it fired. */
  runs: number;
}

/** One lease taken from its holder, for `leases` and the event stream. `at` is epoch ms. */
export interface Preemption {
  /** The resource taken over. */
  resource: string;
  /** Who lost it. */
  holder: string;
  /** The job that lost it, if a job held it. */
  jobId: string | null;
  /** Who took it. */
  by: string;
  /** The job that took it, if a job did. */
  byJobId: string | null;
  /** The priority that took it. */
  byPriority: Priority;
  /** Epoch ms. */
  at: number;
}

/** A {@link Preemption} as people and the control API see it: `at` is ISO 8601. */
export type PreemptionView = Omit<Preemption, "at"> & { at: string };

/** A territory lease as people see it. */
export interface LeaseSnapshot {
  /** The resource held. */
  resource: string;
  /** Who holds it. */
  holder: string;
  /** The holder's priority. */
  priority: Priority;
  /** When it was taken (ISO 8601). */
  acquiredAt: string;
  /** When it ends unless renewed (ISO 8601). */
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
