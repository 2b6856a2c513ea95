/**
 * The waiter line and handovers. Waiters queue in priority order, then in arrival order, and
 * are served whenever a lease frees. Preempting a job's lease is a handover: the job is told
 * at once, keeps the lease until its attempt has ended, and the requester is first in line
 * for it (nobody else takes it meanwhile, nor within `RESERVE_MS` after it is given back).
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { overlaps } from "../shared/resource.ts";
import type { LeaseRecord } from "../store/types.ts";
import { grant, preempted } from "./_grant.ts";
import { markHandovers } from "./_shared.ts";
import {
  HANDOVER_DEFAULT_MS,
  HANDOVER_SLACK_MS,
  type LeaseState,
  level,
  log,
  RESERVE_MS,
  type Waiter,
} from "./_state.ts";
import { isReservedFor, verdictFor } from "./_verdict.ts";
import type { LeaseRequest } from "./territory_leases.ts";

/** Waits in line for `resource` (first when a handover to `request` is on its way). */
export function enqueueWaiter(
  s: LeaseState,
  resource: string,
  request: LeaseRequest,
  ttlMs: number,
  now: number,
  signal?: AbortSignal,
): Promise<LeaseRecord> {
  return new Promise<LeaseRecord>((resolve, reject) => {
    const waiter: Waiter = {
      resource,
      request,
      ttlMs,
      level: level(request),
      since: now,
      seq: ++s.seq,
      resolve,
      reject,
    };
    s.waiters.push(waiter);
    s.waiters.sort((a, b) => b.level - a.level || a.seq - b.seq);
    signal?.addEventListener("abort", () => {
      if (!s.waiters.includes(waiter)) return; // served already
      s.waiters = s.waiters.filter((w) => w !== waiter);
      // Gave up: a handover to it no longer holds the resource for it.
      endHandovers(s, request.holder, resource);
      noteFreed(s, s.clock());
      void serveWaiters(s);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Serves every waiter whose resource can be taken now, first in line first. */
export async function serveWaiters(s: LeaseState): Promise<void> {
  for (const waiter of [...s.waiters]) {
    // Gone meanwhile (gave up, or served by another pass while a grant was awaited): a
    // holder that left must never be handed the lease.
    if (!s.waiters.includes(waiter)) continue;
    const now = s.clock();
    const verdict = verdictFor(s, waiter.resource, waiter.request, now);
    if (verdict.kind === "held" || verdict.kind === "handover") continue;
    // Higher-priority waiters for an overlapping resource go first (unless the resource
    // is being handed over to this one: it preempted it).
    const ahead = !isReservedFor(s, waiter.resource, waiter.request.holder, now) &&
      s.waiters.some((w) =>
        w !== waiter && overlaps(w.resource, waiter.resource) && w.seq < waiter.seq &&
        w.level >= waiter.level
      );
    if (ahead) continue;
    s.waiters = s.waiters.filter((w) => w !== waiter);
    try {
      waiter.resolve(
        await grant(
          s,
          waiter.resource,
          waiter.request,
          waiter.ttlMs,
          now,
          verdict.kind === "preempt" ? verdict.victims : [],
        ),
      );
    } catch (error) {
      waiter.reject(error);
    }
  }
}

/**
 * Starts handing the job leases `jobs` over to `request`: each job is told at once (the
 * runtime interrupts it), and keeps its lease until its attempt has ended. Asking again
 * for one already on its way changes nothing.
 */
export function beginHandover(
  s: LeaseState,
  jobs: LeaseRecord[],
  request: LeaseRequest,
  ttlMs: number,
  now: number,
): void {
  for (const victim of jobs) {
    const known = s.handovers.some((h) =>
      h.victim.resource === victim.resource && h.victim.jobId === victim.jobId &&
      h.by.holder === request.holder
    );
    if (known) continue;
    const by: LeaseRecord = {
      resource: victim.resource,
      holder: request.holder,
      token: "",
      priority: request.priority ?? "coordinate",
      jobId: request.jobId ?? null,
      acquiredAt: now,
      expiresAt: now + ttlMs,
    };
    s.handovers.push({ victim, by, freedAt: null });
    log.info("lease {resource} of {holder} preempted by {by}: handed over once the job stops", {
      resource: victim.resource,
      holder: victim.holder,
      by: request.holder,
    });
    preempted(s, victim, by);
  }
  markHandovers(s, now);
}

/** Handovers whose job gave its lease back (released, expired, gone from the store). */
export function noteFreed(s: LeaseState, now: number): void {
  let earliest = Number.POSITIVE_INFINITY;
  const before = s.handovers.length;
  s.handovers = s.handovers.filter((h) => {
    if (h.freedAt === null) {
      const current = s.held.get(h.victim.resource);
      if (current !== undefined && current.jobId === h.victim.jobId && current.expiresAt > now) {
        return true;
      }
      h.freedAt = now;
    }
    if (now - h.freedAt >= RESERVE_MS) return false;
    earliest = Math.min(earliest, h.freedAt + RESERVE_MS);
    return true;
  });
  if (s.reserveTimer !== undefined) clearTimeout(s.reserveTimer);
  s.reserveTimer = undefined;
  if (earliest !== Number.POSITIVE_INFINITY && s.started) {
    // A reservation nobody took lapses: the others are served then.
    s.reserveTimer = setTimeout(() => {
      s.reserveTimer = undefined;
      noteFreed(s, s.clock());
      void serveWaiters(s);
      for (const listener of s.freeListeners) listener();
    }, Math.max(0, earliest - now));
  }
  if (s.handovers.length < before) {
    for (const listener of s.freeListeners) listener();
  }
}

/** Drops the handovers to `holder` (taken, or given up). */
export function endHandovers(s: LeaseState, holder: string, resource: string): void {
  s.handovers = s.handovers.filter((h) =>
    !(h.by.holder === holder && overlaps(h.victim.resource, resource))
  );
}

/**
 * An acquire without waiting that preempts job leases `jobs`: each job is interrupted now and
 * the lease is handed over once its attempt has ended (its processes gone). The wait is bounded
 * by the jobs' kill deadline (`HANDOVER_DEFAULT_MS` for a job of another runtime) plus
 * `HANDOVER_SLACK_MS`; past it, `LEASE_HELD`.
 */
export async function awaitHandover(
  s: LeaseState,
  resource: string,
  request: LeaseRequest,
  ttlMs: number,
  now: number,
  jobs: LeaseRecord[],
): Promise<LeaseRecord> {
  beginHandover(s, jobs, request, ttlMs, now);
  const stops = jobs.map((job) => s.stopDeadline(job.jobId!));
  const deadline = stops.every((stop) => stop !== null)
    ? Math.max(...(stops as number[]))
    : now + HANDOVER_DEFAULT_MS; // a job of another runtime: its deadline is not known here
  const boundMs = Math.max(0, deadline - now) + HANDOVER_SLACK_MS;
  const timeout = new AbortController();
  const timer = setTimeout(() => {
    const names = jobs.map((j) => `job ${j.jobId}`).join(", ");
    timeout.abort(
      new LiminalError(
        "LEASE_HELD",
        `${resource}: ${names} was interrupted (preempted by ${request.holder}) but its attempt ` +
          `has not ended after ${formatDuration(boundMs)}; the lease stays with it until it has`,
        { hint: `wait for it: liminal leases acquire ${resource} --wait` },
      ),
    );
  }, boundMs);
  try {
    return await enqueueWaiter(s, resource, request, ttlMs, now, timeout.signal);
  } finally {
    clearTimeout(timer);
  }
}
