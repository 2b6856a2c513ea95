/**
 * Schedules: recurring maintenance declared with {@link defineSchedule} in a `--jobs` module,
 * or added at run time (`liminal schedules add`).
 *
 * @module
 */
import { Cron } from "croner";
import { closest } from "../executor/job_kind.ts";
import { parseLeaseList } from "../executor/job_spec.ts";
import { type Duration, parseDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { JsonValue } from "../shared/json.ts";
import { serializePayload } from "../shared/json.ts";
import { parsePriority, type Priority } from "../shared/priority.ts";
import type {
  MissedPolicy,
  OverlapPolicy,
  ScheduledJob,
  ScheduleTiming,
} from "../shared/schedule.ts";

/** Options of {@link defineSchedule}. */
export interface ScheduleOptions {
  /** Letters, digits, `.`, `_`, `:`, `-`. */
  name: string;
  /** Run every interval (`"30s"`, `"5m"`). Exclusive with `cron`. */
  every?: Duration;
  /** Run on a cron expression (5 fields, or 6 with seconds first): `"0 3 * * *"`. */
  cron?: string;
  /** The IANA time zone of `cron`. @default the system's */
  timezone?: string;
  /** The job each run enqueues. */
  job: {
    kind: string;
    payload?: JsonValue;
    priority?: Priority;
    timeout?: Duration | null;
    attempts?: number;
    leases?: string[];
  };
  /** While the previous run is queued or running: `skip` this run, or `queue` it anyway. @default "skip" */
  overlap?: OverlapPolicy;
  /** Runs missed while the runtime was down: `skip` them, or `run-once` at start. @default "skip" */
  missed?: MissedPolicy;
}

/** A checked schedule definition. */
export interface ScheduleDefinition {
  /** @internal The brand that tells this kind of definition apart. */
  readonly [SCHEDULE]: true;
  /** The schedule's unique name. */
  readonly name: string;
  /** When it fires: an interval or a cron expression. */
  readonly timing: ScheduleTiming;
  /** The job it enqueues each time. */
  readonly job: ScheduledJob;
  /** What happens when the previous run's job is still live. */
  readonly overlap: OverlapPolicy;
  /** What happens to runs missed while no runtime was up. */
  readonly missed: MissedPolicy;
}

const SCHEDULE = Symbol.for("liminal.schedule");
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
/** The shortest interval. */
export const MIN_INTERVAL_MS = 100;

/** Checks an IANA time zone name. */
export function checkTimezone(timezone: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return timezone;
  } catch {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `unknown time zone ${
        JSON.stringify(timezone)
      }: use an IANA name such as Europe/Berlin or America/New_York`,
    );
  }
}

