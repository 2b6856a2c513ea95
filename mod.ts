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

// The runtime: one per process.
export { formatReport, Runtime, type ShutdownOptions } from "./src/runtime/mod.ts";
export type { RetentionOptions, RuntimeEventMap, RuntimeOptions } from "./src/runtime/mod.ts";
export type { LeaseOptions } from "./src/runtime/options.ts";
export type { ShutdownSignal } from "./src/runtime/signals.ts";

// Jobs: kinds, specs and the executor that runs them.
export {
  type AnyJobKind,
  defineJob,
  type EnqueueResult,
  type ExecutorEventMap,
  type ExecutorOptions,
  isJobKind,
  type JobContext,
  type JobKind,
  type JobKindDefaults,
  type JobKindOptions,
  JobKindRegistry,
  type JobSendOptions,
  type JobSpec,
  MaintenanceExecutor,
  type Messenger,
  PermanentJobError,
  type RunningJobInfo,
} from "./src/executor/mod.ts";
export type { DeadReason } from "./src/executor/events.ts";
export type { ResolvedKindDefaults } from "./src/executor/job_kind.ts";
export type { InterruptOptions, LeaseGate, LeaseGateRequest } from "./src/executor/options.ts";

// The built-in kinds (registered by the runtime unless `builtins: false`).
export {
  backupJob,
  type CheckpointMode,
  commandJob,
  type CommandPayload,
  type CommandResult,
  failJob,
  httpCheckJob,
  type HttpCheckPayload,
  type IoNice,
  sleepJob,
  sqliteCheckpointJob,
  type SqliteMaintenanceJobs,
  vacuumJob,
} from "./src/jobs/mod.ts";

// Schedules.
export {
  defineSchedule,
  type ScheduleDefinition,
  type ScheduleOptions,
  Scheduler,
  type SchedulerEventMap,
  type TriggerResult,
} from "./src/scheduler/mod.ts";

// Territory leases.
export { type LeaseEventMap, type LeaseRequest, TerritoryLeases } from "./src/leases/mod.ts";
export type { Preemption } from "./src/leases/territory_leases.ts";

// The message router.
export {
  type AckOptions,
  type AgingOptions,
  type CloseOptions,
  type DeadLetterQuery,
  defineEndpoint,
  type DeliveryContext,
  type Endpoint,
  type EndpointDefinition,
  type EndpointDefinitionOptions,
  type EndpointOptions,
  type MailboxFullPolicy,
  type MailboxLimitOptions,
  type Message,
  type MessageHandler,
  type RouterCloseReport,
  type RouterEventMap,
  type RouterOptions,
  type SendOptions,
  type SendReceipt,
  type SubscribeOptions,
  type Subscription,
  type TokenBucketOptions,
  UnifiedMessageRouter,
} from "./src/router/mod.ts";

// Stores: the interface every store implements, and the in-memory one.
export {
  type ClaimBusy,
  type ClaimedJob,
  type ClaimRequest,
  type InsertResult,
  type JobCounts,
  type JobFilter,
  type JobStore,
  type LeaseRecord,
  MemoryStore,
  type MemoryStoreOptions,
  type NewJob,
  type NextState,
  type NodeInfo,
  type PruneOptions,
  type ReadyEntry,
  type ScheduleRecord,
  type ScheduleRun,
  type Settlement,
  type StoreChange,
  type StoreInfo,
} from "./src/store/mod.ts";
export type { LeaseVictim, RecoveredDead, Recovery } from "./src/store/types.ts";

// The shared vocabulary: errors, durations, priorities, events, records and snapshots.
export { ERROR_CODES, type ErrorCode, isLiminalError, LiminalError } from "./src/shared/errors.ts";
export { type Duration, formatDuration, parseDuration } from "./src/shared/duration.ts";
export { PRIORITIES, type Priority } from "./src/shared/priority.ts";
export type { EventSource, Listener } from "./src/shared/emitter.ts";
export type { JsonValue } from "./src/shared/json.ts";
export {
  type AttemptError,
  type AttemptOutcome,
  type AttemptRecord,
  type AttemptSnapshot,
  type BackoffPolicy,
  JOB_STATES,
  type JobDefinition,
  type JobLogLine,
  type JobProgress,
  type JobRecord,
  type JobSnapshot,
  type JobState,
} from "./src/shared/job.ts";
export type {
  LeaseSnapshot,
  MissedPolicy,
  OverlapPolicy,
  PreemptionView,
  ScheduledJob,
  ScheduleSnapshot,
  ScheduleTiming,
} from "./src/shared/schedule.ts";
export {
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  type DeadLetterView,
  type MailboxSnapshot,
  MESSAGE_STATES,
  type MessageState,
  type MessageView,
  type ReceiveMode,
  type RouterRate,
  type RouterSnapshot,
  type RouterState,
  type RouterTotals,
  type SenderSnapshot,
  type UnroutedView,
} from "./src/shared/router_snapshot.ts";
export {
  type ClusterSnapshot,
  type ExecutorSnapshot,
  type ExecutorTotals,
  type IntakeState,
  type LatencySummary,
  type PriorityDepth,
  type RuntimeSnapshot,
  type RuntimeState,
  SHUTDOWN_PHASES,
  type ShutdownPhase,
  type ShutdownPhaseEvent,
  type ShutdownProgress,
  type ShutdownReport,
  type ThroughputSummary,
  type Warning,
  type WorkerSnapshot,
  type WorkerState,
} from "./src/shared/snapshot.ts";
export { VERSION } from "./src/shared/version.ts";
