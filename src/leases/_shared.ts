/**
 * A shared store's changes: with several runtimes writing the same store, leases are read
 * again on every change they announce (and every `SYNC_EVERY_MS` in case one was missed) and
 * the read is applied here: what others took, renewed or gave back becomes known, a job of
 * this runtime whose lease was taken elsewhere hears `lease:preempted`, job leases left
 * behind are freed, and the leases of jobs running elsewhere that were preempted here are
 * marked for their handover.
 *
 * @module
 */
import { errorMessage } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { overlaps } from "../shared/resource.ts";
import type { LeaseRecord } from "../store/types.ts";
import { preempted, retryOrphans } from "./_grant.ts";
import { armExpiry } from "./_renewal.ts";
import {
  elsewhere,
  HANDOVER_TOKEN,
  isHandingOver,
  type LeaseState,
  log,
  noteLocal,
  STALE_JOB_LEASE_MS,
  SYNC_EVERY_MS,
} from "./_state.ts";
import { noteFreed, serveWaiters } from "./_waiters.ts";

/** Reads the leases again every `SYNC_EVERY_MS` while started. */
export function armSync(s: LeaseState): void {
  s.syncTimer = setTimeout(() => {
    s.syncTimer = undefined;
    if (!s.started) return;
    void reload(s).catch((error) =>
      log.warn("leases could not be read again: {error}", { error: errorMessage(error) })
    ).finally(() => {
      if (s.started) armSync(s);
    });
  }, SYNC_EVERY_MS);
}

/**
 * Reads the leases from the store again (one read at a time; asked again meanwhile, it reads
 * once more after): see `TerritoryLeases.reload`.
 */
export function reload(s: LeaseState): Promise<void> {
  if (s.reloading !== null) {
    s.reloadAgain = true;
    return s.reloading;
  }
  s.reloading = (async () => {
    try {
      do {
        s.reloadAgain = false;
        await reloadOnce(s);
      } while (s.reloadAgain && s.started);
    } finally {
      s.reloading = null;
    }
  })();
  return s.reloading;
}

/** One read of the store, applied: see {@link reload}. */
export async function reloadOnce(s: LeaseState): Promise<void> {
  await retryOrphans(s);
  // Writes of this runtime that end while the store is read may be missing from (or still
  // in) what is read: the local view wins for those.
  const startSeq = s.localSeq;
  const stored = await s.store.listLeases();
  const now = s.clock();
  const next = new Map<string, LeaseRecord>();
  for (const lease of stored) {
    if (lease.expiresAt <= now) continue;
    if (s.dropping.has(lease.token) || s.recent.get(lease.token)?.dropped) continue;
    next.set(lease.resource, lease);
  }
  for (const lease of s.held.values()) {
    const recent = s.recent.get(lease.token);
    // A renewal of ours whose write the read already sees, but whose answer is still on its
    // way, is ours too: the held lease stands until the renewal is known.
    const renewing = s.writing.has(next.get(lease.resource)?.token ?? "");
    const fresh = s.writing.has(lease.token) || renewing ||
      (recent !== undefined && !recent.dropped);
    // Another runtime marked this job's lease for a handover: the mark replaced what this
    // runtime wrote last (it was written expecting it), so it is newer.
    const marked = next.get(lease.resource);
    const markedOver = marked !== undefined && isHandingOver(marked) && !isHandingOver(lease) &&
      marked.jobId === lease.jobId && marked.holder === lease.holder;
    // Written (or being written) after the read began: newer than what was read.
    if (fresh && !markedOver) next.set(lease.resource, lease);
  }
  // What was written before this read began is in it: forget those.
  for (const [token, recent] of s.recent) {
    if (recent.seq <= startSeq) s.recent.delete(token);
  }
  let changed = 0;
  let freed = 0;
  const lost: { lease: LeaseRecord; by: LeaseRecord }[] = [];
  for (const [resource, old] of s.held) {
    const current = next.get(resource);
    if (current?.token === old.token) {
      if (current.expiresAt !== old.expiresAt) changed++;
      continue;
    }
    changed++;
    if (
      s.mine.has(old.token) && current !== undefined && isHandingOver(current) &&
      current.jobId === old.jobId && current.holder === old.holder
    ) {
      // Another runtime preempted this job's lease: the job stops, and keeps the lease (still
      // renewed, still this runtime's to give back) until its attempt has ended.
      s.mine.add(current.token);
      if (!isHandingOver(old)) {
        lost.push({
          lease: current,
          by: {
            ...elsewhere(current, now),
            holder: "a higher-priority holder on another runtime",
          },
        });
      }
      continue;
    }
    const by = current ?? [...next.values()].find((l) => overlaps(l.resource, resource));
    if (s.mine.has(old.token)) {
      // A lease this runtime took for a job is gone, and not because it gave it back: it
      // was preempted through another runtime (or freed by a sweep): the job must stop.
      lost.push({ lease: old, by: by ?? elsewhere(old, now) });
    } else if (by === undefined) freed++;
  }
  for (const resource of next.keys()) if (!s.held.has(resource)) changed++;
  if (s.shared) await dropStaleJobLeases(s, next, now);
  if (changed === 0) return;
  s.held.clear();
  for (const [resource, lease] of next) s.held.set(resource, lease);
  const live = new Set([...next.values()].map((l) => l.token));
  for (const token of s.mine) if (!live.has(token)) s.mine.delete(token);
  for (const event of lost) preempted(s, event.lease, event.by);
  noteFreed(s, now);
  markHandovers(s, now);
  s.events.emit("lease:synced", { changed, freed });
  armExpiry(s);
  await serveWaiters(s);
}

