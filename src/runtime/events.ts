/**
 * The runtime's events.
 *
 * @module
 */
import type { Priority } from "../shared/priority.ts";
import type { RuntimeState, ShutdownPhaseEvent, ShutdownReport } from "../shared/snapshot.ts";

/** Every event of a `Runtime`, by name. */
export interface RuntimeEventMap {
  /** The lifecycle state changed. */
  "state:changed": { from: RuntimeState; to: RuntimeState };
  /** A shutdown phase started, finished, was skipped or failed. */
  "shutdown:phase": ShutdownPhaseEvent;
  /** The ordered shutdown is over. */
  "shutdown:report": ShutdownReport;
  /** An OS signal or an interrupt key arrived, and what it did. */
  "signal": { signal: string; action: "shutdown" | "force" | "ignored" };
  /** A lease was taken from its holder (a job, which is interrupted, or a preemptible one). */
  "lease:preempted": {
    resource: string;
    holder: string;
    jobId: string | null;
    by: string;
    byJobId: string | null;
    byPriority: Priority;
    /** ISO time. */
    at: string;
  };
  /** Something went wrong outside any job (a store failure, a listener). */
  "error": { where: string; error: unknown };
}
