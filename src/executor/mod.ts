/**
 * The `MaintenanceExecutor`: priority job queue, async worker pool, retries, timeouts,
 * cancellation and worker health, over a `JobStore`.
 *
 * @module
 */
export { MaintenanceExecutor } from "./executor.ts";
export type { ExecutorEventMap } from "./events.ts";
export {
  type AnyJobKind,
  closest,
  defineJob,
  isJobKind,
  type JobContext,
  type JobKind,
  type JobKindDefaults,
  type JobKindOptions,
  JobKindRegistry,
  type JobSendOptions,
  type Messenger,
  PermanentJobError,
  type RunningJobInfo,
} from "./job_kind.ts";
export { type EnqueueResult, type JobSpec, parseJobSpec, parseRunAt } from "./job_spec.ts";
export {
  type ExecutorOptions,
  type InterruptOptions,
  MAX_WORKERS,
  resolveWorkers,
} from "./options.ts";