/**
 * With a shared store: deletes job leases older than a minute whose job is not running
 * anywhere (a runtime that died between taking a lease and claiming its job, or a write
 * whose answer was lost). Such a lease would hold its resource, and its own job, until
 * its TTL.
 */
export async function dropStaleJobLeases(
  s: LeaseState,
  leases: Map<string, LeaseRecord>,
  now: number,
): Promise<void> {
  for (const lease of [...leases.values()]) {
    if (lease.jobId === null || s.mine.has(lease.token)) continue;
    if (s.writing.has(lease.token) || now - lease.acquiredAt < STALE_JOB_LEASE_MS) continue;
    const job = await s.store.get(lease.jobId).catch(() => undefined);
    if (job === undefined || job?.state === "running") continue;
    if (await s.store.deleteLease(lease.resource, lease.token).catch(() => false)) {
      log.warn("lease {resource} of {holder} was left behind (its job is {state}): freed", {
        resource: lease.resource,
        holder: lease.holder,
        state: job?.state ?? "gone",
      });
      leases.delete(lease.resource);
    }
  }
}

/**
 * With a shared store: marks the preempted leases of jobs that run on other runtimes (a new
 * token with the prefix `h-`), so that runtime interrupts its job. The row stays: that
 * runtime deletes it once the attempt has ended.
 */
export function markHandovers(s: LeaseState, now: number): void {
  if (!s.shared) return;
  for (const handover of s.handovers) {
    if (handover.freedAt !== null) continue;
    const current = s.held.get(handover.victim.resource);
    if (current === undefined || current.jobId !== handover.victim.jobId) continue;
    if (isHandingOver(current) || s.mine.has(current.token)) continue;
    if (s.writing.has(current.token)) continue;
    const marked: LeaseRecord = { ...current, token: `${HANDOVER_TOKEN}${newId(now)}` };
    s.writing.add(marked.token);
    void s.store.swapLease(marked, current.token, now).then((written) => {
      if (!written) return reload(s);
      if (s.held.get(current.resource)?.token === current.token) {
        s.held.set(current.resource, marked);
      }
      noteLocal(s, current.token, true);
      noteLocal(s, marked.token, false);
    }).catch((error) =>
      log.warn("lease {resource} could not be marked for its handover: {error}", {
        resource: current.resource,
        error: errorMessage(error),
      })
    ).finally(() => s.writing.delete(marked.token));
  }
}
