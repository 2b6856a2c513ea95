/**
 * The runtime's routes: the index, `GET /v1/status`, `GET /v1/nodes`,
 * `DELETE /v1/nodes/:id`, `POST /v1/intake`,
 * `POST /v1/shutdown` and the Prometheus text at `GET /metrics`.
 *
 * @module
 */
import { VERSION } from "../../shared/version.ts";
import { parseIntakeBody, parseShutdownBody } from "../_bodies.ts";
import { json, readJson } from "../_http.ts";
import { BUCKETS_SECONDS, renderMetrics } from "../metrics.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** Adds the runtime's routes. */
export function runtimeRoutes(route: AddRoute, context: RouteContext): void {
  const target = context.target;

  route("GET", "/", () =>
    Promise.resolve(json({
      name: "liminal",
      version: VERSION,
      api: "/v1",
      routes: context.routes(),
    })));
  route("GET", "/v1", () => Promise.resolve(json({ name: "liminal", version: VERSION })));

  route("GET", "/v1/status", async () => json(await context.snapshot()));

  // The runtimes sharing the store.
  route("GET", "/v1/nodes", async () => {
    const nodes = await target.nodes();
    return json({ shared: target.sharedStore, self: target.nodeId, nodes });
  });

  // Forgets a dead node (refused for a live one, one with running jobs, this one).
  route("DELETE", "/v1/nodes/:id", async (_request, params) => {
    const id = params.id!;
    await target.forgetNode(id);
    return json({ forgotten: id });
  });

  route("POST", "/v1/intake", async (request) => {
    const { paused } = parseIntakeBody(await readJson(request));
    if (paused) target.jobs.pause();
    else target.jobs.resume();
    return json({ intake: target.jobs.intake });
  });

  route("POST", "/v1/shutdown", async (request) => {
    const body = await readJson(request, true);
    const { grace, force } = parseShutdownBody(body);
    const state = target.state;
    void target.shutdown({
      ...(grace === undefined ? {} : { grace }),
      ...(force ? { force } : {}),
    }).catch(() => {});
    return json({
      accepted: true,
      state: state === "running" ? "stopping" : state,
      pid: Deno.pid,
    }, 202);
  }, false);

  route("GET", "/metrics", async () => {
    const snapshot = await context.snapshot();
    const histograms = target.jobs.histograms(BUCKETS_SECONDS.map((s) => s * 1000));
    return new Response(renderMetrics(snapshot, histograms), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  });
}
