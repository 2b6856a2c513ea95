/**
 * Recurring maintenance: interval and cron schedules that enqueue jobs.
 *
 * @module
 */
export {
  checkCron,
  checkTimezone,
  defineSchedule,
  isSchedule,
  nextDue,
  resolveScheduledJob,
  resolveTiming,
  type ScheduleDefinition,
  type ScheduleOptions,
} from "./schedule.ts";
export {
  Scheduler,
  type SchedulerEventMap,
  type SchedulerOptions,
  type ScheduleTarget,
  type TriggerResult,
} from "./scheduler.ts";
