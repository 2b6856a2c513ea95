/**
 * The runtime's events. The map lives in the shared vocabulary (`src/shared/events.ts`), so
 * the control server can forward them without importing the runtime (no cycle).
 *
 * @module
 */
export type { RuntimeEventMap } from "../shared/events.ts";
