/**
 * Territory leases: exclusive, expiring claims on named resources (`db/orders`,
 * `files/uploads/*`), taken by operators and by jobs.
 *
 * Rules:
 * - A lease lasts its TTL (default 15 min, at most 1 h) unless renewed or released; expired
 *   leases are swept.
 * - Resources overlap when equal, or when one ends in `/*` and the other lies under it:
 *   holding `files/uploads/*` excludes `files/uploads/a.png` and the reverse.
 * - A job's lease lasts as long as its attempt: this runtime renews the leases it took for
 *   running jobs every third of the TTL, and the executor releases them when the attempt
 *   ends. After a crash nothing renews them: they end at their TTL.
 * - A requester at least one priority level above the holder takes the lease over
 *   (preemption; the holder is told: a job through its signal, anyone through the
 *   `lease:preempted` event) — unless the holder has 60 s or less left, in which case the
 *   requester waits. Only a job's lease, or an operator's lease acquired as `preemptible`,
 *   is ever taken over: an operator's lease otherwise holds until released or expired.
 * - Preempting a job's lease is a handover: the job is interrupted at once, but keeps the
 *   lease until its attempt has ended (the executor gives a job's leases back when the
 *   attempt settles, after a `command`'s process group is gone). The requester waits for it,
 *   first in line: nobody else takes the resource meanwhile, nor within {@link RESERVE_MS}
 *   after it is given back. A preemptible operator's lease has no processes: it is taken at
 *   once. With a shared store, a job of another runtime is told through its lease row (its
 *   token gets the prefix `h-`); that runtime interrupts it and deletes the row when the
 *   attempt ends.
 * - One holder holds a resource once: acquiring it again is refused (renew it instead), and
 *   only its holder may release or renew it (`LEASE_HELD_BY_OTHER`).
 * - Waiters queue in priority order, then in arrival order.
 * - Every lease is persisted; after a restart, leases are loaded back and expire on their
 *   own, so a runtime killed while holding one gives it back once its TTL has passed.
 *   Whether an operator's lease is preemptible travels in its token (prefix `p-`), so every
 *   store keeps it without a column of its own.
 *
 * This process decides (it owns the store); every change is written through the store's
 * compare-and-set verbs, so a lease taken elsewhere meanwhile is refused rather than lost.
 *
 * @module
 */
import { type Duration, formatDuration, parseDuration } from "../shared/duration.ts";
import { Emitter, type EventSource } from "../shared/emitter.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { type Priority, priorityLevel } from "../shared/priority.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { isSharedStore, type JobStore, type LeaseRecord } from "../store/types.ts";
import { getLogger } from "@logtape/logtape";
import { overlaps } from "../shared/resource.ts";

const log = getLogger(["liminal", "leases"]);

/** With a shared store, leases are read again at least this often. */
const SYNC_EVERY_MS = 5_000;
/** A job lease this old whose job is not running is left over, and freed. */
const STALE_JOB_LEASE_MS = 60_000;
/** Token prefix of an operator's lease that may be preempted. */
const PREEMPTIBLE_TOKEN = "p-";
/** Preemptions remembered for `leases` (the most recent). */
const RECENT_PREEMPTIONS = 20;
/** Token prefix of a job's lease that was preempted and is being handed over. */
const HANDOVER_TOKEN = "h-";
/** After a preempted job gives its lease back, the requester has this long to take it. */
export const RESERVE_MS = 5_000;
/** A handover whose job's stop deadline is unknown (another runtime's job) waits this long. */
const HANDOVER_DEFAULT_MS = 60_000;
/** Time for an attempt to settle after its kill deadline (the kill, the commit, the release). */
const HANDOVER_SLACK_MS = 5_000;

/** Whether `lease` is a job's lease that was preempted, being handed over to its requester. */
export function isHandingOver(lease: LeaseRecord): boolean {
  return lease.jobId !== null && lease.token.startsWith(HANDOVER_TOKEN);
}

/** Whether a lease may be taken over by a higher-priority requester: a job's, or one asked so. */
export function isPreemptible(lease: LeaseRecord): boolean {
  return lease.jobId !== null || lease.token.startsWith(PREEMPTIBLE_TOKEN);
}

/** A new token for a lease, keeping whether it is preemptible. */
function tokenFor(preemptible: boolean, now: number): string {
  return preemptible ? `${PREEMPTIBLE_TOKEN}${newId(now)}` : newId(now);
}

/** One lease taken from its holder, for `leases` and the event stream. */
export interface Preemption {
  /** The resource taken over. */
  resource: string;
  /** Who lost it. */
  holder: string;
  /** The job that lost it, if a job held it. */
  jobId: string | null;
  /** Who took it. */
  by: string;
  /** The job that took it, if a job did. */
  byJobId: string | null;
  /** The priority that took it. */
  byPriority: Priority;
  /** Epoch ms. */
  at: number;
}

