/**
 * Grants and give-backs: a lease decided in memory first (the executor relies on it
 * synchronously) and then written through the store's compare-and-set verbs; its victims
 * told they were preempted; a lease given back (released or expired) and deleted, the
 * deletes that failed tried again.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { LeaseRecord } from "../store/types.ts";
import { armExpiry, armRenewal, isJobLease } from "./_renewal.ts";
import {
  elsewhere,
  isHandingOver,
  type LeaseState,
  log,
  noteLocal,
  RECENT_PREEMPTIONS,
  tokenFor,
} from "./_state.ts";
import { endHandovers, noteFreed, serveWaiters } from "./_waiters.ts";
import type { LeaseRequest } from "./territory_leases.ts";

/** Takes `resource` for `request`, over `victims`; refused when the store's row changed meanwhile. */
export async function grant(
  s: LeaseState,
  resource: string,
  request: LeaseRequest,
  ttlMs: number,
  now: number,
  victims: LeaseRecord[],
): Promise<LeaseRecord> {
  const previous = s.held.get(resource);
  const lease: LeaseRecord = {
    resource,
    holder: request.holder,
    token: tokenFor(request.preemptible === true && !request.jobId, now),
    priority: request.priority ?? "coordinate",
    jobId: request.jobId ?? null,
    acquiredAt: now,
    expiresAt: now + ttlMs,
  };
  // Decide in memory first (the executor relies on it synchronously), then persist.
  endHandovers(s, request.holder, resource);
  for (const victim of victims) s.held.delete(victim.resource);
  s.held.set(resource, lease);
  for (const victim of victims) preempted(s, victim, lease);
  s.events.emit("lease:acquired", { lease });
  armExpiry(s);
  const expected = victims.find((v) => v.resource === resource)?.token ??
    (previous !== undefined && previous.holder === request.holder ? previous.token : null);
  // Leases preempted on other resources are removed in the same transaction.
  const others = victims.filter((v) => v.resource !== resource).map((v) => ({
    resource: v.resource,
    token: v.token,
  }));
  for (const victim of victims) s.mine.delete(victim.token);
  s.writing.add(lease.token);
  s.mine.add(lease.token);
  let written: boolean;
  try {
    written = await s.store.swapLease(lease, expected, now, others);
  } catch (error) {
    if (s.held.get(resource)?.token === lease.token) s.held.delete(resource);
    s.mine.delete(lease.token);
    throw error;
  } finally {
    s.writing.delete(lease.token);
  }
  if (!written) {
    if (s.held.get(resource)?.token === lease.token) s.held.delete(resource);
    s.mine.delete(lease.token);
    throw new LiminalError("LEASE_HELD", `${resource} was taken by another runtime meanwhile`);
  }
  noteLocal(s, lease.token, false);
  if (isJobLease(s, lease)) armRenewal(s);
  log.debug("lease {resource} taken by {holder} ({token})", {
    resource,
    holder: lease.holder,
    token: lease.token,
  });
  return lease;
}

/** Records and announces a lease taken from its holder. */
export function preempted(s: LeaseState, lease: LeaseRecord, by: LeaseRecord): void {
  s.preemptions.push({
    resource: lease.resource,
    holder: lease.holder,
    jobId: lease.jobId,
    by: by.holder,
    byJobId: by.jobId,
    byPriority: by.priority,
    at: s.clock(),
  });
  if (s.preemptions.length > RECENT_PREEMPTIONS) s.preemptions.shift();
  s.events.emit("lease:preempted", { lease, by });
}

/** Gives a lease back (released or expired): announced, deleted, and the waiters served. */
export async function drop(
  s: LeaseState,
  lease: LeaseRecord,
  event: "lease:released" | "lease:expired",
): Promise<void> {
  if (s.held.get(lease.resource)?.token !== lease.token) return;
  s.held.delete(lease.resource);
  const handedOver = s.mine.delete(lease.token) && isHandingOver(lease) &&
    !s.handovers.some((h) => h.victim.resource === lease.resource);
  if (handedOver) {
    // Preempted from another runtime: that runtime's requester is first in line, so this
    // runtime's own waiters (the preempted job, queued again) leave it alone for a while.
    const now = s.clock();
    s.handovers.push({
      victim: lease,
      by: { ...elsewhere(lease, now), holder: "a holder on another runtime" },
      freedAt: now,
    });
  }
  noteFreed(s, s.clock());
  s.events.emit(event, { lease });
  await deleteOwn(s, lease);
  await serveWaiters(s);
}

/**
 * Deletes a lease this runtime gave up. A delete that fails is tried again (at the next
 * read or sweep): a row left behind would block the resource until its TTL.
 */
export async function deleteOwn(s: LeaseState, lease: LeaseRecord): Promise<void> {
  s.dropping.add(lease.token);
  noteLocal(s, lease.token, true);
  try {
    const deleted = await s.store.deleteLease(lease.resource, lease.token);
    s.orphans.delete(lease.token);
    log.debug("lease {resource} of {holder} ({token}) given back{missing}", {
      resource: lease.resource,
      holder: lease.holder,
      token: lease.token,
      missing: deleted ? "" : " (it was no longer in the store)",
    });
  } catch (error) {
    s.orphans.set(lease.token, lease);
    log.warn("lease {resource} could not be given back, trying again: {error}", {
      resource: lease.resource,
      error: errorMessage(error),
    });
  } finally {
    noteLocal(s, lease.token, true);
    s.dropping.delete(lease.token);
  }
}

/** Tries the deletes that failed again. */
export async function retryOrphans(s: LeaseState): Promise<void> {
  for (const lease of [...s.orphans.values()]) await deleteOwn(s, lease);
}
