/**
 * Dispatch: the ready queue → claims → runs. One pass per microtask takes as many entries as
 * there are idle workers (skipping kinds at their limit and jobs whose leases are held),
 * reserves a worker for each and claims them in one store call; the jobs it got start
 * ({@link start}), the others wait in line again. Every {@link SLICE_MS} of dispatching the
 * executor yields to the event loop. Claims that must wait on time (a store that failed, a
 * kind at its cluster-wide limit, a lease write that failed) come back through one wake timer.
 *
 * @module
 */
import { errorMessage } from "../shared/errors.ts";
import { priorityAt } from "../shared/priority.ts";
import type { ClaimedJob } from "../store/types.ts";
import { start } from "./_run.ts";
import { notifyIdle } from "./_settle.ts";
import type { ExecutorState, WorkerSlot } from "./_state.ts";
import { queue, refillLowWindows, RESYNC_MIN_MS } from "./_windows.ts";
import type { LeaseGateRequest } from "./options.ts";
import type { QueuedEntry } from "./ready_queue.ts";

/** The longest the executor keeps the event loop to itself before it yields. */
const SLICE_MS = 10;
/** A kind whose cluster-wide limit was reached is tried again after this, at the latest. */
const BUSY_RETRY_MS = 1_000;
/** After a lease write failed, jobs needing leases wait this long before trying again. */
const LEASE_RETRY_MS = 250;

/** A job taken from the ready queue for a worker, on its way to being claimed. */
export interface ClaimSlot {
  entry: QueuedEntry;
  worker: WorkerSlot;
  /**
   * Its leases: `true` taken, a promise that resolves once they are written (`false`:
   * another runtime took one), or `null` when it needs none.
   */
  leases: Promise<boolean> | boolean | null;
}

/** A queued job's request for its leases. */
function leaseRequest(entry: { id: string; level: number }): LeaseGateRequest {
  return { holder: `job:${entry.id}`, priority: priorityAt(entry.level), jobId: entry.id };
}

/**
 * Runs a dispatch pass soon: in a microtask, unless dispatching has held the event loop for
 * a whole slice. Jobs that finish without awaiting anything keep the executor in
 * microtasks; every {@link SLICE_MS} it yields to the event loop, so timers, signals and the
 * control socket are served even while a million no-op jobs drain.
 */
export function scheduleDispatch(s: ExecutorState): void {
  if (s.dispatchQueued || s.lifecycle === "closed") return;
  s.dispatchQueued = true;
  const now = performance.now();
  if (s.sliceStart === 0) {
    s.sliceStart = now;
    // Fires at the next turn of the event loop: the slice ends there.
    s.sliceTimer = setTimeout(s.endSliceTask, 0);
  } else if (now - s.sliceStart > SLICE_MS) {
    s.yieldTimer = setTimeout(s.dispatchAfterYieldTask, 0);
    return;
  }
  queueMicrotask(s.dispatchTask);
}

/** The event loop turned: the next dispatch starts a new slice. */
export function endSlice(s: ExecutorState): void {
  s.sliceTimer = undefined;
  s.sliceStart = 0;
}

/** A dispatch pass after yielding to the event loop at the end of a slice. */
export function dispatchAfterYield(s: ExecutorState): void {
  s.yieldTimer = undefined;
  dispatch(s);
}

function canRun(s: ExecutorState, kind: string): boolean {
  const handler = s.kinds.get(kind);
  if (handler === undefined) return false;
  if (s.busyKinds.size > 0) {
    const until = s.busyKinds.get(kind);
    if (until !== undefined) {
      if (until > s.options.clock()) return false;
      s.busyKinds.delete(kind);
    }
  }
  const limit = handler.defaults.concurrency;
  return limit === null || (s.runningByKind.get(kind) ?? 0) < limit;
}

/** What keeps an entry from starting now: its kind, or a lease it needs; `null`: nothing. */
export function blockKey(s: ExecutorState, entry: QueuedEntry): string | null {
  if (!canRun(s, entry.kind)) return `kind:${entry.kind}`;
  if (entry.leases.length > 0 && s.leases !== null) {
    if (s.leaseRetryAt > s.options.clock()) return `lease:${entry.leases[0]}`;
    const resource = s.leases.blockedBy(entry.leases, leaseRequest(entry));
    if (resource !== null) return `lease:${resource}`;
  }
  return null;
}

