/**
 * What a route file is handed: the target it drives, the server's signals, and the way to
 * add a route. Each file under `routes/` adds the routes of one resource.
 *
 * @module
 */
import type { RuntimeSnapshot } from "../../shared/snapshot.ts";
import type { BatchWatches } from "../batches.ts";
import type { EventHub } from "../events.ts";
import type { ControlTarget } from "../target.ts";

/** Answers one matched request; `params` holds the decoded `:name` segments of the path. */
export type Handler = (
  request: Request,
  params: Record<string, string>,
  url: URL,
) => Promise<Response>;

/**
 * Adds a route. `path` may hold `:name` segments. A `mutating` route (by default every
 * method but GET) is refused with 503 once the runtime is shutting down.
 */
export type AddRoute = (method: string, path: string, handler: Handler, mutating?: boolean) => void;

/** The server's side of the routes. */
export interface RouteContext {
  readonly target: ControlTarget;
  /** Aborts when the server stops listening (shutdown phase 5): long-polls end. */
  readonly live: AbortSignal;
  /** Aborts when the event streams end (after the shutdown report). */
  readonly streams: AbortSignal;
  /** The enqueued batches `POST /v1/jobs/wait` follows. */
  readonly batches: BatchWatches;
  /** The event hub, once the server has started. */
  hub(): EventHub | null;
  /** The runtime's snapshot, with the socket it is served on. */
  snapshot(): Promise<RuntimeSnapshot>;
  /** Every route, as `METHOD /path`, in the order they were added. */
  routes(): string[];
}
