/**
 * Territory leases: exclusive, expiring claims on named resources (`db/orders`,
 * `files/uploads/*`), taken by operators and by jobs.
 *
 * Rules:
 * - A lease lasts its TTL (default 15 min, at most 1 h) unless renewed or released; expired
 *   leases are swept.
 * - Resources overlap when equal, or when one ends in `/*` and the other lies under it:
 *   holding `files/uploads/*` excludes `files/uploads/a.png` and the reverse.
 * - A requester at least one priority level above the holder takes the lease over
 *   (preemption; the holder is told: a job through its signal, anyone through the
 *   `lease:preempted` event) — unless the holder has 60 s or less left, in which case the
 *   requester waits.
 * - Waiters queue in priority order, then in arrival order.
 * - Every lease is persisted; after a restart, leases are loaded back and expire on their
 *   own, so a runtime killed while holding one gives it back once its TTL has passed.
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
import type { JobStore, LeaseRecord } from "../store/types.ts";

/** Options of a {@link LeaseManager}. */
export interface LeaseManagerOptions {
  store: JobStore;
  /** A lease's TTL when none is asked. @default "15m" */
  defaultTtl?: Duration;
  /** The longest TTL. @default "1h" */
  maxTtl?: Duration;
  /** A holder with this much time left or less is not preempted: the requester waits. @default "60s" */
  preemptGrace?: Duration;
  /** @default Date.now */
  clock?: () => number;
}

/** One request for a lease. */
export interface LeaseRequest {
  /** Who holds it: an operator's name, a service, or `job:<id>`. */
  holder: string;
  /** @default the manager's default TTL */
  ttl?: Duration;
  /** @default "coordinate" */
  priority?: Priority;
  /** The job taking it (jobs only). */
  jobId?: string | null;
}

/** Events of a {@link LeaseManager}. */
export interface LeaseEventMap {
  "lease:acquired": { lease: LeaseRecord };
  "lease:renewed": { lease: LeaseRecord };
  "lease:released": { lease: LeaseRecord };
  "lease:expired": { lease: LeaseRecord };
  /** `lease` was taken from its holder by `by`. */
  "lease:preempted": { lease: LeaseRecord; by: LeaseRecord };
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

/** Whether two resource names overlap (see the module doc). */
export function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.endsWith("/*") && b.startsWith(a.slice(0, -1))) return true;
  if (b.endsWith("/*") && a.startsWith(b.slice(0, -1))) return true;
  return false;
}

/** What blocks a request: nothing, a lease that can be preempted, or one that cannot. */
type Verdict =
  | { kind: "free" }
  | { kind: "preempt"; victims: LeaseRecord[] }
  | { kind: "held"; by: LeaseRecord; why: string };

/** Grants, renews, releases and expires territory leases. */
export class LeaseManager implements EventSource<LeaseEventMap> {
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

  constructor(options: LeaseManagerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? Date.now;
    this.#defaultTtlMs = parseDuration(options.defaultTtl ?? "15m", "default lease TTL");
    this.#maxTtlMs = parseDuration(options.maxTtl ?? "1h", "maximum lease TTL");
    this.#graceMs = parseDuration(options.preemptGrace ?? "60s", "preemption grace");
    if (this.#defaultTtlMs <= 0 || this.#defaultTtlMs > this.#maxTtlMs) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        "the default lease TTL must be positive and at most the maximum TTL",
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
    ];
    return () => offs.forEach((off) => off());
  }

  /** Loads the persisted leases (expired ones are dropped) and starts expiring them. */
  async start(): Promise<void> {
    this.#started = true;
    const now = this.#clock();
    for (const lease of await this.#store.listLeases()) {
      if (lease.expiresAt <= now) await this.#store.deleteLease(lease.resource, lease.token);
      else this.#held.set(lease.resource, lease);
    }
    this.#armExpiry();
  }

