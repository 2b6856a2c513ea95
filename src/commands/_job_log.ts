/**
 * One log line per step of each job's life, for `start` without a dashboard and for `run`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { MaintenanceExecutor } from "../executor/executor.ts";
import type { DeadReason } from "../executor/events.ts";
import { formatDuration } from "../shared/duration.ts";

const log = getLogger(["liminal", "job"]);

const DEAD_WHY: Record<DeadReason, string> = {
  exhausted: "no attempts left",
  permanent: "a permanent error: retrying cannot help",
  interrupted: "interrupted too often",
};

/** Logs the executor's job events until the returned function is called. */
export function logJobLifecycle(executor: MaintenanceExecutor): () => void {
  const offs = [
    executor.on("job:enqueued", (e) => {
      log.info(`job {id} {kind} enqueued ({state}, {priority})`, { event: "job.enqueued", ...e });
    }),
    executor.on("job:started", (e) => {
      log.info(`job {id} {kind} started (attempt {attempt} on {worker}, waited {wait})`, {
        event: "job.started",
        ...e,
        wait: formatDuration(e.waitMs),
      });
    }),
    executor.on("job:succeeded", (e) => {
      log.info(`job {id} {kind} succeeded in {duration}`, {
        event: "job.succeeded",
        ...e,
        duration: formatDuration(e.durationMs),
      });
    }),
    executor.on("job:failed", (e) => {
      const next = e.next === "scheduled"
        ? `retry in ${formatDuration(Math.max(0, (e.retryAt ?? Date.now()) - Date.now()))}`
        : "it will not run again";
      log.warn(`job {id} {kind} attempt {attempt} failed: {message} ({then})`, {
        event: "job.failed",
        ...e,
        message: e.error.message,
        code: e.error.code,
        then: next,
      });
    }),
    executor.on("job:dead", (e) => {
      log.error(`job {id} {kind} dead after attempt {attempt}: {message} ({why})`, {
        event: "job.dead",
        ...e,
        message: e.error.message,
        code: e.error.code,
        why: DEAD_WHY[e.reason],
      });
    }),
    executor.on("job:cancelled", (e) => {
      log.warn(`job {id} {kind} cancelled${e.running ? " while running" : ""}`, {
        event: "job.cancelled",
        ...e,
      });
    }),
    executor.on("job:interrupted", (e) => {
      log.warn(`job {id} {kind} interrupted on attempt {attempt} ({what})`, {
        event: "job.interrupted",
        ...e,
        what: e.requeued ? "queued again" : "interrupted too often: dead",
      });
    }),
    executor.on("job:retried", (e) => {
      log.info(`job {id} {kind} queued again by an operator`, { event: "job.retried", ...e });
    }),
    executor.on("job:abandoned", (e) => {
      log.error(`job {id} {kind} did not stop after its signal ({reason}); worker {worker} freed`, {
        event: "job.abandoned",
        ...e,
      });
    }),
    executor.on("worker:stuck", (e) => {
      log.warn(
        `worker {worker} looks stuck: job {jobId} {kind} shows no heartbeat, progress or log for {silent} (stuck after {threshold}); {hint}`,
        {
          event: "worker.stuck",
          ...e,
          silent: formatDuration(e.silentMs),
          threshold: formatDuration(e.stuckAfterMs),
        },
      );
    }),
  ];
  return () => offs.forEach((off) => off());
}
