/**
 * Renewal and expiry: the leases this runtime took for running jobs are renewed every third
 * of the default TTL (and at a sweep that finds one late); every other lease expires at its
 * TTL, swept by one timer armed for the earliest expiry.
 *
 * @module
 */
import { errorMessage } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { overlaps } from "../shared/resource.ts";
import type { LeaseRecord } from "../store/types.ts";
import { deleteOwn, drop, preempted, retryOrphans } from "./_grant.ts";
import { reload } from "./_shared.ts";
import {
  elsewhere,
  HANDOVER_TOKEN,
  isHandingOver,
  type LeaseState,
  log,
  noteLocal,
  tokenFor,
} from "./_state.ts";

/** Whether this runtime took `lease` for a job (that runs here, until it gives it back). */
export function isJobLease(s: LeaseState, lease: LeaseRecord): boolean {
  return lease.jobId !== null && s.mine.has(lease.token);
}

/** Keeps renewing the leases of running jobs while there are any. */
export function armRenewal(s: LeaseState): void {
  if (!s.started || s.renewTimer !== undefined) return;
  if (![...s.held.values()].some((l) => isJobLease(s, l))) return;
  s.renewTimer = setTimeout(() => {
    s.renewTimer = undefined;
    if (!s.started) return;
    s.renewing ??= renewJobLeases(s).finally(() => {
      s.renewing = null;
      armRenewal(s);
    });
  }, Math.max(10, Math.floor(s.defaultTtlMs / 3)));
}

/** Extends every lease this runtime holds for a running job that was not renewed lately. */
export async function renewJobLeases(s: LeaseState): Promise<void> {
  const period = s.defaultTtlMs / 3;
  for (const lease of [...s.held.values()]) {
    if (!isJobLease(s, lease) || s.writing.has(lease.token)) continue;
    if (s.held.get(lease.resource)?.token !== lease.token) continue;
    // Renewed less than half a period ago (a sweep did it): not yet.
    if (lease.expiresAt - s.clock() > s.defaultTtlMs - period / 2) continue;
    await extend(s, lease);
  }
}

/**
 * Extends a lease this runtime holds for a running job by the default TTL from now.
 * `false` when it is no longer this job's: released meanwhile, or taken by another runtime
 * sharing the store (then the job hears `lease:preempted`). A store that fails keeps the
 * lease as it is, to be renewed at the next turn.
 */
export async function extend(s: LeaseState, current: LeaseRecord): Promise<boolean> {
  const now = s.clock();
  const renewed: LeaseRecord = {
    ...current,
    // A lease being handed over stays marked so.
    token: isHandingOver(current) ? `${HANDOVER_TOKEN}${newId(now)}` : tokenFor(false, now),
    expiresAt: now + s.defaultTtlMs,
  };
  s.writing.add(renewed.token);
  let written: boolean;
  try {
    written = await s.store.swapLease(renewed, current.token, now);
  } catch (error) {
    log.warn("lease {resource} of {holder} could not be renewed, trying again: {error}", {
      resource: current.resource,
      holder: current.holder,
      error: errorMessage(error),
    });
    return s.held.get(current.resource)?.token === current.token;
  } finally {
    s.writing.delete(renewed.token);
  }
  if (s.held.get(current.resource)?.token !== current.token) {
    // Released (or taken over here) while the renewal was written: the renewal must not
    // outlive it.
    if (written) await deleteOwn(s, renewed);
    return false;
  }
  if (!written && s.shared) {
    // Marked for a handover by another runtime meanwhile? Then it is still this job's.
    await reload(s).catch(() => {});
    const after = s.held.get(current.resource);
    if (after !== undefined && after.token !== current.token && isJobLease(s, after)) {
      return true;
    }
    if (after?.token !== current.token) return false;
  }
  if (!written) {
    s.held.delete(current.resource);
    s.mine.delete(current.token);
    const by = [...s.held.values()].find((l) => overlaps(l.resource, current.resource));
    preempted(s, current, by ?? elsewhere(current, now));
    armExpiry(s);
    await reload(s).catch(() => {});
    return false;
  }
  noteLocal(s, current.token, true);
  noteLocal(s, renewed.token, false);
  s.mine.delete(current.token);
  s.mine.add(renewed.token);
  s.held.set(current.resource, renewed);
  s.events.emit("lease:renewed", { lease: renewed });
  armExpiry(s);
  return true;
}

/** Removes the leases whose time is up (a running job's is renewed instead); resolves with them. */
export async function sweep(s: LeaseState): Promise<LeaseRecord[]> {
  await retryOrphans(s);
  // With a shared store, expiries are read again first: another runtime may have renewed.
  if (s.shared) await reload(s).catch(() => {});
  const now = s.clock();
  const expired = [...s.held.values()].filter((l) => l.expiresAt <= now);
  const dropped: LeaseRecord[] = [];
  for (const lease of expired) {
    // A running job's lease is not over while its attempt lives (a late renewal: the event
    // loop was held up): renewed now, unless another runtime took it meanwhile.
    if (isJobLease(s, lease) && !s.writing.has(lease.token)) {
      if (await extend(s, lease)) continue;
      if (s.held.get(lease.resource)?.token !== lease.token) continue;
    }
    await drop(s, lease, "lease:expired");
    dropped.push(lease);
  }
  armExpiry(s);
  return dropped;
}

/** Arms the expiry timer for the earliest expiry of a lease held (a sweep then). */
export function armExpiry(s: LeaseState): void {
  if (!s.started) return;
  let next = Number.POSITIVE_INFINITY;
  for (const lease of s.held.values()) next = Math.min(next, lease.expiresAt);
  if (next === s.timerAt) return;
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timer = undefined;
  s.timerAt = next;
  if (next === Number.POSITIVE_INFINITY) return;
  s.timer = setTimeout(() => {
    s.timer = undefined;
    s.timerAt = Number.POSITIVE_INFINITY;
    void sweep(s);
  }, Math.min(Math.max(0, next - s.clock()), 2 ** 31 - 1));
}