/** Whether a parked block key is open again for its head entry. */
export function isOpen(s: ExecutorState, key: string, head: QueuedEntry): boolean {
  if (key.startsWith("kind:")) return canRun(s, key.slice(5));
  if (key.startsWith("lease:")) {
    if (s.leaseRetryAt > s.options.clock()) return false;
    return s.leases === null ||
      s.leases.blockedBy([key.slice(6)], leaseRequest(head)) === null;
  }
  return true;
}

/**
 * One dispatch pass: takes an entry per idle worker (as far as kinds and leases allow) and claims
 * them in one batch.
 */
export function dispatch(s: ExecutorState): void {
  s.dispatchQueued = false;
  if (s.lifecycle !== "running" || s.paused) return;
  const idle = s.idle;
  if (idle.length === 0 || s.ready.size === 0) {
    refillLowWindows(s);
    notifyIdle(s);
    return;
  }
  const now = s.options.clock();
  if (now < s.claimBackoffUntil) return; // the store failed: the wake timer comes back
  const batch: ClaimSlot[] = [];
  while (idle.length > 0) {
    const entry = s.ready.take(now, s.blockKey, s.isOpen);
    if (entry === undefined) break;
    s.queuedIds?.delete(entry.id);
    let leases: Promise<boolean> | boolean | null = null;
    if (entry.leases.length > 0 && s.leases !== null) {
      const taken = s.leases.takeForJob(entry.leases, leaseRequest(entry));
      if (taken === false) {
        // Cannot happen after blockKey said free, unless a lease changed in between.
        queue(s, entry);
        break;
      }
      leases = taken;
    }
    const worker = idle.pop()!;
    worker.reserved = true;
    s.runningByKind.set(entry.kind, (s.runningByKind.get(entry.kind) ?? 0) + 1);
    s.claimingIds.add(entry.id);
    batch.push({ entry, worker, leases });
  }
  refillLowWindows(s);
  if (batch.length > 0) track(s, claim(s, batch, now));
  else notifyIdle(s);
}

/** A slot given back without starting its job: the worker, the kind's count, the leases. */
function unreserve(s: ExecutorState, { entry, worker, leases }: ClaimSlot): void {
  s.claimingIds.delete(entry.id);
  releaseKind(s, entry.kind);
  freeWorker(s, worker);
  if (leases !== null) {
    void s.leases?.releaseJob(entry.id).catch((error: unknown) =>
      s.events.emit("store:error", { operation: "release leases", error })
    );
  }
}

/**
 * Claims a batch taken for workers; jobs whose leases are still being written wait for them first.
 */
export async function claim(s: ExecutorState, batch: ClaimSlot[], at: number): Promise<void> {
  s.claiming += batch.length;
  if (batch.some((slot) => slot.leases instanceof Promise)) {
    // A job whose leases are still being written (a shared store: another runtime may
    // have taken one meanwhile) is claimed once they are; the others go on at once.
    const pending = batch.filter((slot) => slot.leases instanceof Promise);
    batch = batch.filter((slot) => !(slot.leases instanceof Promise));
    track(s, claimAfterLeases(s, pending, at));
    if (batch.length === 0) return;
  }
  await claimNow(s, batch, at);
}

