/**
 * The territory lease routes: the leases held (with waiters and the latest preemptions),
 * acquire (now, or waiting in line), release and renew.
 *
 * @module
 */
import { formatDuration } from "../../shared/duration.ts";
import { LiminalError } from "../../shared/errors.ts";
import { overlaps } from "../../shared/resource.ts";
import { parseLeaseBody } from "../_bodies.ts";
import { json, readJson } from "../_http.ts";
import type { LeaseGrant } from "../target.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** A lease as the routes answer it (times as ISO text). */
function leaseView(lease: LeaseGrant) {
  return {
    resource: lease.resource,
    holder: lease.holder,
    priority: lease.priority,
    acquiredAt: new Date(lease.acquiredAt).toISOString(),
    expiresAt: new Date(lease.expiresAt).toISOString(),
    jobId: lease.jobId,
    preemptible: lease.preemptible,
  };
}

/** Adds the lease routes. */
export function leaseRoutes(route: AddRoute, context: RouteContext): void {
  const leases = context.target.leases;

  route(
    "GET",
    "/v1/leases",
    () =>
      Promise.resolve(json({
        leases: leases.snapshot(),
        preemptions: leases.recentPreemptions().map((p) => ({
          ...p,
          at: new Date(p.at).toISOString(),
        })),
      })),
  );

  route("POST", "/v1/leases/acquire", async (request) => {
    const { resource, holder, ttl, priority, wait, preemptible } = parseLeaseBody(
      await readJson(request),
      ["resource", "holder", "ttl", "priority", "wait", "preemptible"],
    );
    const ask = {
      holder,
      ...(ttl === undefined ? {} : { ttl }),
      ...(priority === undefined ? {} : { priority }),
      ...(preemptible === undefined ? {} : { preemptible }),
    };
    const began = Date.now();
    // The jobs this acquire preempted (their attempts ended before the lease changed hands).
    const handedOver = (granted: LeaseGrant) => {
      const from = leases.recentPreemptions().filter((p) =>
        p.by === holder && p.jobId !== null && p.at >= began && overlaps(p.resource, resource)
      );
      return from.length === 0 ? {} : {
        handedOver: {
          jobs: from.map((p) => ({ jobId: p.jobId, holder: p.holder, resource: p.resource })),
          waitedMs: Math.max(0, granted.acquiredAt - began),
        },
      };
    };
    if (wait === undefined || wait <= 0) {
      const lease = await leases.acquire(resource, ask);
      return json({ ...leaseView(lease), ...handedOver(lease) });
    }
    const stop = new AbortController();
    const timer = setTimeout(() => {
      const held = leases.snapshot().find((l) => overlaps(l.resource, resource));
      stop.abort(
        new LiminalError(
          "LEASE_HELD",
          `${resource} is still held${
            held === undefined
              ? ""
              : ` by ${held.holder} (${held.priority}, ${formatDuration(held.leftMs)} left)`
          } after waiting ${formatDuration(wait)}`,
          { hint: "wait longer (--wait 10m), or ask its holder to release it" },
        ),
      );
    }, wait);
    try {
      // A client that goes away (Ctrl-C on `leases acquire --wait`) stops waiting: it must
      // not be granted the lease later with nobody there to release it.
      const lease = await leases.acquireOrWait(
        resource,
        ask,
        AbortSignal.any([stop.signal, context.live, request.signal]),
      );
      if (request.signal.aborted) {
        await leases.release(resource, holder).catch(() => {});
        throw new LiminalError("LEASE_HELD", `${resource}: the client left before the grant`);
      }
      return json({ ...leaseView(lease), ...handedOver(lease) });
    } finally {
      clearTimeout(timer);
    }
  });

  route("POST", "/v1/leases/release", async (request) => {
    const { resource, holder } = parseLeaseBody(await readJson(request), ["resource", "holder"]);
    return json({ released: leaseView(await leases.release(resource, holder)) });
  });

  route("POST", "/v1/leases/renew", async (request) => {
    const { resource, holder, ttl } = parseLeaseBody(await readJson(request), [
      "resource",
      "holder",
      "ttl",
    ]);
    const before = leases.get(resource);
    const renewed = await leases.renew(resource, holder, ttl);
    // Said in the answer: a renewal that shortens the lease does so only as asked.
    return json({
      ...leaseView(renewed),
      previousExpiresAt: before === undefined ? null : new Date(before.expiresAt).toISOString(),
      shortened: before !== undefined && renewed.expiresAt < before.expiresAt,
    });
  });
}