/** Who took a lease when only its absence is known: another runtime sharing the store. */
function elsewhere(lease: LeaseRecord, now: number): LeaseRecord {
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

/** Options of a {@link TerritoryLeases}. */
export interface TerritoryLeasesOptions {
  store: JobStore;
  /** A lease's TTL when none is asked. @default "15m" */
  defaultTtl?: Duration;
  /** The longest TTL. @default "1h" */
  maxTtl?: Duration;
  /** A holder with this much time left or less is not preempted: the requester waits. @default "60s" */
  preemptGrace?: Duration;
  /** @default Date.now */
  clock?: () => number;
  /**
   * When the attempt of a preempted job will have been killed (epoch ms), if it runs here:
   * bounds how long an acquire without waiting waits for the handover. @default unknown
   */
  stopDeadline?: (jobId: string) => number | null;
}

/** One request for a lease. */
export interface LeaseRequest {
  /** Who holds it: an operator's name, a service, or `job:<id>`. */
  holder: string;
  /**
   * How long the lease lasts unless renewed.
   *
   * @default the `defaultTtl` of these leases
   */
  ttl?: Duration;
  /**
   * The requester's priority, for preemption and the waiting order.
   *
   * @default "coordinate"
   */
  priority?: Priority;
  /** The job taking it (jobs only). */
  jobId?: string | null;
  /**
   * An operator's lease that a higher-priority requester may take over (a job's lease always
   * may). @default false: held until released or expired
   */
  preemptible?: boolean;
}

/** Events of a {@link TerritoryLeases}. */
export interface LeaseEventMap {
  /** A lease was taken. */
  "lease:acquired": { lease: LeaseRecord };
  /** A lease was renewed. */
  "lease:renewed": { lease: LeaseRecord };
  /** A lease was given back. */
  "lease:released": { lease: LeaseRecord };
  /** A lease reached its TTL and was swept. */
  "lease:expired": { lease: LeaseRecord };
  /** `lease` was taken from its holder by `by`. */
  "lease:preempted": { lease: LeaseRecord; by: LeaseRecord };
  /** Leases read again from a shared store changed: `freed` of them are gone. */
  "lease:synced": { changed: number; freed: number };
}

interface Waiter {
  resource: string;
  request: LeaseRequest;
  ttlMs: number;
  level: number;
  since: number;
  seq: number;
  resolve: (lease: LeaseRecord) => void;
  reject: (error: unknown) => void;
}

export { overlaps };

/** A preempted job's lease on its way to the requester that preempted it. */
interface Handover {
  /** The job's lease when it was preempted (matched by resource and job: renewals change the token). */
  victim: LeaseRecord;
  /** Who takes it: a lease record not granted yet, for events and explanations. */
  by: LeaseRecord;
  /** When the job gave the lease back (epoch ms); `null` while it holds it. */
  freedAt: number | null;
}

/** What blocks a request: nothing, a lease that can be preempted, or one that cannot. */
type Verdict =
  | { kind: "free" }
  | { kind: "preempt"; victims: LeaseRecord[] }
  /** Preemptible, but a victim is a job's lease: the job stops first, then it is handed over. */
  | { kind: "handover"; victims: LeaseRecord[]; jobs: LeaseRecord[] }
  | { kind: "held"; by: LeaseRecord; why: string; hint: string };

/**
 * Grants, renews, releases and expires territory leases: the lease table of one runtime, with
 * its waiters, preemption and the renewal of jobs' leases. A runtime owns one (`runtime.leases`).
 *
 * @example
 * ```ts
 * import { Runtime } from "liminal";
 *
 * await using runtime = new Runtime();
 * await runtime.start();
 * // Keep jobs (and other operators) off the orders database for 10 minutes.
 * await runtime.leases.acquire("db/orders", { holder: "alice", ttl: "10m" });
 * // … the work that needs it alone …
 * await runtime.leases.release("db/orders", "alice");
 * ```
 */
export class TerritoryLeases implements EventSource<LeaseEventMap> {
  readonly #store: JobStore;
  readonly #clock: () => number;
  readonly #defaultTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #graceMs: number;
  readonly #events = new Emitter<LeaseEventMap>();
  readonly #held = new Map<string, LeaseRecord>();
  #waiters: Waiter[] = [];
  #seq = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #started = false;
  /** Tokens of grants being written: a reload keeps them until the write is known. */
  readonly #writing = new Set<string>();
  /** Tokens of the leases this runtime took for jobs and holds. */
  readonly #mine = new Set<string>();
  /** Tokens whose delete is on its way: a read that still sees them does not bring them back. */
  readonly #dropping = new Set<string>();
  /** Leases given up whose delete failed, by token: deleted again later. */
  readonly #orphans = new Map<string, LeaseRecord>();
  /** Whether other runtimes write the same store. */
  readonly #shared: boolean;
  /** Leases this runtime wrote or deleted lately (by token), with the order of the write. */
  readonly #recent = new Map<string, { seq: number; dropped: boolean }>();
  #localSeq = 0;
  #reloading: Promise<void> | null = null;
  #reloadAgain = false;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #offChange: (() => void) | null = null;
  /** Renews the leases of running jobs every third of the TTL. */
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #renewing: Promise<void> | null = null;
  /** The latest preemptions, newest last. */
  #preemptions: Preemption[] = [];
  /** Preempted jobs' leases on their way to their requesters. */
  #handovers: Handover[] = [];
  #reserveTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #freeListeners = new Set<() => void>();
  readonly #stopDeadline: (jobId: string) => number | null;

  /** Leases persisted in `options.store`; nothing is read or swept until `start()`. */
  constructor(options: TerritoryLeasesOptions) {
    this.#store = options.store;
    this.#shared = isSharedStore(options.store);
    this.#clock = options.clock ?? Date.now;
    this.#defaultTtlMs = parseDuration(options.defaultTtl ?? "15m", "default lease TTL");
    this.#maxTtlMs = parseDuration(options.maxTtl ?? "1h", "maximum lease TTL");
    this.#graceMs = parseDuration(options.preemptGrace ?? "60s", "preemption grace");
    this.#stopDeadline = options.stopDeadline ?? (() => null);
    if (this.#defaultTtlMs <= 0 || this.#defaultTtlMs > this.#maxTtlMs) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the default lease TTL must be longer than 0 and at most the maximum TTL of ${
          formatDuration(this.#maxTtlMs)
        }, got ${formatDuration(this.#defaultTtlMs)}`,
      );
    }
  }

  on<K extends keyof LeaseEventMap>(
    event: K,
    listener: (payload: LeaseEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof LeaseEventMap>(
    event: K,
    listener: (payload: LeaseEventMap[K]) => void,
  ): () => void {
    return this.#events.once(event, listener);
  }

  /** Calls `listener` whenever a lease is released, expires or is taken over. */
  onFree(listener: () => void): () => void {
    const offs = [
      this.#events.on("lease:released", listener),
      this.#events.on("lease:expired", listener),
      this.#events.on("lease:preempted", listener),
      this.#events.on("lease:synced", listener),
    ];
    // A handover's reservation that lapsed frees the resource for the others too.
    this.#freeListeners.add(listener);
    return () => {
      offs.forEach((off) => off());
      this.#freeListeners.delete(listener);
    };
  }

  /** Loads the persisted leases (expired ones are dropped) and starts expiring them. */
  async start(): Promise<void> {
    this.#started = true;
    const now = this.#clock();
    for (const lease of await this.#store.listLeases()) {
      // A job's lease in a store only this runtime uses belongs to a run that ended with the
      // last runtime (its job was queued again): the job takes it again when it runs. In a
      // shared store the job may run on another runtime: the store's recovery frees those.
      const stale = lease.expiresAt <= now || (!this.#shared && lease.jobId !== null);
      if (stale) await this.#store.deleteLease(lease.resource, lease.token);
      else this.#held.set(lease.resource, lease);
    }
    this.#armExpiry();
    if (isSharedStore(this.#store)) {
      // Shared with other runtimes: hear their lease changes, and read them again now and
      // then in case a notification was missed.
      this.#offChange = this.#store.onChange((change) => {
        if (change.kind === "leases") void this.reload().catch(() => {});
      });
      this.#armSync();
    }
  }

  #armSync(): void {
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      if (!this.#started) return;
      void this.reload().catch((error) =>
        log.warn("leases could not be read again: {error}", { error: errorMessage(error) })
      ).finally(() => {
        if (this.#started) this.#armSync();
      });
    }, SYNC_EVERY_MS);
  }

  /**
   * Reads the leases from the store again. With a store shared by several runtimes, leases
   * they took, renewed or gave back become known here: a job of this runtime whose lease
   * another runtime took over hears `lease:preempted`, and waiters are served when one frees.
   */
  reload(): Promise<void> {
    if (this.#reloading !== null) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#reloadAgain = false;
          await this.#reloadOnce();
        } while (this.#reloadAgain && this.#started);
      } finally {
        this.#reloading = null;
      }
    })();
    return this.#reloading;
  }

  async #reloadOnce(): Promise<void> {
    await this.#retryOrphans();
    // Writes of this runtime that end while the store is read may be missing from (or still
    // in) what is read: the local view wins for those.
    const startSeq = this.#localSeq;
    const stored = await this.#store.listLeases();
    const now = this.#clock();
    const next = new Map<string, LeaseRecord>();
    for (const lease of stored) {
      if (lease.expiresAt <= now) continue;
      if (this.#dropping.has(lease.token) || this.#recent.get(lease.token)?.dropped) continue;
      next.set(lease.resource, lease);
    }
    for (const lease of this.#held.values()) {
      const recent = this.#recent.get(lease.token);
      // A renewal of ours whose write the read already sees, but whose answer is still on its
      // way, is ours too: the held lease stands until the renewal is known.
      const renewing = this.#writing.has(next.get(lease.resource)?.token ?? "");
      const fresh = this.#writing.has(lease.token) || renewing ||
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
    for (const [token, recent] of this.#recent) {
      if (recent.seq <= startSeq) this.#recent.delete(token);
    }
    let changed = 0;
    let freed = 0;
    const lost: { lease: LeaseRecord; by: LeaseRecord }[] = [];
    for (const [resource, old] of this.#held) {
      const current = next.get(resource);
      if (current?.token === old.token) {
        if (current.expiresAt !== old.expiresAt) changed++;
        continue;
      }
      changed++;
      if (
        this.#mine.has(old.token) && current !== undefined && isHandingOver(current) &&
        current.jobId === old.jobId && current.holder === old.holder
      ) {
        // Another runtime preempted this job's lease: the job stops, and keeps the lease (still
        // renewed, still this runtime's to give back) until its attempt has ended.
        this.#mine.add(current.token);
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
      if (this.#mine.has(old.token)) {
        // A lease this runtime took for a job is gone, and not because it gave it back: it
        // was preempted through another runtime (or freed by a sweep): the job must stop.
        lost.push({ lease: old, by: by ?? elsewhere(old, now) });
      } else if (by === undefined) freed++;
    }
    for (const resource of next.keys()) if (!this.#held.has(resource)) changed++;
    if (this.#shared) await this.#dropStaleJobLeases(next, now);
    if (changed === 0) return;
    this.#held.clear();
    for (const [resource, lease] of next) this.#held.set(resource, lease);
    const live = new Set([...next.values()].map((l) => l.token));
    for (const token of this.#mine) if (!live.has(token)) this.#mine.delete(token);
    for (const event of lost) this.#preempted(event.lease, event.by);
    this.#noteFreed(now);
    this.#markHandovers(now);
    this.#events.emit("lease:synced", { changed, freed });
    this.#armExpiry();
    await this.#serveWaiters();
  }

  /**
   * With a shared store: deletes job leases older than a minute whose job is not running
   * anywhere (a runtime that died between taking a lease and claiming its job, or a write
   * whose answer was lost). Such a lease would hold its resource, and its own job, until
   * its TTL.
   */
  async #dropStaleJobLeases(leases: Map<string, LeaseRecord>, now: number): Promise<void> {
    for (const lease of [...leases.values()]) {
      if (lease.jobId === null || this.#mine.has(lease.token)) continue;
      if (this.#writing.has(lease.token) || now - lease.acquiredAt < STALE_JOB_LEASE_MS) continue;
      const job = await this.#store.get(lease.jobId).catch(() => undefined);
      if (job === undefined || job?.state === "running") continue;
      if (await this.#store.deleteLease(lease.resource, lease.token).catch(() => false)) {
        log.warn("lease {resource} of {holder} was left behind (its job is {state}): freed", {
          resource: lease.resource,
          holder: lease.holder,
          state: job?.state ?? "gone",
        });
        leases.delete(lease.resource);
      }
    }
  }

  /** Stops expiring leases and refuses every waiter. Held leases stay persisted. */
  stop(): void {
    this.#started = false;
    this.#offChange?.();
    this.#offChange = null;
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    if (this.#renewTimer !== undefined) clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    if (this.#reserveTimer !== undefined) clearTimeout(this.#reserveTimer);
    this.#reserveTimer = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter.reject(
        new LiminalError(
          "RUNTIME_SHUTTING_DOWN",
          `stopped waiting for ${waiter.resource}: the runtime is shutting down`,
        ),
      );
    }
  }

  /** Checks a TTL given by a user: positive and at most the maximum. */
  resolveTtl(ttl: Duration | undefined): number {
    if (ttl === undefined) return this.#defaultTtlMs;
    const ms = parseDuration(ttl, "lease TTL");
    if (ms <= 0) {
      throw new LiminalError(
        "INVALID_DURATION",
        `a lease TTL must be longer than 0, got ${JSON.stringify(ttl)}`,
      );
    }
    if (ms > this.#maxTtlMs) {
      throw new LiminalError(
        "INVALID_DURATION",
        `a lease TTL of ${formatDuration(ms)} is over the maximum of ${
          formatDuration(this.#maxTtlMs)
        }`,
      );
    }
    return ms;
  }

  /**
   * Takes a lease now, preempting a lower-priority holder when the rules allow, or fails with
   * `LEASE_HELD` naming the holder.
   */
  async acquire(resource: string, request: LeaseRequest): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(request.ttl);
    const now = this.#clock();
    this.#refuseHeldAgain(resource, request, now);
    const verdict = this.#verdict(resource, request, now);
    if (verdict.kind === "held") {
      throw new LiminalError(
        "LEASE_HELD",
        `${resource} is held by ${verdict.by.holder} (${verdict.why})`,
        { hint: verdict.hint },
      );
    }
    if (verdict.kind === "handover") {
      // A job's lease: the job is interrupted now and the lease is handed over once its
      // attempt has ended (its processes gone), bounded by its kill deadline.
      this.#beginHandover(verdict.jobs, request, ttlMs, now);
      const stops = verdict.jobs.map((job) => this.#stopDeadline(job.jobId!));
      const deadline = stops.every((stop) => stop !== null)
        ? Math.max(...(stops as number[]))
        : now + HANDOVER_DEFAULT_MS; // a job of another runtime: its deadline is not known here
      const boundMs = Math.max(0, deadline - now) + HANDOVER_SLACK_MS;
      const timeout = new AbortController();
      const timer = setTimeout(() => {
        const jobs = verdict.jobs.map((j) => `job ${j.jobId}`).join(", ");
        timeout.abort(
          new LiminalError(
            "LEASE_HELD",
            `${resource}: ${jobs} was interrupted (preempted by ${request.holder}) but its attempt ` +
              `has not ended after ${
                formatDuration(boundMs)
              }; the lease stays with it until it has`,
            { hint: `wait for it: liminal leases acquire ${resource} --wait` },
          ),
        );
      }, boundMs);
      try {
        return await this.#enqueueWaiter(resource, request, ttlMs, now, timeout.signal);
      } finally {
        clearTimeout(timer);
      }
    }
    return await this.#grant(
      resource,
      request,
      ttlMs,
      now,
      verdict.kind === "preempt" ? verdict.victims : [],
    );
  }

  /**
   * Takes a lease, waiting in line (priority order, then arrival) while it is held. The
   * signal aborts the wait.
   */
  async acquireOrWait(
    resource: string,
    request: LeaseRequest,
    signal?: AbortSignal,
  ): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(request.ttl);
    const now = this.#clock();
    this.#refuseHeldAgain(resource, request, now);
    const verdict = this.#verdict(resource, request, now);
    if (
      verdict.kind !== "held" && verdict.kind !== "handover" &&
      !this.#waiters.some((w) => overlaps(w.resource, resource) && w.level >= level(request))
    ) {
      return await this.#grant(
        resource,
        request,
        ttlMs,
        now,
        verdict.kind === "preempt" ? verdict.victims : [],
      );
    }
    signal?.throwIfAborted();
    // A job's lease it may preempt: the job is interrupted now, the lease handed over later.
    if (verdict.kind === "handover") this.#beginHandover(verdict.jobs, request, ttlMs, now);
    return await this.#enqueueWaiter(resource, request, ttlMs, now, signal);
  }

  /** Waits in line for `resource` (first when a handover to `request` is on its way). */
  #enqueueWaiter(
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
        seq: ++this.#seq,
        resolve,
        reject,
      };
      this.#waiters.push(waiter);
      this.#waiters.sort((a, b) => b.level - a.level || a.seq - b.seq);
      signal?.addEventListener("abort", () => {
        if (!this.#waiters.includes(waiter)) return; // served already
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        // Gave up: a handover to it no longer holds the resource for it.
        this.#endHandovers(request.holder, resource);
        this.#noteFreed(this.#clock());
        void this.#serveWaiters();
        reject(signal.reason);
      }, { once: true });
    });
  }

  /**
   * Sets a lease its holder holds to expire `ttl` from now (the default TTL when none is
   * given): longer or shorter, as asked; {@link get} before it tells which.
   */
  async renew(resource: string, holder: string, ttl?: Duration): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(ttl);
    const current = this.#live(resource, this.#clock());
    if (current === undefined || current.holder !== holder || current.jobId !== null) {
      throw notHeld(resource, holder, current);
    }
    // A new token: a runtime sharing the store that still has the old expiry in mind can
    // then never delete the renewed lease as expired.
    const renewed: LeaseRecord = {
      ...current,
      token: tokenFor(current.token.startsWith(PREEMPTIBLE_TOKEN), this.#clock()),
      expiresAt: this.#clock() + ttlMs,
    };
    if (!(await this.#store.swapLease(renewed, current.token, this.#clock()))) {
      throw notHeld(resource, holder, undefined);
    }
    this.#noteLocal(current.token, true);
    this.#noteLocal(renewed.token, false);
    if (this.#mine.delete(current.token)) this.#mine.add(renewed.token);
    this.#held.set(resource, renewed);
    this.#events.emit("lease:renewed", { lease: renewed });
    this.#armExpiry();
    return renewed;
  }

  /**
   * Releases a lease its holder holds: `LEASE_NOT_HELD` when nobody holds it,
   * `LEASE_HELD_BY_OTHER` (naming the holder) when someone else does.
   */
  async release(resource: string, holder: string): Promise<LeaseRecord> {
    const current = this.#live(resource, this.#clock());
    // A job's lease is the executor's to give back (releaseJob), never by its holder's name.
    if (current === undefined || current.holder !== holder || current.jobId !== null) {
      throw notHeld(resource, holder, current);
    }
    await this.#drop(current, "lease:released");
    return current;
  }

  /** Releases every lease a job holds (however it ended). */
  async releaseJob(jobId: string): Promise<void> {
    // A renewal on its way would otherwise write the lease again after it is given back (and
    // then delete it): let it land first, so the release is the last word.
    if (this.#renewing !== null) await this.#renewing.catch(() => {});
    // Only what this runtime took: with a shared store another runtime's lease for the same
    // job (a run there) may be known here too, and is not ours to give back.
    for (const lease of [...this.#held.values()]) {
      if (lease.jobId === jobId && this.#mine.has(lease.token)) {
        await this.#drop(lease, "lease:released");
      }
    }
  }

  /** Removes the leases whose time is up; resolves with them. */
  async sweep(): Promise<LeaseRecord[]> {
    await this.#retryOrphans();
    // With a shared store, expiries are read again first: another runtime may have renewed.
    if (this.#shared) await this.reload().catch(() => {});
    const now = this.#clock();
    const expired = [...this.#held.values()].filter((l) => l.expiresAt <= now);
    const dropped: LeaseRecord[] = [];
    for (const lease of expired) {
      // A running job's lease is not over while its attempt lives (a late renewal: the event
      // loop was held up): renewed now, unless another runtime took it meanwhile.
      if (this.#isJobLease(lease) && !this.#writing.has(lease.token)) {
        if (await this.#extend(lease)) continue;
        if (this.#held.get(lease.resource)?.token !== lease.token) continue;
      }
      await this.#drop(lease, "lease:expired");
      dropped.push(lease);
    }
    this.#armExpiry();
    return dropped;
  }

  /**
   * For the executor, synchronously: whether `request` could take every resource now
   * (`null`), or the resource that blocks it. A job that may preempt another job's lease
   * starts its handover here (that job is interrupted) and is blocked until the lease is
   * given back; it is then first in line for it.
   */
  blockedBy(resources: readonly string[], request: LeaseRequest): string | null {
    const now = this.#clock();
    for (const resource of resources) {
      const verdict = this.#verdict(resource, request, now);
      if (verdict.kind === "held") return resource;
      if (verdict.kind === "handover") {
        this.#beginHandover(verdict.jobs, request, this.resolveTtl(request.ttl), now);
        return resource;
      }
      if (this.#isReservedFor(resource, request.holder, now)) continue;
      if (this.#waiters.some((w) => overlaps(w.resource, resource) && w.level > level(request))) {
        return resource;
      }
    }
    return null;
  }

  /** Whether a handover of a resource overlapping `resource` waits for `holder`. */
  #isReservedFor(resource: string, holder: string, now: number): boolean {
    return this.#handovers.some((h) =>
      h.by.holder === holder && overlaps(h.victim.resource, resource) &&
      (h.freedAt === null || now - h.freedAt < RESERVE_MS)
    );
  }

  /**
   * For the executor: takes every resource for a job now (preempting where the rules allow),
   * as far as this runtime knows, and writes them. `false`, taking nothing, when one is held;
   * else a promise of whether every write succeeded. When one failed (a runtime sharing the
   * store took the resource meanwhile), what was taken is given back and the leases are
   * read again, so the job waits in line for the real holder.
   */
  takeForJob(
    resources: readonly string[],
    request: LeaseRequest,
  ): boolean | Promise<boolean> {
    if (this.blockedBy(resources, request) !== null) return false;
    const now = this.#clock();
    const ttlMs = this.resolveTtl(request.ttl);
    if (!this.#shared) {
      // Nobody else writes this store: what is decided here holds; the writes follow.
      for (const resource of resources) {
        const verdict = this.#verdict(resource, request, now);
        void this.#grant(
          resource,
          request,
          ttlMs,
          now,
          verdict.kind === "preempt" ? verdict.victims : [],
        ).catch((error) =>
          log.error("lease {resource} for {holder} was not written: {error}", {
            resource,
            holder: request.holder,
            error: errorMessage(error),
          })
        );
      }
      return true;
    }
    const grants = resources.map((resource) => {
      const verdict = this.#verdict(resource, request, now);
      return this.#grant(
        resource,
        request,
        ttlMs,
        now,
        verdict.kind === "preempt" ? verdict.victims : [],
      ).then(() => true, (error: unknown) => {
        if (!(error instanceof LiminalError && error.code === "LEASE_HELD")) {
          log.warn("lease {resource} for {holder} was not written: {error}", {
            resource,
            holder: request.holder,
            error: errorMessage(error),
          });
        }
        return false;
      });
    });
    return Promise.all(grants).then(async (written) => {
      if (written.every(Boolean)) return true;
      if (request.jobId) await this.releaseJob(request.jobId).catch(() => {});
      await this.reload().catch(() => {});
      return false;
    });
  }

  /** The leases held now, with their waiters. */
  snapshot(): LeaseSnapshot[] {
    const now = this.#clock();
    return [...this.#held.values()]
      .filter((l) => l.expiresAt > now)
      .sort((a, b) => a.resource.localeCompare(b.resource))
      .map((l) => ({
        resource: l.resource,
        holder: l.holder,
        priority: l.priority,
        acquiredAt: new Date(l.acquiredAt).toISOString(),
        expiresAt: new Date(l.expiresAt).toISOString(),
        leftMs: l.expiresAt - now,
        jobId: l.jobId,
        preemptible: isPreemptible(l),
        waiters: this.#waiters.filter((w) => overlaps(w.resource, l.resource)).map((w) => ({
          holder: w.request.holder,
          priority: w.request.priority ?? "coordinate",
          since: new Date(w.since).toISOString(),
          jobId: w.request.jobId ?? null,
        })),
      }));
  }

  /** The latest preemptions (at most 20), oldest first. */
  recentPreemptions(): Preemption[] {
    return [...this.#preemptions];
  }

  /** The live lease on exactly `resource`, if any. */
  get(resource: string): LeaseRecord | undefined {
    return this.#live(resource, this.#clock());
  }

  /** The live lease overlapping `resource`, if any. */
  holderOf(resource: string): LeaseRecord | undefined {
    const now = this.#clock();
    return [...this.#held.values()].find((l) =>
      l.expiresAt > now && overlaps(l.resource, resource)
    );
  }

  #live(resource: string, now: number): LeaseRecord | undefined {
    const lease = this.#held.get(resource);
    return lease !== undefined && lease.expiresAt > now ? lease : undefined;
  }

  #verdict(resource: string, request: LeaseRequest, now: number): Verdict {
    // A lease of the same job blocks too: another run of it (on another runtime sharing the
    // store) holds it, and taking it over would let both run.
    const blockers = [...this.#held.values()].filter((l) =>
      l.expiresAt > now && overlaps(l.resource, resource) &&
      (l.holder !== request.holder || (l.jobId !== null && l.jobId === (request.jobId ?? null)))
    );
    // A preempted job's lease on its way to its requester: nobody else takes it meanwhile.
    const reserved = this.#reservation(resource, request.holder, now);
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
      if (isHandingOver(holder) && !this.#handovers.some((h) => h.by.holder === request.holder)) {
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
      if (holder.expiresAt - now <= this.#graceMs) {
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
  #reservation(resource: string, holder: string, now: number): Handover | undefined {
    return this.#handovers.find((h) =>
      h.by.holder !== holder && overlaps(h.victim.resource, resource) &&
      (h.freedAt === null || now - h.freedAt < RESERVE_MS)
    );
  }

  /**
   * Starts handing the job leases `jobs` over to `request`: each job is told at once (the
   * runtime interrupts it), and keeps its lease until its attempt has ended. Asking again
   * for one already on its way changes nothing.
   */
  #beginHandover(jobs: LeaseRecord[], request: LeaseRequest, ttlMs: number, now: number): void {
    for (const victim of jobs) {
      const known = this.#handovers.some((h) =>
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
      this.#handovers.push({ victim, by, freedAt: null });
      log.info("lease {resource} of {holder} preempted by {by}: handed over once the job stops", {
        resource: victim.resource,
        holder: victim.holder,
        by: request.holder,
      });
      this.#preempted(victim, by);
    }
    this.#markHandovers(now);
  }

  /**
   * With a shared store: marks the preempted leases of jobs that run on other runtimes (a new
   * token with the prefix `h-`), so that runtime interrupts its job. The row stays: that
   * runtime deletes it once the attempt has ended.
   */
  #markHandovers(now: number): void {
    if (!this.#shared) return;
    for (const handover of this.#handovers) {
      if (handover.freedAt !== null) continue;
      const current = this.#held.get(handover.victim.resource);
      if (current === undefined || current.jobId !== handover.victim.jobId) continue;
      if (isHandingOver(current) || this.#mine.has(current.token)) continue;
      if (this.#writing.has(current.token)) continue;
      const marked: LeaseRecord = { ...current, token: `${HANDOVER_TOKEN}${newId(now)}` };
      this.#writing.add(marked.token);
      void this.#store.swapLease(marked, current.token, now).then((written) => {
        if (!written) return this.reload();
        if (this.#held.get(current.resource)?.token === current.token) {
          this.#held.set(current.resource, marked);
        }
        this.#noteLocal(current.token, true);
        this.#noteLocal(marked.token, false);
      }).catch((error) =>
        log.warn("lease {resource} could not be marked for its handover: {error}", {
          resource: current.resource,
          error: errorMessage(error),
        })
      ).finally(() => this.#writing.delete(marked.token));
    }
  }

  /** Handovers whose job gave its lease back (released, expired, gone from the store). */
  #noteFreed(now: number): void {
    let earliest = Number.POSITIVE_INFINITY;
    const before = this.#handovers.length;
    this.#handovers = this.#handovers.filter((h) => {
      if (h.freedAt === null) {
        const current = this.#held.get(h.victim.resource);
        if (current !== undefined && current.jobId === h.victim.jobId && current.expiresAt > now) {
          return true;
        }
        h.freedAt = now;
      }
      if (now - h.freedAt >= RESERVE_MS) return false;
      earliest = Math.min(earliest, h.freedAt + RESERVE_MS);
      return true;
    });
    if (this.#reserveTimer !== undefined) clearTimeout(this.#reserveTimer);
    this.#reserveTimer = undefined;
    if (earliest !== Number.POSITIVE_INFINITY && this.#started) {
      // A reservation nobody took lapses: the others are served then.
      this.#reserveTimer = setTimeout(() => {
        this.#reserveTimer = undefined;
        this.#noteFreed(this.#clock());
        void this.#serveWaiters();
        for (const listener of this.#freeListeners) listener();
      }, Math.max(0, earliest - now));
    }
    if (this.#handovers.length < before) {
      for (const listener of this.#freeListeners) listener();
    }
  }

  /** Drops the handovers to `holder` (taken, or given up). */
  #endHandovers(holder: string, resource: string): void {
    this.#handovers = this.#handovers.filter((h) =>
      !(h.by.holder === holder && overlaps(h.victim.resource, resource))
    );
  }

  async #grant(
    resource: string,
    request: LeaseRequest,
    ttlMs: number,
    now: number,
    victims: LeaseRecord[],
  ): Promise<LeaseRecord> {
    const previous = this.#held.get(resource);
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
    this.#endHandovers(request.holder, resource);
    for (const victim of victims) this.#held.delete(victim.resource);
    this.#held.set(resource, lease);
    for (const victim of victims) this.#preempted(victim, lease);
    this.#events.emit("lease:acquired", { lease });
    this.#armExpiry();
    const expected = victims.find((v) => v.resource === resource)?.token ??
      (previous !== undefined && previous.holder === request.holder ? previous.token : null);
    // Leases preempted on other resources are removed in the same transaction.
    const others = victims.filter((v) => v.resource !== resource).map((v) => ({
      resource: v.resource,
      token: v.token,
    }));
    for (const victim of victims) this.#mine.delete(victim.token);
    this.#writing.add(lease.token);
    this.#mine.add(lease.token);
    let written: boolean;
    try {
      written = await this.#store.swapLease(lease, expected, now, others);
    } catch (error) {
      if (this.#held.get(resource)?.token === lease.token) this.#held.delete(resource);
      this.#mine.delete(lease.token);
      throw error;
    } finally {
      this.#writing.delete(lease.token);
    }
    if (!written) {
      if (this.#held.get(resource)?.token === lease.token) this.#held.delete(resource);
      this.#mine.delete(lease.token);
      throw new LiminalError("LEASE_HELD", `${resource} was taken by another runtime meanwhile`);
    }
    this.#noteLocal(lease.token, false);
    if (this.#isJobLease(lease)) this.#armRenewal();
    log.debug("lease {resource} taken by {holder} ({token})", {
      resource,
      holder: lease.holder,
      token: lease.token,
    });
    return lease;
  }

  /** Refuses a holder that asks again for a resource it holds: renewing is explicit. */
  #refuseHeldAgain(resource: string, request: LeaseRequest, now: number): void {
    const current = this.#live(resource, now);
    if (current === undefined || current.holder !== request.holder) return;
    throw new LiminalError(
      "LEASE_HELD",
      `${resource} is already held by ${request.holder} (${
        formatDuration(current.expiresAt - now)
      } left): acquiring it again would change its TTL without saying so`,
      { hint: `to change its TTL: liminal leases renew ${resource} --holder ${request.holder}` },
    );
  }

  /** Records and announces a lease taken from its holder. */
  #preempted(lease: LeaseRecord, by: LeaseRecord): void {
    this.#preemptions.push({
      resource: lease.resource,
      holder: lease.holder,
      jobId: lease.jobId,
      by: by.holder,
      byJobId: by.jobId,
      byPriority: by.priority,
      at: this.#clock(),
    });
    if (this.#preemptions.length > RECENT_PREEMPTIONS) this.#preemptions.shift();
    this.#events.emit("lease:preempted", { lease, by });
  }

  /** Whether this runtime took `lease` for a job (that runs here, until it gives it back). */
  #isJobLease(lease: LeaseRecord): boolean {
    return lease.jobId !== null && this.#mine.has(lease.token);
  }

  /** Keeps renewing the leases of running jobs while there are any. */
  #armRenewal(): void {
    if (!this.#started || this.#renewTimer !== undefined) return;
    if (![...this.#held.values()].some((l) => this.#isJobLease(l))) return;
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = undefined;
      if (!this.#started) return;
      this.#renewing ??= this.#renewJobLeases().finally(() => {
        this.#renewing = null;
        this.#armRenewal();
      });
    }, Math.max(10, Math.floor(this.#defaultTtlMs / 3)));
  }

  /** Extends every lease this runtime holds for a running job that was not renewed lately. */
  async #renewJobLeases(): Promise<void> {
    const period = this.#defaultTtlMs / 3;
    for (const lease of [...this.#held.values()]) {
      if (!this.#isJobLease(lease) || this.#writing.has(lease.token)) continue;
      if (this.#held.get(lease.resource)?.token !== lease.token) continue;
      // Renewed less than half a period ago (a sweep did it): not yet.
      if (lease.expiresAt - this.#clock() > this.#defaultTtlMs - period / 2) continue;
      await this.#extend(lease);
    }
  }

  /**
   * Extends a lease this runtime holds for a running job by the default TTL from now.
   * `false` when it is no longer this job's: released meanwhile, or taken by another runtime
   * sharing the store (then the job hears `lease:preempted`). A store that fails keeps the
   * lease as it is, to be renewed at the next turn.
   */
  async #extend(current: LeaseRecord): Promise<boolean> {
    const now = this.#clock();
    const renewed: LeaseRecord = {
      ...current,
      // A lease being handed over stays marked so.
      token: isHandingOver(current) ? `${HANDOVER_TOKEN}${newId(now)}` : tokenFor(false, now),
      expiresAt: now + this.#defaultTtlMs,
    };
    this.#writing.add(renewed.token);
    let written: boolean;
    try {
      written = await this.#store.swapLease(renewed, current.token, now);
    } catch (error) {
      log.warn("lease {resource} of {holder} could not be renewed, trying again: {error}", {
        resource: current.resource,
        holder: current.holder,
        error: errorMessage(error),
      });
      return this.#held.get(current.resource)?.token === current.token;
    } finally {
      this.#writing.delete(renewed.token);
    }
    if (this.#held.get(current.resource)?.token !== current.token) {
      // Released (or taken over here) while the renewal was written: the renewal must not
      // outlive it.
      if (written) await this.#delete(renewed);
      return false;
    }
    if (!written && this.#shared) {
      // Marked for a handover by another runtime meanwhile? Then it is still this job's.
      await this.reload().catch(() => {});
      const after = this.#held.get(current.resource);
      if (after !== undefined && after.token !== current.token && this.#isJobLease(after)) {
        return true;
      }
      if (after?.token !== current.token) return false;
    }
    if (!written) {
      this.#held.delete(current.resource);
      this.#mine.delete(current.token);
      const by = [...this.#held.values()].find((l) => overlaps(l.resource, current.resource));
      this.#preempted(current, by ?? elsewhere(current, now));
      this.#armExpiry();
      await this.reload().catch(() => {});
      return false;
    }
    this.#noteLocal(current.token, true);
    this.#noteLocal(renewed.token, false);
    this.#mine.delete(current.token);
    this.#mine.add(renewed.token);
    this.#held.set(current.resource, renewed);
    this.#events.emit("lease:renewed", { lease: renewed });
    this.#armExpiry();
    return true;
  }

  async #drop(lease: LeaseRecord, event: "lease:released" | "lease:expired"): Promise<void> {
    if (this.#held.get(lease.resource)?.token !== lease.token) return;
    this.#held.delete(lease.resource);
    const handedOver = this.#mine.delete(lease.token) && isHandingOver(lease) &&
      !this.#handovers.some((h) => h.victim.resource === lease.resource);
    if (handedOver) {
      // Preempted from another runtime: that runtime's requester is first in line, so this
      // runtime's own waiters (the preempted job, queued again) leave it alone for a while.
      const now = this.#clock();
      this.#handovers.push({
        victim: lease,
        by: { ...elsewhere(lease, now), holder: "a holder on another runtime" },
        freedAt: now,
      });
    }
    this.#noteFreed(this.#clock());
    this.#events.emit(event, { lease });
    await this.#delete(lease);
    await this.#serveWaiters();
  }

  /**
   * Deletes a lease this runtime gave up. A delete that fails is tried again (at the next
   * read or sweep): a row left behind would block the resource until its TTL.
   */
  async #delete(lease: LeaseRecord): Promise<void> {
    this.#dropping.add(lease.token);
    this.#noteLocal(lease.token, true);
    try {
      const deleted = await this.#store.deleteLease(lease.resource, lease.token);
      this.#orphans.delete(lease.token);
      log.debug("lease {resource} of {holder} ({token}) given back{missing}", {
        resource: lease.resource,
        holder: lease.holder,
        token: lease.token,
        missing: deleted ? "" : " (it was no longer in the store)",
      });
    } catch (error) {
      this.#orphans.set(lease.token, lease);
      log.warn("lease {resource} could not be given back, trying again: {error}", {
        resource: lease.resource,
        error: errorMessage(error),
      });
    } finally {
      this.#noteLocal(lease.token, true);
      this.#dropping.delete(lease.token);
    }
  }

  /** Tries the deletes that failed again. */
  async #retryOrphans(): Promise<void> {
    for (const lease of [...this.#orphans.values()]) await this.#delete(lease);
  }

  /** Remembers a write of this runtime, for a reload that reads while it happens. */
  #noteLocal(token: string, dropped: boolean): void {
    if (typeof this.#store.onChange !== "function") return; // nobody else writes: no reloads
    this.#recent.set(token, { seq: ++this.#localSeq, dropped });
  }

  async #serveWaiters(): Promise<void> {
    for (const waiter of [...this.#waiters]) {
      const now = this.#clock();
      const verdict = this.#verdict(waiter.resource, waiter.request, now);
      if (verdict.kind === "held" || verdict.kind === "handover") continue;
      // Higher-priority waiters for an overlapping resource go first (unless the resource
      // is being handed over to this one: it preempted it).
      const ahead = !this.#isReservedFor(waiter.resource, waiter.request.holder, now) &&
        this.#waiters.some((w) =>
          w !== waiter && overlaps(w.resource, waiter.resource) && w.seq < waiter.seq &&
          w.level >= waiter.level
        );
      if (ahead) continue;
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      try {
        waiter.resolve(
          await this.#grant(
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

  #armExpiry(): void {
    if (!this.#started) return;
    let next = Number.POSITIVE_INFINITY;
    for (const lease of this.#held.values()) next = Math.min(next, lease.expiresAt);
    if (next === this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      void this.sweep();
    }, Math.min(Math.max(0, next - this.#clock()), 2 ** 31 - 1));
  }
}

function level(request: LeaseRequest): number {
  return priorityLevel(request.priority ?? "coordinate");
}

function notHeld(resource: string, holder: string, current: LeaseRecord | undefined): LiminalError {
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