/** Checks a cron expression (and its time zone) with croner. */
export function checkCron(expression: string, timezone: string | null): void {
  if (timezone !== null) checkTimezone(timezone);
  let next: Date | null;
  try {
    const cron = new Cron(expression, { paused: true, ...(timezone === null ? {} : { timezone }) });
    next = cron.nextRun();
    cron.stop();
  } catch (error) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid cron expression ${JSON.stringify(expression)}: ${
        errorMessage(error).replace(/^CronPattern: /, "")
      }`,
      {
        hint:
          'five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *" (03:00 daily)',
      },
    );
  }
  if (next === null) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `cron expression ${JSON.stringify(expression)} never fires (no such date)`,
    );
  }
}

/** Checks a schedule's timing: `every` or `cron` (+ time zone), not both. */
export function resolveTiming(
  every: Duration | undefined,
  cron: string | undefined,
  timezone: string | undefined,
  what: string,
): ScheduleTiming {
  if ((every === undefined) === (cron === undefined)) {
    throw new LiminalError("INVALID_ARGUMENT", `${what}: give every or cron, exactly one`);
  }
  if (every !== undefined) {
    if (timezone !== undefined) {
      throw new LiminalError("INVALID_ARGUMENT", `${what}: a time zone goes with cron, not every`);
    }
    const ms = parseDuration(every, `${what} interval`);
    if (ms < MIN_INTERVAL_MS) {
      throw new LiminalError(
        "INVALID_DURATION",
        `${what}: the interval must be at least ${MIN_INTERVAL_MS}ms, got ${JSON.stringify(every)}`,
      );
    }
    return { every: ms };
  }
  if (typeof cron !== "string" || cron.trim() === "") {
    throw new LiminalError("INVALID_ARGUMENT", `${what}: cron must be a non-empty string`);
  }
  const tz = timezone ?? null;
  checkCron(cron.trim(), tz);
  return { cron: cron.trim(), timezone: tz };
}

/** Checks the job part of a schedule. */
export function resolveScheduledJob(job: ScheduleOptions["job"], what: string): ScheduledJob {
  if (typeof job !== "object" || job === null || typeof job.kind !== "string" || job.kind === "") {
    throw new LiminalError("INVALID_ARGUMENT", `${what}: job needs a kind`);
  }
  serializePayload(job.payload, `${what} payload`);
  const out: ScheduledJob = { kind: job.kind, payload: job.payload ?? null };
  if (job.priority !== undefined) out.priority = parsePriority(job.priority, `${what} priority`);
  if (job.timeout !== undefined) {
    if (job.timeout !== null) parseDuration(job.timeout, `${what} timeout`);
    out.timeout = job.timeout;
  }
  if (job.attempts !== undefined) out.attempts = job.attempts;
  if (job.leases !== undefined) out.leases = parseLeaseList(job.leases, what);
  return out;
}

/** Checks a schedule name. */
export function checkScheduleName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid schedule name ${
        JSON.stringify(name)
      }: use letters, digits, ".", "_", ":" or "-" (at most 100)`,
    );
  }
  return name;
}

/**
 * Declares a recurring schedule in a `--jobs` module.
 *
 * @example
 * ```ts
 * export const nightlyBackup = defineSchedule({
 *   name: "nightly-backup",
 *   cron: "0 3 * * *",
 *   timezone: "Europe/Berlin",
 *   job: { kind: "backup", payload: { path: "data/app.db", dir: "backups", keep: 7 } },
 *   missed: "run-once",
 * });
 * ```
 */
export function defineSchedule(options: ScheduleOptions): ScheduleDefinition {
  const name = checkScheduleName(options?.name);
  const what = `schedule "${name}"`;
  const overlap = options.overlap ?? "skip";
  if (overlap !== "skip" && overlap !== "queue") {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `${what}: overlap must be skip or queue, got ${JSON.stringify(overlap)}`,
    );
  }
  const missed = options.missed ?? "skip";
  if (missed !== "skip" && missed !== "run-once") {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `${what}: missed must be skip or run-once, got ${JSON.stringify(missed)}`,
    );
  }
  for (const key of Object.keys(options)) {
    const known = ["name", "every", "cron", "timezone", "job", "overlap", "missed"];
    if (!known.includes(key)) {
      const near = closest(key, known);
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${what}: unknown option "${key}"${near ? `; did you mean "${near}"?` : ""}`,
      );
    }
  }
  return Object.freeze({
    [SCHEDULE]: true as const,
    name,
    timing: resolveTiming(options.every, options.cron, options.timezone, what),
    job: resolveScheduledJob(options.job, what),
    overlap,
    missed,
  });
}

/** Whether `value` is a schedule made by {@link defineSchedule}. */
export function isSchedule(value: unknown): value is ScheduleDefinition {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[SCHEDULE] === true;
}

/**
 * The first due time strictly after `after`: on the interval grid that starts at `anchor`,
 * or the cron expression's next occurrence in its time zone. `null` when there is none.
 */
export function nextDue(timing: ScheduleTiming, after: number, anchor: number): number | null {
  if ("every" in timing) {
    const steps = Math.floor((after - anchor) / timing.every) + 1;
    return anchor + Math.max(1, steps) * timing.every;
  }
  const cron = new Cron(timing.cron, {
    paused: true,
    ...(timing.timezone === null ? {} : { timezone: timing.timezone }),
  });
  try {
    const next = cron.nextRun(new Date(after));
    if (next === null) return null;
    const at = next.getTime();
    return at > after ? at : (cron.nextRun(new Date(after + 1000))?.getTime() ?? null);
  } finally {
    cron.stop();
  }
}
