/**
 * `GET /v1/events`: the live event stream (server-sent events) from the {@link EventHub}.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";
import type { EventHub } from "../events.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** Adds the event stream route. */
export function eventRoutes(route: AddRoute, context: RouteContext): void {
  route("GET", "/v1/events", (request, _params, url) => {
    const hub: EventHub | null = context.hub();
    if (hub === null) {
      throw new LiminalError("RUNTIME_NOT_RUNNING", "the event stream is not open");
    }
    const events = url.searchParams.get("events")?.split(",").map((s) => s.trim());
    const jobs = url.searchParams.get("jobs")?.split(",").map((s) => s.trim()).filter((s) =>
      s !== ""
    );
    // The stream ends when the client goes (cancel) or the server closes. Not request.signal:
    // Deno aborts it as soon as the response starts.
    const body = hub.open(
      { ...(events ? { events } : {}), ...(jobs ? { jobs } : {}) },
      context.streams,
      // A reconnecting client gets what it missed (or a `gap` event saying it is lost).
      request.headers.get("last-event-id"),
    );
    return Promise.resolve(
      new Response(body, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          "x-accel-buffering": "no",
        },
      }),
    );
  });
}
