/**
 * Built-in job kinds: `sleep`, `command`, `fail`, `http-check`, `sqlite-checkpoint`,
 * `vacuum`, `backup`; and, bound to a runtime, `prune-history` and `lease-sweep`.
 *
 * @module
 */
import type { JobKind } from "../executor/job_kind.ts";
import { commandJob } from "./command.ts";
import { failJob } from "./fail.ts";
import { sleepJob } from "./sleep.ts";
import { httpCheckJob } from "./http_check.ts";
import { backupJob, sqliteCheckpointJob, vacuumJob } from "./sqlite_maintenance.ts";

export { commandJob, type CommandPayload, type CommandResult } from "./command.ts";
export { failJob } from "./fail.ts";
export { sleepJob } from "./sleep.ts";
export { httpCheckJob } from "./http_check.ts";
export { backupJob, sqliteCheckpointJob, vacuumJob } from "./sqlite_maintenance.ts";
export { runtimeJobs, type RuntimeJobServices } from "./runtime_jobs.ts";

/** Every built-in kind, registered by every runtime. */
export function builtinJobs(): JobKind[] {
  return [
    sleepJob,
    commandJob,
    failJob,
    httpCheckJob,
    sqliteCheckpointJob,
    vacuumJob,
    backupJob,
  ] as JobKind[];
}
