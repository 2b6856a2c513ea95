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
 * The class is the leases' public face; its rooms share one internal state object
 * (`_state.ts`): the verdict on who may take what (`_verdict.ts`), grants and give-backs
 * (`_grant.ts`), the waiter line and handovers (`_waiters.ts`), renewal and expiry
 * (`_renewal.ts`) and a shared store's changes (`_shared.ts`). See `docs/architecture.md`.
 *
 * @module
 */
import type { Duration } from "../shared/duration.ts";
import type { EventSource } from "../shared/emitter.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { Priority } from "../shared/priority.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { isSharedStore, type JobStore, type LeaseRecord } from "../store/types.ts";
import { overlaps } from "../shared/resource.ts";
import { drop, grant } from "./_grant.ts";
import { armExpiry, sweep } from "./_renewal.ts";
import { armSync, reload } from "./_shared.ts";
import {
  isPreemptible,
  LeaseState,
  level,
  live,
  log,
  noteLocal,
  PREEMPTIBLE_TOKEN,
  resolveTtl,
  tokenFor,
} from "./_state.ts";
import { isReservedFor, notHeld, refuseHeldAgain, verdictFor } from "./_verdict.ts";
import { awaitHandover, beginHandover, enqueueWaiter } from "./_waiters.ts";

export { isHandingOver, isPreemptible, RESERVE_MS } from "./_state.ts";

import type { Preemption } from "../shared/schedule.ts";
export type { Preemption };

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

