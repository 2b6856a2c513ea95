/**
 * The executor's events. The map lives in the shared vocabulary (`src/shared/events.ts`), so
 * the control plane can forward them without importing the executor.
 *
 * @module
 */
export type { DeadReason, ExecutorEventMap } from "../shared/events.ts";