  /** Stops expiring leases and refuses every waiter. Held leases stay persisted. */
  stop(): void {
    this.#started = false;
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
    const verdict = this.#verdict(resource, request, now);
    if (verdict.kind === "held") {
      throw new LiminalError(
        "LEASE_HELD",
        `${resource} is held by ${verdict.by.holder} (${verdict.why})`,
        {
          hint: "wait for it (--wait), or ask with a higher priority",
        },
      );
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
    const verdict = this.#verdict(resource, request, now);
    if (
      verdict.kind !== "held" &&
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
    return await new Promise<LeaseRecord>((resolve, reject) => {
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
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal.reason);
      }, { once: true });
    });
  }

  /** Extends a lease its holder holds. */
  async renew(resource: string, holder: string, ttl?: Duration): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(ttl);
    const current = this.#live(resource, this.#clock());
    if (current === undefined || current.holder !== holder) {
      throw notHeld(resource, holder, current);
    }
    const renewed: LeaseRecord = { ...current, expiresAt: this.#clock() + ttlMs };
    if (!(await this.#store.swapLease(renewed, current.token, this.#clock()))) {
      throw notHeld(resource, holder, undefined);
    }
    this.#held.set(resource, renewed);
    this.#events.emit("lease:renewed", { lease: renewed });
    this.#armExpiry();
    return renewed;
  }

  /** Releases a lease its holder holds (`LEASE_NOT_HELD` otherwise). */
  async release(resource: string, holder: string): Promise<LeaseRecord> {
    const current = this.#live(resource, this.#clock());
    if (current === undefined || current.holder !== holder) {
      throw notHeld(resource, holder, current);
    }
    await this.#drop(current, "lease:released");
    return current;
  }

  /** Releases every lease a job holds (however it ended). */
  async releaseJob(jobId: string): Promise<void> {
    for (const lease of [...this.#held.values()]) {
      if (lease.jobId === jobId) await this.#drop(lease, "lease:released");
    }
  }

  /** Removes the leases whose time is up; resolves with them. */
  async sweep(): Promise<LeaseRecord[]> {
    const now = this.#clock();
    const expired = [...this.#held.values()].filter((l) => l.expiresAt <= now);
    for (const lease of expired) await this.#drop(lease, "lease:expired");
    this.#armExpiry();
    return expired;
  }

  /**
   * For the executor, synchronously: whether `request` could take every resource now
   * (`null`), or the resource that blocks it.
   */
  blockedBy(resources: readonly string[], request: LeaseRequest): string | null {
    const now = this.#clock();
    for (const resource of resources) {
      if (this.#verdict(resource, request, now).kind === "held") return resource;
      if (this.#waiters.some((w) => overlaps(w.resource, resource) && w.level > level(request))) {
        return resource;
      }
    }
    return null;
  }

  /**
   * For the executor, synchronously: takes every resource for a job (preempting where the
   * rules allow) and persists it in the background. Returns `false`, taking nothing, when one
   * is held.
   */
  takeForJob(resources: readonly string[], request: LeaseRequest): boolean {
    if (this.blockedBy(resources, request) !== null) return false;
    const now = this.#clock();
    const ttlMs = this.resolveTtl(request.ttl);
    for (const resource of resources) {
      const verdict = this.#verdict(resource, request, now);
      void this.#grant(
        resource,
        request,
        ttlMs,
        now,
        verdict.kind === "preempt" ? verdict.victims : [],
      ).catch((error) =>
        console.error(
          `lease ${resource} for ${request.holder} was not persisted: ${errorMessage(error)}`,
        )
      );
    }
    return true;
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
        waiters: this.#waiters.filter((w) => overlaps(w.resource, l.resource)).map((w) => ({
          holder: w.request.holder,
          priority: w.request.priority ?? "coordinate",
          since: new Date(w.since).toISOString(),
          jobId: w.request.jobId ?? null,
        })),
      }));
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
    const blockers = [...this.#held.values()].filter((l) =>
      l.expiresAt > now && overlaps(l.resource, resource) && l.holder !== request.holder
    );
    if (blockers.length === 0) return { kind: "free" };
    for (const holder of blockers) {
      if (level(request) < priorityLevel(holder.priority) + 1) {
        return {
          kind: "held",
          by: holder,
          why: `priority ${holder.priority}, ${formatDuration(holder.expiresAt - now)} left`,
        };
      }
      if (holder.expiresAt - now <= this.#graceMs) {
        return {
          kind: "held",
          by: holder,
          why: `only ${formatDuration(holder.expiresAt - now)} left: wait rather than preempt`,
        };
      }
    }
    return { kind: "preempt", victims: blockers };
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
      token: newId(now),
      priority: request.priority ?? "coordinate",
      jobId: request.jobId ?? null,
      acquiredAt: now,
      expiresAt: now + ttlMs,
    };
    // Decide in memory first (the executor relies on it synchronously), then persist.
    for (const victim of victims) this.#held.delete(victim.resource);
    this.#held.set(resource, lease);
    for (const victim of victims) {
      this.#events.emit("lease:preempted", { lease: victim, by: lease });
    }
    this.#events.emit("lease:acquired", { lease });
    this.#armExpiry();
    for (const victim of victims) {
      if (victim.resource !== resource) {
        await this.#store.deleteLease(victim.resource, victim.token);
      }
    }
    const expected = victims.find((v) => v.resource === resource)?.token ??
      (previous !== undefined && previous.holder === request.holder ? previous.token : null);
    if (!(await this.#store.swapLease(lease, expected, now))) {
      this.#held.delete(resource);
      throw new LiminalError("LEASE_HELD", `${resource} was taken by another runtime meanwhile`);
    }
    return lease;
  }

  async #drop(lease: LeaseRecord, event: "lease:released" | "lease:expired"): Promise<void> {
    if (this.#held.get(lease.resource)?.token !== lease.token) return;
    this.#held.delete(lease.resource);
    this.#events.emit(event, { lease });
    await this.#store.deleteLease(lease.resource, lease.token);
    await this.#serveWaiters();
  }

  async #serveWaiters(): Promise<void> {
    for (const waiter of [...this.#waiters]) {
      const now = this.#clock();
      const verdict = this.#verdict(waiter.resource, waiter.request, now);
      if (verdict.kind === "held") continue;
      // Higher-priority waiters for an overlapping resource go first.
      const ahead = this.#waiters.some((w) =>
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
  return new LiminalError(
    "LEASE_NOT_HELD",
    current === undefined
      ? `${holder} does not hold ${resource}: nobody holds it`
      : `${holder} does not hold ${resource}: ${current.holder} does`,
  );
}
