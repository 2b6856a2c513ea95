/**
 * The message router's routes: its snapshot, a send, the dead letters and their replay.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";
import { DEAD_LETTER_REASONS, isDeadLetterReason } from "../../shared/router_snapshot.ts";
import { parseLimit, parseSendBody, resolveShortId } from "../_bodies.ts";
import { json, readJson } from "../_http.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** Adds the message router's routes. */
export function routerRoutes(route: AddRoute, context: RouteContext): void {
  const router = context.target.router;

  route("GET", "/v1/router", () => Promise.resolve(json(router.snapshot())));

  route("POST", "/v1/router/send", async (request) => {
    const { to, type, payload, options } = parseSendBody(await readJson(request));
    const receipt = await router.send(to, type, payload, options);
    return json({ id: receipt.id, ids: receipt.ids }, 201);
  });

  route("GET", "/v1/router/dead", (_request, _params, url) => {
    const reason = url.searchParams.get("reason");
    if (reason !== null && !isDeadLetterReason(reason)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid reason "${reason}"; use one of: ${DEAD_LETTER_REASONS.join(", ")}`,
      );
    }
    const limit = parseLimit(url.searchParams.get("limit"));
    return Promise.resolve(
      json({
        deadLetters: router.deadLetters({ ...(reason === null ? {} : { reason }), limit }),
      }),
    );
  });

  route("POST", "/v1/router/dead/:id/replay", async (_request, { id }) => {
    // A dead letter's id may be given short, as for jobs (the last 6+ characters).
    const full = await resolveShortId(id!, "message", (tail, limit) =>
      Promise.resolve(
        router.deadLetters({ limit: Number.POSITIVE_INFINITY }).map((d) => d.id)
          .filter((dead) => dead.endsWith(tail)).slice(0, limit),
      ));
    const receipt = await router.replay(full);
    return json({ id: receipt.id, ids: receipt.ids }, 201);
  });
}
