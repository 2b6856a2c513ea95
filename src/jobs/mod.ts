/**
 * Built-in job kinds: `sleep`, `command`, `fail`, `http-check`, `sqlite-checkpoint`,
 * `vacuum`, `backup`; and, bound to a runtime, `prune-history` and `lease-sweep`.
 *
 * @module
 */
import type { JobKind } from "../executor/job_kind.ts";
import { commandJob, createCommandJob } from "./command.ts";
import type { ProcessGuard } from "./_process_guard.ts";
import { failJob } from "./fail.ts";
import { sleepJob } from "./sleep.ts";
import { httpCheckJob } from "./http_check.ts";
import { backupJob, sqliteCheckpointJob, vacuumJob } from "./sqlite_maintenance.ts";

export {
  commandJob,
  type CommandJobOptions,
  type CommandPayload,
  type CommandResult,
  createCommandJob,
  type IoNice,
} from "./command.ts";
export { ProcessGuard, type ProcessGuardOptions } from "./_process_guard.ts";
export { failJob } from "./fail.ts";
export { sleepJob } from "./sleep.ts";
export { httpCheckJob } from "./http_check.ts";
export { backupJob, sqliteCheckpointJob, vacuumJob } from "./sqlite_maintenance.ts";
export { runtimeJobs, type RuntimeJobServices } from "./runtime_jobs.ts";

/**
 * Every built-in kind, registered by every runtime. With `processes`, `command` registers
 * its programs with that guard (a runtime's); else with a guard of its own.
 */
export function builtinJobs(options: { processes?: ProcessGuard } = {}): JobKind[] {
  return [
    sleepJob,
    options.processes === undefined ? commandJob : createCommandJob({ guard: options.processes }),
    failJob,
    httpCheckJob,
    sqliteCheckpointJob,
    vacuumJob,
    backupJob,
  ] as JobKind[];
}
