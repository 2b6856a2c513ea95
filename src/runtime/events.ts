/**
 * The runtime's events.
 *
 * @module
 */
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
  /** Something went wrong outside any job (a store failure, a listener). */
  "error": { where: string; error: unknown };
}
