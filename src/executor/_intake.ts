/**
 * Intake: a job spec checked and resolved into the job the store inserts, with every default
 * of its kind applied; a bad spec is refused with an error naming it (`jobs[3]`).
 *
 * @module
 */
import { parseDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { serializePayload } from "../shared/json.ts";
import { parsePriority, type Priority } from "../shared/priority.ts";
import type { NewJob } from "../store/types.ts";
import type { ExecutorState } from "./_state.ts";
import { resolveAttempts, resolveBackoff, resolveTimeout } from "./job_kind.ts";
import { type JobSpec, parseLeaseList, parseRunAt } from "./job_spec.ts";

function resolveDelay(value: NonNullable<JobSpec["delay"]>, label: string): number {
  return parseDuration(value, `${label} delay`);
}

function checkPriority(priority: unknown, label: string): Priority {
  return parsePriority(priority, `${label} priority`);
}

/** Throws unless the executor takes new jobs (started, not shutting down). */
export function assertAccepting(s: ExecutorState): void {
  if (s.lifecycle === "running" || s.lifecycle === "starting") return;
  if (s.lifecycle === "created") {
    throw new LiminalError("RUNTIME_NOT_RUNNING", "the executor is not started");
  }
  throw new LiminalError(
    "RUNTIME_SHUTTING_DOWN",
    "the runtime is shutting down and takes no new jobs",
    {
      hint: "start it again, then enqueue",
    },
  );
}

/**
 * Resolves specs into jobs to insert; with several (or `numbered`), an error names the spec
 * (`jobs[3]`).
 */
export function resolveSpecs(
  s: ExecutorState,
  specs: readonly JobSpec[],
  now: number,
  numbered = specs.length > 1,
): NewJob[] {
  const jobs: NewJob[] = new Array(specs.length);
  const batch = numbered;
  for (let i = 0; i < specs.length; i++) {
    try {
      jobs[i] = resolveSpec(s, specs[i]!, now, batch ? `jobs[${i}]` : "job");
    } catch (error) {
      if (!batch || !(error instanceof LiminalError) || error.message.startsWith("jobs[")) {
        throw error;
      }
      throw new LiminalError(error.code, `jobs[${i}]: ${error.message}`, {
        cause: error,
        ...(error.hint === undefined ? {} : { hint: error.hint }),
      });
    }
  }
  return jobs;
}

/**
 * Resolves one spec into the job to insert, with its kind's defaults; errors start with `label`.
 */
export function resolveSpec(s: ExecutorState, spec: JobSpec, now: number, label: string): NewJob {
  if (typeof spec !== "object" || spec === null) {
    throw new LiminalError("INVALID_ARGUMENT", `${label} must be an object with at least "kind"`);
  }
  const kind = s.kinds.require(spec.kind);
  const payload = serializePayload(spec.payload, `${label} payload`);
  kind.parsePayload(spec.payload ?? null);
  const d = kind.defaults;
  let runAt = now;
  if (spec.delay !== undefined && spec.runAt !== undefined) {
    throw new LiminalError("INVALID_ARGUMENT", `${label}: give delay or runAt, not both`);
  }
  if (spec.delay !== undefined) {
    runAt = now + resolveDelay(spec.delay, label);
  } else if (spec.runAt !== undefined) {
    runAt = Math.max(now, parseRunAt(spec.runAt, `${label} runAt`));
  }
  if (
    spec.uniqueKey !== undefined && (typeof spec.uniqueKey !== "string" || spec.uniqueKey === "")
  ) {
    throw new LiminalError("INVALID_ARGUMENT", `${label}: uniqueKey must be a non-empty string`);
  }
  return {
    id: newId(now),
    kind: kind.kind,
    payload,
    priority: spec.priority === undefined ? d.priority : checkPriority(spec.priority, label),
    timeoutMs: spec.timeout === undefined ? d.timeoutMs : resolveTimeout(spec.timeout, label),
    maxAttempts: spec.attempts === undefined
      ? d.maxAttempts
      : resolveAttempts(spec.attempts, label),
    backoff: spec.backoff === undefined
      ? d.backoff
      : resolveBackoff(spec.backoff, d.backoff, label),
    uniqueKey: spec.uniqueKey ?? null,
    leases: spec.leases === undefined ? [] : parseLeaseList(spec.leases, label),
    createdAt: now,
    runAt,
  };
}