export { overlaps };

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
  /** Everything these leases know, shared with their rooms (`_state.ts`). */
  readonly #s: LeaseState;

  /** Leases persisted in `options.store`; nothing is read or swept until `start()`. */
  constructor(options: TerritoryLeasesOptions) {
    this.#s = new LeaseState(options);
  }

  on<K extends keyof LeaseEventMap>(
    event: K,
    listener: (payload: LeaseEventMap[K]) => void,
  ): () => void {
    return this.#s.events.on(event, listener);
  }

  once<K extends keyof LeaseEventMap>(
    event: K,
    listener: (payload: LeaseEventMap[K]) => void,
  ): () => void {
    return this.#s.events.once(event, listener);
  }

  /** Calls `listener` whenever a lease is released, expires or is taken over. */
  onFree(listener: () => void): () => void {
    const offs = [
      this.#s.events.on("lease:released", listener),
      this.#s.events.on("lease:expired", listener),
      this.#s.events.on("lease:preempted", listener),
      this.#s.events.on("lease:synced", listener),
    ];
    // A handover's reservation that lapsed frees the resource for the others too.
    this.#s.freeListeners.add(listener);
    return () => {
      offs.forEach((off) => off());
      this.#s.freeListeners.delete(listener);
    };
  }

  /** Loads the persisted leases (expired ones are dropped) and starts expiring them. */
  async start(): Promise<void> {
    this.#s.started = true;
    const now = this.#s.clock();
    for (const lease of await this.#s.store.listLeases()) {
      // A job's lease in a store only this runtime uses belongs to a run that ended with the
      // last runtime (its job was queued again): the job takes it again when it runs. In a
      // shared store the job may run on another runtime: the store's recovery frees those.
      const stale = lease.expiresAt <= now || (!this.#s.shared && lease.jobId !== null);
      if (stale) await this.#s.store.deleteLease(lease.resource, lease.token);
      else this.#s.held.set(lease.resource, lease);
    }
    armExpiry(this.#s);
    if (isSharedStore(this.#s.store)) {
      // Shared with other runtimes: hear their lease changes, and read them again now and
      // then in case a notification was missed.
      this.#s.offChange = this.#s.store.onChange((change) => {
        if (change.kind === "leases") void reload(this.#s).catch(() => {});
      });
      armSync(this.#s);
    }
  }

  /**
   * Reads the leases from the store again. With a store shared by several runtimes, leases
   * they took, renewed or gave back become known here: a job of this runtime whose lease
   * another runtime took over hears `lease:preempted`, and waiters are served when one frees.
   */
  reload(): Promise<void> {
    return reload(this.#s);
  }

  /** Stops expiring leases and refuses every waiter. Held leases stay persisted. */
  stop(): void {
    this.#s.started = false;
    this.#s.offChange?.();
    this.#s.offChange = null;
    if (this.#s.syncTimer !== undefined) clearTimeout(this.#s.syncTimer);
    this.#s.syncTimer = undefined;
    if (this.#s.renewTimer !== undefined) clearTimeout(this.#s.renewTimer);
    this.#s.renewTimer = undefined;
    if (this.#s.reserveTimer !== undefined) clearTimeout(this.#s.reserveTimer);
    this.#s.reserveTimer = undefined;
    if (this.#s.timer !== undefined) clearTimeout(this.#s.timer);
    this.#s.timer = undefined;
    this.#s.timerAt = Number.POSITIVE_INFINITY;
    const waiters = this.#s.waiters;
    this.#s.waiters = [];
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
    return resolveTtl(this.#s, ttl);
  }

  /**
   * Takes a lease now, preempting a lower-priority holder when the rules allow, or fails with
   * `LEASE_HELD` naming the holder.
   */
  async acquire(resource: string, request: LeaseRequest): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(request.ttl);
    const now = this.#s.clock();
    refuseHeldAgain(this.#s, resource, request, now);
    const verdict = verdictFor(this.#s, resource, request, now);
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
      return await awaitHandover(this.#s, resource, request, ttlMs, now, verdict.jobs);
    }
    return await grant(
      this.#s,
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
    const now = this.#s.clock();
    refuseHeldAgain(this.#s, resource, request, now);
    const verdict = verdictFor(this.#s, resource, request, now);
    if (
      verdict.kind !== "held" && verdict.kind !== "handover" &&
      !this.#s.waiters.some((w) => overlaps(w.resource, resource) && w.level >= level(request))
    ) {
      return await grant(
        this.#s,
        resource,
        request,
        ttlMs,
        now,
        verdict.kind === "preempt" ? verdict.victims : [],
      );
    }
    signal?.throwIfAborted();
    // A job's lease it may preempt: the job is interrupted now, the lease handed over later.
    if (verdict.kind === "handover") beginHandover(this.#s, verdict.jobs, request, ttlMs, now);
    return await enqueueWaiter(this.#s, resource, request, ttlMs, now, signal);
  }

  /**
   * Sets a lease its holder holds to expire `ttl` from now (the default TTL when none is
   * given): longer or shorter, as asked; {@link get} before it tells which.
   */
  async renew(resource: string, holder: string, ttl?: Duration): Promise<LeaseRecord> {
    const ttlMs = this.resolveTtl(ttl);
    const current = live(this.#s, resource, this.#s.clock());
    if (current === undefined || current.holder !== holder || current.jobId !== null) {
      throw notHeld(resource, holder, current);
    }
    // A new token: a runtime sharing the store that still has the old expiry in mind can
    // then never delete the renewed lease as expired.
    const renewed: LeaseRecord = {
      ...current,
      token: tokenFor(current.token.startsWith(PREEMPTIBLE_TOKEN), this.#s.clock()),
      expiresAt: this.#s.clock() + ttlMs,
    };
    if (!(await this.#s.store.swapLease(renewed, current.token, this.#s.clock()))) {
      throw notHeld(resource, holder, undefined);
    }
    noteLocal(this.#s, current.token, true);
    noteLocal(this.#s, renewed.token, false);
    if (this.#s.mine.delete(current.token)) this.#s.mine.add(renewed.token);
    this.#s.held.set(resource, renewed);
    this.#s.events.emit("lease:renewed", { lease: renewed });
    armExpiry(this.#s);
    return renewed;
  }

  /**
   * Releases a lease its holder holds: `LEASE_NOT_HELD` when nobody holds it,
   * `LEASE_HELD_BY_OTHER` (naming the holder) when someone else does.
   */
  async release(resource: string, holder: string): Promise<LeaseRecord> {
    const current = live(this.#s, resource, this.#s.clock());
    // A job's lease is the executor's to give back (releaseJob), never by its holder's name.
    if (current === undefined || current.holder !== holder || current.jobId !== null) {
      throw notHeld(resource, holder, current);
    }
    await drop(this.#s, current, "lease:released");
    return current;
  }

  /** Releases every lease a job holds (however it ended). */
  async releaseJob(jobId: string): Promise<void> {
    // A renewal on its way would otherwise write the lease again after it is given back (and
    // then delete it): let it land first, so the release is the last word.
    if (this.#s.renewing !== null) await this.#s.renewing.catch(() => {});
    // Only what this runtime took: with a shared store another runtime's lease for the same
    // job (a run there) may be known here too, and is not ours to give back.
    for (const lease of [...this.#s.held.values()]) {
      if (lease.jobId === jobId && this.#s.mine.has(lease.token)) {
        await drop(this.#s, lease, "lease:released");
      }
    }
  }

  /** Removes the leases whose time is up; resolves with them. */
  sweep(): Promise<LeaseRecord[]> {
    return sweep(this.#s);
  }

  /**
   * For the executor, synchronously: whether `request` could take every resource now
   * (`null`), or the resource that blocks it. A job that may preempt another job's lease
   * starts its handover here (that job is interrupted) and is blocked until the lease is
   * given back; it is then first in line for it.
   */
  blockedBy(resources: readonly string[], request: LeaseRequest): string | null {
    const now = this.#s.clock();
    for (const resource of resources) {
      const verdict = verdictFor(this.#s, resource, request, now);
      if (verdict.kind === "held") return resource;
      if (verdict.kind === "handover") {
        beginHandover(this.#s, verdict.jobs, request, this.resolveTtl(request.ttl), now);
        return resource;
      }
      if (isReservedFor(this.#s, resource, request.holder, now)) continue;
      if (this.#s.waiters.some((w) => overlaps(w.resource, resource) && w.level > level(request))) {
        return resource;
      }
    }
    return null;
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
    const now = this.#s.clock();
    const ttlMs = this.resolveTtl(request.ttl);
    if (!this.#s.shared) {
      // Nobody else writes this store: what is decided here holds; the writes follow.
      for (const resource of resources) {
        const verdict = verdictFor(this.#s, resource, request, now);
        void grant(
          this.#s,
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
      const verdict = verdictFor(this.#s, resource, request, now);
      return grant(
        this.#s,
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
      await reload(this.#s).catch(() => {});
      return false;
    });
  }

  /** The leases held now, with their waiters. */
  snapshot(): LeaseSnapshot[] {
    const now = this.#s.clock();
    return [...this.#s.held.values()]
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
        waiters: this.#s.waiters.filter((w) => overlaps(w.resource, l.resource)).map((w) => ({
          holder: w.request.holder,
          priority: w.request.priority ?? "coordinate",
          since: new Date(w.since).toISOString(),
          jobId: w.request.jobId ?? null,
        })),
      }));
  }

  /** The latest preemptions (at most 20), oldest first. */
  recentPreemptions(): Preemption[] {
    return [...this.#s.preemptions];
  }

  /** The live lease on exactly `resource`, if any. */
  get(resource: string): LeaseRecord | undefined {
    return live(this.#s, resource, this.#s.clock());
  }

  /** The live lease overlapping `resource`, if any. */
  holderOf(resource: string): LeaseRecord | undefined {
    const now = this.#s.clock();
    return [...this.#s.held.values()].find((l) =>
      l.expiresAt > now && overlaps(l.resource, resource)
    );
  }
}
