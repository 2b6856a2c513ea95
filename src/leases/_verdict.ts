/**
 * The verdict: who may take what. A request meets the live leases overlapping its resource
 * and is told `free`, `preempt` (a lower-priority preemptible lease is taken over at once),
 * `handover` (a job's lease: the job stops first) or `held` (why, and a hint on what to do).
 * The first-in-line reservation of a handover and the refusals of a holder's own lease live
 * here too.
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { priorityLevel } from "../shared/priority.ts";
import { overlaps } from "../shared/resource.ts";
import type { LeaseRecord } from "../store/types.ts";
import {
  type Handover,
  isHandingOver,
  isPreemptible,
  type LeaseState,
  level,
  live,
  RESERVE_MS,
} from "./_state.ts";
import type { LeaseRequest } from "./territory_leases.ts";

/** What blocks a request: nothing, a lease that can be preempted, or one that cannot. */
export type Verdict =
  | { kind: "free" }
  | { kind: "preempt"; victims: LeaseRecord[] }
  /** Preemptible, but a victim is a job's lease: the job stops first, then it is handed over. */
  | { kind: "handover"; victims: LeaseRecord[]; jobs: LeaseRecord[] }
  | { kind: "held"; by: LeaseRecord; why: string; hint: string };

/** Whether `request` may take `resource` now, and what it takes over or why not. */
export function verdictFor(
  s: LeaseState,
  resource: string,
  request: LeaseRequest,
  now: number,
): Verdict {
  // A lease of the same job blocks too: another run of it (on another runtime sharing the
  // store) holds it, and taking it over would let both run.
  const blockers = [...s.held.values()].filter((l) =>
    l.expiresAt > now && overlaps(l.resource, resource) &&
    (l.holder !== request.holder || (l.jobId !== null && l.jobId === (request.jobId ?? null)))
  );
  // A preempted job's lease on its way to its requester: nobody else takes it meanwhile.
  const reserved = reservation(s, resource, request.holder, now);
  if (reserved !== undefined) {
    const by = blockers.find((l) => overlaps(l.resource, reserved.victim.resource)) ??
      reserved.by;
    return {
      kind: "held",
      by,
      why: `preempted by ${reserved.by.holder} (${reserved.by.priority}), handed over to it ${
        reserved.freedAt === null ? "once its job's attempt has ended" : "now"
      }`,
      hint: "wait for it (--wait): it goes to the holder that preempted it first",
    };
  }
  if (blockers.length === 0) return { kind: "free" };
  for (const holder of blockers) {
    const left = formatDuration(holder.expiresAt - now);
    if (!isPreemptible(holder)) {
      return {
        kind: "held",
        by: holder,
        why: `an operator's lease, not preemptible, ${left} left`,
        hint: `wait for it (--wait), or ask ${holder.holder} to release it: no priority ` +
          "takes over an operator's lease unless it was acquired --preemptible",
      };
    }
    if (isHandingOver(holder) && !s.handovers.some((h) => h.by.holder === request.holder)) {
      // Marked by another runtime: it goes to that runtime's requester.
      return {
        kind: "held",
        by: holder,
        why: "preempted from another runtime, handed over once its job's attempt has ended",
        hint: "wait for it (--wait)",
      };
    }
    if (level(request) < priorityLevel(holder.priority) + 1) {
      return {
        kind: "held",
        by: holder,
        why: `priority ${holder.priority}, ${left} left`,
        hint: `wait for it (--wait), or ask with a priority above ${holder.priority}`,
      };
    }
    if (holder.expiresAt - now <= s.graceMs) {
      return {
        kind: "held",
        by: holder,
        why: `only ${left} left: wait rather than preempt`,
        hint: "wait for it (--wait)",
      };
    }
  }
  const jobs = blockers.filter((l) => l.jobId !== null);
  if (jobs.length > 0) return { kind: "handover", victims: blockers, jobs };
  return { kind: "preempt", victims: blockers };
}

/** A handover of a resource overlapping `resource` to another holder than `holder`, if any. */
export function reservation(
  s: LeaseState,
  resource: string,
  holder: string,
  now: number,
): Handover | undefined {
  return s.handovers.find((h) =>
    h.by.holder !== holder && overlaps(h.victim.resource, resource) &&
    (h.freedAt === null || now - h.freedAt < RESERVE_MS)
  );
}

/** Whether a handover of a resource overlapping `resource` waits for `holder`. */
export function isReservedFor(
  s: LeaseState,
  resource: string,
  holder: string,
  now: number,
): boolean {
  return s.handovers.some((h) =>
    h.by.holder === holder && overlaps(h.victim.resource, resource) &&
    (h.freedAt === null || now - h.freedAt < RESERVE_MS)
  );
}

/** Refuses a holder that asks again for a resource it holds: renewing is explicit. */
export function refuseHeldAgain(
  s: LeaseState,
  resource: string,
  request: LeaseRequest,
  now: number,
): void {
  const current = live(s, resource, now);
  if (current === undefined || current.holder !== request.holder) return;
  throw new LiminalError(
    "LEASE_HELD",
    `${resource} is already held by ${request.holder} (${
      formatDuration(current.expiresAt - now)
    } left): acquiring it again would change its TTL without saying so`,
    { hint: `to change its TTL: liminal leases renew ${resource} --holder ${request.holder}` },
  );
}
/** The refusal of a release or renewal by someone who does not hold the lease. */
export function notHeld(
  resource: string,
  holder: string,
  current: LeaseRecord | undefined,
): LiminalError {
  if (current?.jobId != null) {
    return new LiminalError(
      "LEASE_HELD_BY_OTHER",
      `${resource} is held by ${current.holder}: a job's lease ends with its attempt`,
      { hint: `to end it sooner: liminal jobs cancel ${current.jobId}` },
    );
  }
  return current === undefined
    ? new LiminalError("LEASE_NOT_HELD", `${holder} does not hold ${resource}: nobody holds it`)
    : new LiminalError(
      "LEASE_HELD_BY_OTHER",
      `${holder} does not hold ${resource}: ${current.holder} does`,
      { hint: "only its holder may release or renew it (see liminal leases)" },
    );
}
