/**
 * The schedule routes: list, add, get, remove, pause, resume and trigger.
 *
 * @module
 */
import { asObject } from "../_bodies.ts";
import { json, readJson } from "../_http.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** Adds the schedule routes. */
export function scheduleRoutes(route: AddRoute, context: RouteContext): void {
  const schedules = context.target.schedules;

  route("GET", "/v1/schedules", async () => json({ schedules: await schedules.list() }));
  route("POST", "/v1/schedules", async (request) => {
    // The target checks the options (defineSchedule) and names what is wrong.
    const body = asObject(await readJson(request), "the request body");
    return json(await schedules.add(body), 201);
  });
  route("GET", "/v1/schedules/:name", async (_r, { name }) => json(await schedules.get(name!)));
  route("DELETE", "/v1/schedules/:name", async (_r, { name }) => {
    await schedules.remove(name!);
    return json({ removed: name });
  });
  route(
    "POST",
    "/v1/schedules/:name/pause",
    async (_r, { name }) => json(await schedules.pause(name!)),
  );
  route(
    "POST",
    "/v1/schedules/:name/resume",
    async (_r, { name }) => json(await schedules.resume(name!)),
  );
  route(
    "POST",
    "/v1/schedules/:name/trigger",
    async (_r, { name }) => json(await schedules.trigger(name!)),
  );
}
