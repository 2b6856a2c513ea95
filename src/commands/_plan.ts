/**
 * Maintenance plans for `liminal run`: a JSON file listing jobs to run once.
 *
 * ```json
 * {
 *   "name": "nightly",
 *   "workers": 2,
 *   "jobs": [
 *     { "kind": "command", "payload": { "cmd": ["pg_dump", "-f", "db.sql", "app"] }, "priority": "blocking" },
 *     { "kind": "sleep", "payload": { "ms": 500 } }
 *   ]
 * }
 * ```
 *
 * @module
 */
import { closest } from "../executor/job_kind.ts";
import { type JobSpec, parseJobSpec } from "../executor/job_spec.ts";
import { resolveWorkers } from "../executor/options.ts";
import { isLiminalError, LiminalError } from "../shared/errors.ts";
import { parseJson } from "../shared/json.ts";
import { readUserFile } from "./_parse.ts";

/** A parsed plan. */
export interface Plan {
  name: string;
  workers: number | undefined;
  jobs: JobSpec[];
}

const PLAN_FIELDS = ["name", "workers", "jobs"] as const;
/** The most jobs one plan may hold. */
export const MAX_PLAN_JOBS = 100_000;

/** Reads and checks a plan file. Every problem is an exit-2 error that names the file. */
export async function loadPlan(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readUserFile(path, "plan", 64 * 1024 * 1024);
  } catch (error) {
    if (isLiminalError(error)) {
      throw new LiminalError("INVALID_PLAN", error.message, { cause: error });
    }
    throw error;
  }
  return parsePlan(parseJson(text, `plan ${path}`), path);
}

/** Checks a plan's JSON. */
export function parsePlan(value: unknown, path: string): Plan {
  const fail = (message: string) => new LiminalError("INVALID_PLAN", `plan ${path}: ${message}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail(
      'expected an object such as { "jobs": [ { "kind": "sleep", "payload": { "ms": 100 } } ] }',
    );
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(PLAN_FIELDS as readonly string[]).includes(key)) {
      const near = closest(key, PLAN_FIELDS);
      throw fail(
        `unknown field "${key}"${near ? `; did you mean "${near}"?` : ""} (fields: ${
          PLAN_FIELDS.join(", ")
        })`,
      );
    }
  }
  if (raw.name !== undefined && typeof raw.name !== "string") throw fail('"name" must be a string');
  let workers: number | undefined;
  if (raw.workers !== undefined) {
    try {
      workers = resolveWorkers(raw.workers, '"workers"');
    } catch (error) {
      throw fail(error instanceof Error ? error.message : String(error));
    }
  }
  if (!Array.isArray(raw.jobs) || raw.jobs.length === 0) {
    throw fail('"jobs" must be a non-empty array of jobs');
  }
  if (raw.jobs.length > MAX_PLAN_JOBS) {
    throw fail(`"jobs" holds ${raw.jobs.length} jobs; the limit is ${MAX_PLAN_JOBS}`);
  }
  const jobs = raw.jobs.map((job, i) => {
    try {
      return parseJobSpec(job, `jobs[${i}]`);
    } catch (error) {
      if (isLiminalError(error)) {
        throw new LiminalError(error.code, `plan ${path}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  });
  return {
    name: typeof raw.name === "string" ? raw.name : path.replace(/^.*\//, ""),
    workers,
    jobs,
  };
}
