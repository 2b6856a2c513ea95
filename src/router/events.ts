/**
 * The router's events, for a live `router tail` and for logs. The map lives in the shared
 * vocabulary (`src/shared/events.ts`), so the control plane can forward them without
 * importing the router.
 *
 * @module
 */
export type { RouterEventMap } from "../shared/events.ts";
