/**
 * liminal: a maintenance runtime for Deno. One `Runtime` per process owns a
 * `MaintenanceExecutor` (priority job queue, async workers, retries, timeouts, cancellation,
 * worker health) over a `JobStore`, and shuts down in order.
 *
 * @example
 * ```ts
 * import { defineJob, Runtime } from "liminal";
 *
 * const cleanup = defineJob({
 *   kind: "cleanup",
 *   defaults: { priority: "info", timeout: "5m" },
 *   handler: async ({ payload, signal, progress }) => {
 *     // … honour signal, report progress …
 *     return { removed: 0 };
 *   },
 * });
 *
 * await using runtime = new Runtime({ jobs: [cleanup], workers: 2 });
 * await runtime.start();
 * const { id } = await runtime.executor.enqueue({ kind: "cleanup", payload: { dir: "/tmp" } });
 * await runtime.executor.waitFor(id);
 * ```
 *
 * @module
 */
export { formatReport, loadJobModules, Runtime, type ShutdownOptions } from "./src/runtime/mod.ts";
export type { RuntimeEventMap, RuntimeOptions } from "./src/runtime/mod.ts";
export {
  defineJob,
  type EnqueueResult,
  type ExecutorEventMap,
  type ExecutorOptions,
  isJobKind,
  type JobContext,
  type JobKind,
  type JobKindDefaults,
  type JobKindOptions,
  type JobSpec,
  MaintenanceExecutor,
  PermanentJobError,
  type RunningJobInfo,
} from "./src/executor/mod.ts";
export {
  backupJob,
  builtinJobs,
  commandJob,
  failJob,
  httpCheckJob,
  sleepJob,
  sqliteCheckpointJob,
  vacuumJob,
} from "./src/jobs/mod.ts";
export {
  defineSchedule,
  type ScheduleDefinition,
  type ScheduleOptions,
} from "./src/scheduler/mod.ts";
export { type LeaseRequest, TerritoryLeases } from "./src/leases/mod.ts";
export {
  defineEndpoint,
  type DeliveryContext,
  type EndpointDefinition,
  type EndpointDefinitionOptions,
  type Message,
  type RouterOptions,
  type SendOptions,
  UnifiedMessageRouter,
} from "./src/router/mod.ts";
export { type JobStore, MemoryStore, type MemoryStoreOptions } from "./src/store/mod.ts";
export { type ErrorCode, isLiminalError, LiminalError } from "./src/shared/errors.ts";
export { type Duration, formatDuration, parseDuration } from "./src/shared/duration.ts";
export { PRIORITIES, type Priority } from "./src/shared/priority.ts";
export type { JsonValue } from "./src/shared/json.ts";
export type { AttemptRecord, JobRecord, JobSnapshot, JobState } from "./src/shared/job.ts";
export type { LeaseSnapshot, ScheduleSnapshot } from "./src/shared/schedule.ts";
export type { DeadLetterView, MessageView, RouterSnapshot } from "./src/shared/router_snapshot.ts";
export type {
  ExecutorSnapshot,
  RuntimeSnapshot,
  RuntimeState,
  ShutdownPhaseEvent,
  ShutdownReport,
  WorkerSnapshot,
} from "./src/shared/snapshot.ts";
export { VERSION } from "./src/shared/version.ts";
