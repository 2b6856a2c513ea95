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
import {
  backupJob,
  createSqliteMaintenanceJobs,
  sqliteCheckpointJob,
  vacuumJob,
} from "./sqlite_maintenance.ts";

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
export { httpCheckJob, type HttpCheckPayload } from "./http_check.ts";
export {
  backupJob,
  type CheckpointMode,
  createSqliteMaintenanceJobs,
  sqliteCheckpointJob,
  type SqliteMaintenanceJobs,
  type SqliteMaintenanceOptions,
  vacuumJob,
} from "./sqlite_maintenance.ts";
export { runtimeJobs, type RuntimeJobServices } from "./runtime_jobs.ts";

/**
 * Every built-in kind, registered by every runtime. With `processes`, `command` registers
 * its programs, and the SQLite kinds their SQLite children, with that guard (a runtime's);
 * else `command` uses a guard of its own and the SQLite children go unguarded.
 */
export function builtinJobs(options: { processes?: ProcessGuard } = {}): JobKind[] {
  const sqlite = options.processes === undefined
    ? { sqliteCheckpoint: sqliteCheckpointJob, vacuum: vacuumJob, backup: backupJob }
    : createSqliteMaintenanceJobs({ guard: options.processes });
  return [
    sleepJob,
    options.processes === undefined ? commandJob : createCommandJob({ guard: options.processes }),
    failJob,
    httpCheckJob,
    sqlite.sqliteCheckpoint,
    sqlite.vacuum,
    sqlite.backup,
  ] as JobKind[];
}