/** Claims jobs taken for workers (counted in `claiming`) and starts those it got. */
async function claimNow(s: ExecutorState, batch: ClaimSlot[], at: number): Promise<void> {
  let records: (ClaimedJob | null | "busy" | "failed")[];
  const endsWritten = s.endsWritten + s.finishedHeard;
  try {
    records = await s.store.claim(
      batch.map(({ entry, worker }) => ({
        id: entry.id,
        worker: worker.id,
        at,
        kind: entry.kind,
        limit: s.kinds.get(entry.kind)?.defaults.concurrency ?? null,
      })),
    );
    s.claimRetryMs = 0;
    s.claimFailing = null;
  } catch (error) {
    s.claimFailing = errorMessage(error);
    s.events.emit("store:error", { operation: "claim", error });
    // The jobs are still queued in the store: they wait in memory again, and claims pause
    // for a while (doubling up to 5 s) so a store that is down is not hammered.
    records = batch.map(() => "failed");
    s.claimRetryMs = Math.min(5_000, Math.max(100, s.claimRetryMs * 2));
    s.claimBackoffUntil = s.options.clock() + s.claimRetryMs;
    wakeAt(s, s.claimBackoffUntil);
  }
  s.claiming -= batch.length;
  const mono = performance.now();
  for (let i = 0; i < batch.length; i++) {
    const slot = batch[i]!;
    const { entry, worker } = slot;
    const record = records[i] ?? null;
    if (record === null) {
      // Gone (cancelled, or claimed by another runtime), or its row was busy for a moment:
      // with a shared store the level is read again from the store to know which.
      unreserve(s, slot);
      if (s.shared) s.windows[entry.level]!.resync = true;
      continue;
    }
    if (record === "busy" || record === "failed") {
      unreserve(s, slot);
      queue(s, entry);
      if (record === "busy" && s.endsWritten + s.finishedHeard === endsWritten) {
        // Its kind runs its limit across the runtimes: wait for one to finish. (When an end
        // of this runtime was written meanwhile, the count may have been older: try now.)
        const until = s.options.clock() + BUSY_RETRY_MS;
        s.busyKinds.set(entry.kind, until);
        wakeAt(s, until);
      }
      continue;
    }
    s.claimingIds.delete(entry.id);
    s.waitTimes.record(mono - entry.readyMono);
    start(s, worker, record, at, mono, mono - entry.readyMono);
  }
  scheduleDispatch(s);
}

/** Claims jobs once their leases are written; those refused wait in line again. */
async function claimAfterLeases(
  s: ExecutorState,
  pending: ClaimSlot[],
  at: number,
): Promise<void> {
  const granted = await Promise.all(pending.map((slot) => slot.leases));
  const kept: ClaimSlot[] = [];
  for (let i = 0; i < pending.length; i++) {
    const slot = pending[i]!;
    if (granted[i]) {
      kept.push(slot);
      continue;
    }
    s.claiming--;
    unreserve(s, slot);
    queue(s, slot.entry);
    // The lease manager has read the leases again; should the write have failed for
    // another reason (the store), jobs needing leases wait a little before trying again.
    s.leaseRetryAt = s.options.clock() + LEASE_RETRY_MS;
    wakeAt(s, s.leaseRetryAt);
  }
  if (kept.length > 0) await claimNow(s, kept, at);
  else scheduleDispatch(s);
}

/** Keeps a claim under way in `claimTasks` until it has landed. */
function track(s: ExecutorState, task: Promise<void>): void {
  s.claimTasks.add(task);
  void task.finally(() => s.claimTasks.delete(task));
}

/** Dispatches again at `at` (epoch ms), for claims that wait on time. */
export function wakeAt(s: ExecutorState, at: number): void {
  if (s.lifecycle === "closed" || at >= s.wakeTimerAt) return;
  if (s.wakeTimer !== undefined) clearTimeout(s.wakeTimer);
  s.wakeTimerAt = at;
  s.wakeTimer = setTimeout(() => {
    s.wakeTimer = undefined;
    s.wakeTimerAt = Number.POSITIVE_INFINITY;
    scheduleDispatch(s);
    // Deadlines asked for later than this one were not armed: arm the next of them.
    const now = s.options.clock();
    let next = Number.POSITIVE_INFINITY;
    if (s.claimBackoffUntil > now) next = s.claimBackoffUntil;
    if (s.leaseRetryAt > now) next = Math.min(next, s.leaseRetryAt);
    for (const until of s.busyKinds.values()) if (until > now) next = Math.min(next, until);
    for (const window of s.windows) {
      if (window.resync) next = Math.min(next, window.resyncedAt + RESYNC_MIN_MS);
    }
    if (next !== Number.POSITIVE_INFINITY) wakeAt(s, Math.max(next, now + 1));
  }, Math.max(0, at - s.options.clock()));
}

/** One job of `kind` fewer running (or being claimed) here. */
export function releaseKind(s: ExecutorState, kind: string): void {
  const count = (s.runningByKind.get(kind) ?? 1) - 1;
  if (count <= 0) s.runningByKind.delete(kind);
  else s.runningByKind.set(kind, count);
}

/** Gives a worker back to the idle ones. */
export function freeWorker(s: ExecutorState, worker: WorkerSlot): void {
  worker.run = null;
  worker.reserved = false;
  worker.stuck = false;
  s.idle.push(worker);
}
