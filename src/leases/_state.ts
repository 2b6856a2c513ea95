/**
 * The leases' internal state: one object every room of `src/leases` shares (the way the
 * executor's rooms share `ExecutorState`). The verdict (`_verdict.ts`), grants and give-backs
 * (`_grant.ts`), the waiter line and handovers (`_waiters.ts`), renewal and expiry
 * (`_renewal.ts`) and a shared store's changes (`_shared.ts`) are functions over it;
 * `TerritoryLeases` owns it and is its public face. Nothing outside `src/leases` sees it.
 *
 * @module
 */
import { type Duration, formatDuration, parseDuration } from "../shared/duration.ts";
import { Emitter } from "../shared/emitter.ts";
import { LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { priorityLevel } from "../shared/priority.ts";
import { isSharedStore, type JobStore, type LeaseRecord } from "../store/types.ts";
import { getLogger } from "@logtape/logtape";
import type {
  LeaseEventMap,
  LeaseRequest,
  Preemption,
  TerritoryLeasesOptions,
} from "./territory_leases.ts";

/** The leases' logger. */
export const log = getLogger(["liminal", "leases"]);

/** With a shared store, leases are read again at least this often. */
export const SYNC_EVERY_MS = 5_000;
/** A job lease this old whose job is not running is left over, and freed. */
export const STALE_JOB_LEASE_MS = 60_000;
/** Token prefix of an operator's lease that may be preempted. */
export const PREEMPTIBLE_TOKEN = "p-";
/** Preemptions remembered for `leases` (the most recent). */
export const RECENT_PREEMPTIONS = 20;
/** Token prefix of a job's lease that was preempted and is being handed over. */
export const HANDOVER_TOKEN = "h-";
/** After a preempted job gives its lease back, the requester has this long to take it. */
export const RESERVE_MS = 5_000;
/** A handover whose job's stop deadline is unknown (another runtime's job) waits this long. */
export const HANDOVER_DEFAULT_MS = 60_000;
/** Time for an attempt to settle after its kill deadline (the kill, the commit, the release). */
export const HANDOVER_SLACK_MS = 5_000;

/** Whether `lease` is a job's lease that was preempted, being handed over to its requester. */
export function isHandingOver(lease: LeaseRecord): boolean {
  return lease.jobId !== null && lease.token.startsWith(HANDOVER_TOKEN);
}

/** Whether a lease may be taken over by a higher-priority requester: a job's, or one asked so. */
export function isPreemptible(lease: LeaseRecord): boolean {
  return lease.jobId !== null || lease.token.startsWith(PREEMPTIBLE_TOKEN);
}

/** A new token for a lease, keeping whether it is preemptible. */
export function tokenFor(preemptible: boolean, now: number): string {
  return preemptible ? `${PREEMPTIBLE_TOKEN}${newId(now)}` : newId(now);
}

/** Who took a lease when only its absence is known: another runtime sharing the store. */
export function elsewhere(lease: LeaseRecord, now: number): LeaseRecord {
  return {
    resource: lease.resource,
    holder: "another runtime",
    token: "",
    priority: lease.priority,
    jobId: null,
    acquiredAt: now,
    expiresAt: now,
  };
}

/** The priority level of a request (`coordinate` when none is asked). */
export function level(request: LeaseRequest): number {
  return priorityLevel(request.priority ?? "coordinate");
}

/** A request waiting in line for its resource. */
export interface Waiter {
  resource: string;
  request: LeaseRequest;
  ttlMs: number;
  level: number;
  since: number;
  seq: number;
  resolve: (lease: LeaseRecord) => void;
  reject: (error: unknown) => void;
}

/** A preempted job's lease on its way to the requester that preempted it. */
export interface Handover {
  /** The job's lease when it was preempted (matched by resource and job: renewals change the token). */
  victim: LeaseRecord;
  /** Who takes it: a lease record not granted yet, for events and explanations. */
  by: LeaseRecord;
  /** When the job gave the lease back (epoch ms); `null` while it holds it. */
  freedAt: number | null;
}

/** Everything the leases know, shared by their rooms. */
export class LeaseState {
  readonly store: JobStore;
  readonly clock: () => number;
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
  readonly graceMs: number;
  readonly events = new Emitter<LeaseEventMap>();
  /** The lease table: the live lease of each resource. */
  readonly held = new Map<string, LeaseRecord>();
  /** The waiter line: priority order, then arrival order. */
  waiters: Waiter[] = [];
  seq = 0;
  /** The expiry timer, armed for the earliest expiry (`timerAt`). */
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt = Number.POSITIVE_INFINITY;
  started = false;
  /** Tokens of grants being written: a reload keeps them until the write is known. */
  readonly writing = new Set<string>();
  /** Tokens of the leases this runtime took for jobs and holds. */
  readonly mine = new Set<string>();
  /** Tokens whose delete is on its way: a read that still sees them does not bring them back. */
  readonly dropping = new Set<string>();
  /** Leases given up whose delete failed, by token: deleted again later. */
  readonly orphans = new Map<string, LeaseRecord>();
  /** Whether other runtimes write the same store. */
  readonly shared: boolean;
  /** Leases this runtime wrote or deleted lately (by token), with the order of the write. */
  readonly recent = new Map<string, { seq: number; dropped: boolean }>();
  localSeq = 0;
  reloading: Promise<void> | null = null;
  reloadAgain = false;
  syncTimer: ReturnType<typeof setTimeout> | undefined;
  offChange: (() => void) | null = null;
  /** Renews the leases of running jobs every third of the TTL. */
  renewTimer: ReturnType<typeof setTimeout> | undefined;
  renewing: Promise<void> | null = null;
  /** The latest preemptions, newest last. */
  preemptions: Preemption[] = [];
  /** Preempted jobs' leases on their way to their requesters. */
  handovers: Handover[] = [];
  reserveTimer: ReturnType<typeof setTimeout> | undefined;
  readonly freeListeners = new Set<() => void>();
  readonly stopDeadline: (jobId: string) => number | null;

  /** Resolves and checks the options (the TTLs and the preemption grace). */
  constructor(options: TerritoryLeasesOptions) {
    this.store = options.store;
    this.shared = isSharedStore(options.store);
    this.clock = options.clock ?? Date.now;
    this.defaultTtlMs = parseDuration(options.defaultTtl ?? "15m", "default lease TTL");
    this.maxTtlMs = parseDuration(options.maxTtl ?? "1h", "maximum lease TTL");
    this.graceMs = parseDuration(options.preemptGrace ?? "60s", "preemption grace");
    this.stopDeadline = options.stopDeadline ?? (() => null);
    if (this.defaultTtlMs <= 0 || this.defaultTtlMs > this.maxTtlMs) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the default lease TTL must be longer than 0 and at most the maximum TTL of ${
          formatDuration(this.maxTtlMs)
        }, got ${formatDuration(this.defaultTtlMs)}`,
      );
    }
  }
}

/** Checks a TTL given by a user: positive and at most the maximum. */
export function resolveTtl(s: LeaseState, ttl: Duration | undefined): number {
  if (ttl === undefined) return s.defaultTtlMs;
  const ms = parseDuration(ttl, "lease TTL");
  if (ms <= 0) {
    throw new LiminalError(
      "INVALID_DURATION",
      `a lease TTL must be longer than 0, got ${JSON.stringify(ttl)}`,
    );
  }
  if (ms > s.maxTtlMs) {
    throw new LiminalError(
      "INVALID_DURATION",
      `a lease TTL of ${formatDuration(ms)} is over the maximum of ${formatDuration(s.maxTtlMs)}`,
    );
  }
  return ms;
}

/** The live lease on exactly `resource`, if any. */
export function live(s: LeaseState, resource: string, now: number): LeaseRecord | undefined {
  const lease = s.held.get(resource);
  return lease !== undefined && lease.expiresAt > now ? lease : undefined;
}

/** Remembers a write of this runtime, for a reload that reads while it happens. */
export function noteLocal(s: LeaseState, token: string, dropped: boolean): void {
  if (typeof s.store.onChange !== "function") return; // nobody else writes: no reloads
  s.recent.set(token, { seq: ++s.localSeq, dropped });
}
