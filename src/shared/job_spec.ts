/**
 * Job specs: what a caller asks to run, checked field by field before anything changes. Shared
 * vocabulary: the executor runs them, the control API and plan files parse them.
 *
 * @module
 */
import { type Duration, MAX_DURATION_MS, parseDuration } from "./duration.ts";
import { LiminalError } from "./errors.ts";
import type { JobState } from "./job.ts";
import type { JsonValue } from "./json.ts";
import { parsePriority, type Priority } from "./priority.ts";
import { closest } from "./closest.ts";

/** A job to enqueue. Unset fields take the kind's defaults. */
export interface JobSpec {
  /** The job kind's name. */
  kind: string;
  /** JSON, at most 1 MiB serialised. @default null */
  payload?: JsonValue;
  /**
   * The job's priority.
   *
   * @default the kind's, else "coordinate"
   */
  priority?: Priority;
  /** Run no sooner than this long from now. Exclusive with `runAt`. */
  delay?: Duration;
  /** Run no sooner than this time (a `Date`, epoch ms, or ISO-8601 text). */
  runAt?: Date | number | string;
  /** Time an attempt may take; `null` for none. @default the kind's */
  timeout?: Duration | null;
  /** Attempts that may fail before the job is dead. @default the kind's, else 3 */
  attempts?: number;
  /** Backoff between attempts. @default the kind's, else { base: "1s", max: "5m" } */
  backoff?: { base?: Duration; max?: Duration };
  /** While a job with this key is scheduled, queued or running, no second one is created. */
  uniqueKey?: string;
  /** Territory leases (resource names) the job must hold to run; released when it ends. */
  leases?: string[];
}

/** What `enqueue` did. */
export interface EnqueueResult {
  /** The job's id (the existing job's, when `created` is false). */
  id: string;
  /** The job's kind. */
  kind: string;
  /** `false` when a live job with the same unique key was returned instead. */
  created: boolean;
  /** The job's state right after the enqueue. */
  state: JobState;
}

const SPEC_FIELDS = [
  "kind",
  "payload",
  "priority",
  "delay",
  "runAt",
  "timeout",
  "attempts",
  "backoff",
  "uniqueKey",
  "leases",
] as const;

/** Parses a run-at time: a `Date`, epoch milliseconds, or ISO-8601 text with a date. */
export function parseRunAt(value: unknown, what = "runAt"): number {
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === "number") ms = value;
  else if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    ms = Date.parse(value);
  } else ms = Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ${what} ${JSON.stringify(value)}: use an ISO-8601 time such as 2026-01-31T03:00:00Z`,
    );
  }
  if (ms > Date.now() + MAX_DURATION_MS) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ${what} ${JSON.stringify(value)}: more than 10 years (3650d) from now`,
    );
  }
  return ms;
}

/**
 * Checks a job spec that came as JSON (a plan file, the control API): field types, unknown
 * fields (with "did you mean"), priorities and durations. The kind itself is checked by the
 * executor.
 */
export function parseJobSpec(value: unknown, label: string): JobSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LiminalError("INVALID_ARGUMENT", `${label} must be an object with at least "kind"`);
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(SPEC_FIELDS as readonly string[]).includes(key)) {
      const near = closest(key, SPEC_FIELDS);
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${label}: unknown field "${key}"${near ? `; did you mean "${near}"?` : ""} (fields: ${
          SPEC_FIELDS.join(", ")
        })`,
      );
    }
  }
  if (typeof raw.kind !== "string" || raw.kind === "") {
    throw new LiminalError("INVALID_ARGUMENT", `${label}: "kind" must be a non-empty string`);
  }
  const spec: JobSpec = { kind: raw.kind };
  if (raw.payload !== undefined) spec.payload = raw.payload as JsonValue;
  if (raw.priority !== undefined) spec.priority = parsePriority(raw.priority, `${label} priority`);
  if (raw.delay !== undefined) spec.delay = checkDuration(raw.delay, `${label} delay`);
  if (raw.runAt !== undefined) spec.runAt = parseRunAt(raw.runAt, `${label} runAt`);
  if (raw.timeout !== undefined) {
    spec.timeout = raw.timeout === null ? null : checkDuration(raw.timeout, `${label} timeout`);
  }
  if (raw.attempts !== undefined) {
    if (typeof raw.attempts !== "number") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${label}: "attempts" must be a number, got ${JSON.stringify(raw.attempts)}`,
      );
    }
    spec.attempts = raw.attempts;
  }
  if (raw.backoff !== undefined) {
    const backoff = raw.backoff;
    if (typeof backoff !== "object" || backoff === null || Array.isArray(backoff)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${label}: "backoff" must be an object like { "base": "1s", "max": "5m" }`,
      );
    }
    const b = backoff as Record<string, unknown>;
    for (const key of Object.keys(b)) {
      if (key !== "base" && key !== "max") {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `${label}: unknown backoff field "${key}" (fields: base, max)`,
        );
      }
    }
    spec.backoff = {};
    if (b.base !== undefined) spec.backoff.base = checkDuration(b.base, `${label} backoff base`);
    if (b.max !== undefined) spec.backoff.max = checkDuration(b.max, `${label} backoff max`);
  }
  if (raw.uniqueKey !== undefined) {
    if (typeof raw.uniqueKey !== "string" || raw.uniqueKey === "") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${label}: "uniqueKey" must be a non-empty string`,
      );
    }
    spec.uniqueKey = raw.uniqueKey;
  }
  if (raw.leases !== undefined) spec.leases = parseLeaseList(raw.leases, label);
  return spec;
}

function checkDuration(value: unknown, what: string): Duration {
  if (typeof value !== "string" && typeof value !== "number") {
    throw new LiminalError(
      "INVALID_DURATION",
      `invalid ${what} ${JSON.stringify(value)}; write a duration such as "250ms", "10s" or "5m"`,
    );
  }
  parseDuration(value, what);
  return value;
}

/** The longest resource name a lease may have. */
export const MAX_RESOURCE_LENGTH = 200;
const RESOURCE = /^[A-Za-z0-9._:-]+(\/[A-Za-z0-9._:-]+)*(\/\*)?$/;

/**
 * Checks a resource name: segments of letters, digits, `.`, `_`, `:`, `-` separated by `/`,
 * optionally ending in `/*` (every resource under that path).
 */
export function parseResource(value: unknown, what = "resource"): string {
  if (typeof value !== "string" || value.length > MAX_RESOURCE_LENGTH || !RESOURCE.test(value)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ${what} ${
        JSON.stringify(value)
      }: use path segments of letters, digits, ".", "_", ":" or "-" separated by "/", optionally ending in "/*" (e.g. db/orders, files/uploads/*)`,
    );
  }
  return value;
}

/** Checks a list of lease resources. */
export function parseLeaseList(value: unknown, label: string): string[] {
  if (!Array.isArray(value) || value.length > 16) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `${label}: "leases" must be an array of at most 16 resource names`,
    );
  }
  const leases = value.map((r) => parseResource(r, `${label} lease`));
  return [...new Set(leases)].sort();
}
