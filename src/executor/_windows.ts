/**
 * Store windows: the ready queue in memory is a window over the store, per priority level.
 * A level is loaded from the store ({@link refill}) when it runs low; a job committed here is
 * offered to its level's window ({@link offer}) and goes straight in line when the window
 * holds every queued job of that level. With a shared store the changes other runtimes make
 * arrive through {@link onStoreChange}, and every level is read again now and then. Scheduled
 * jobs are moved to the queue when due ({@link promoteDue}, one due timer).
 *
 * @module
 */
import { formatDuration } from "../shared/duration.ts";
import { FINAL_STATES } from "../shared/job.ts";
import { PRIORITIES } from "../shared/priority.ts";
import type { ReadyEntry, StoreChange } from "../store/types.ts";
import { scheduleDispatch, wakeAt } from "./_dispatch.ts";
import { abort, killAfter, preemptJob } from "./_run.ts";
import { announceDead, resolveWaiters } from "./_settle.ts";
import { type ExecutorState, MAX_TIMER_MS } from "./_state.ts";
import type { QueuedEntry } from "./ready_queue.ts";

/** Scheduled jobs promoted per store call. */
const PROMOTE_BATCH = 1_000;
/** With a shared store, a level is reloaded from the store at most this often. */
export const RESYNC_MIN_MS = 200;
/** With a shared store, every level is reloaded at least this often (missed notifications). */
const RESYNC_EVERY_MS = 5_000;

/** What is loaded of one priority level. */
export interface LevelWindow {
  /** Every queued job of this level with `seq > lastSeq` is known to be in the store only. */
  complete: boolean;
  lastSeq: number;
  refilling: boolean;
  /** A job was offered while a refill was reading: the window cannot be complete yet. */
  dirty: boolean;
  /**
   * With a shared store: reload this level from the start at the next refill, replacing what
   * is in memory (claims came back empty: others took jobs, or a row was busy).
   */
  resync: boolean;
  /** When the last resync read the store (epoch ms). */
  resyncedAt: number;
  /**
   * With a shared store: lastSeq moved past jobs of other runtimes that may not be loaded
   * (an offer of this runtime's own job); read again from here. `Infinity`: no gap.
   */
  gapFrom: number;
}

/** The window of every level, empty: nothing loaded yet. */
export function emptyWindows(): LevelWindow[] {
  return PRIORITIES.map(() => ({
    complete: false,
    lastSeq: 0,
    refilling: false,
    dirty: false,
    resync: false,
    resyncedAt: 0,
    gapFrom: Number.POSITIVE_INFINITY,
  }));
}

/** Offers a newly queued entry to the in-memory window of its level. */
export function offer(s: ExecutorState, entry: ReadyEntry, mono: number): void {
  const window = s.windows[entry.level]!;
  if (entry.seq <= window.lastSeq) return; // already loaded by a refill
  if (window.complete && laneLoad(s, entry.level) < s.options.window) {
    if (s.shared && window.gapFrom === Number.POSITIVE_INFINITY) {
      // Jobs of other runtimes between lastSeq and this seq are committed (seq values are
      // handed out in commit order) but maybe not yet announced: read them.
      window.gapFrom = window.lastSeq;
      queueMicrotask(() => void refill(s, entry.level));
    }
    window.lastSeq = entry.seq;
    const queued = entry as QueuedEntry;
    queued.readyMono = mono;
    queue(s, queued);
  } else {
    window.complete = false;
    if (window.refilling) window.dirty = true;
  }
}

/**
 * Puts a loaded entry in line; one of a kind this runtime has no handler for is set aside
 * (it cannot run here, and must not fill the window ahead of jobs that can).
 */
export function queue(s: ExecutorState, entry: QueuedEntry): void {
  const ids = s.queuedIds;
  if (ids !== null) {
    // With a shared store an entry may be read again while it waits, is claimed or runs.
    if (ids.has(entry.id) || s.claimingIds.has(entry.id) || s.running.has(entry.id)) {
      return;
    }
    ids.set(entry.id, entry.level);
  }
  if (s.kinds.has(entry.kind)) s.ready.push(entry);
  else s.foreign.set(entry.id, entry);
}

function laneLoad(s: ExecutorState, level: number): number {
  return s.ready.sizeAt(level);
}

/** Reads queued jobs of a level into memory; `resyncNow`: a resync asked for may run. */
export async function refill(s: ExecutorState, level: number, resyncNow = true): Promise<void> {
  const window = s.windows[level]!;
  const resync = resyncNow && window.resync;
  const gap = !resync && window.gapFrom !== Number.POSITIVE_INFINITY;
  if (window.refilling || (window.complete && !resync && !gap)) return;
  const infinite = s.options.window === Number.POSITIVE_INFINITY;
  const room = resync || gap
    ? (infinite ? 10_000 : s.options.window)
    : infinite
    ? 10_000
    : s.options.window - laneLoad(s, level);
  if (room <= 0) return;
  window.refilling = true;
  window.dirty = false;
  if (resync) window.resync = false;
  const from = resync ? 0 : gap ? window.gapFrom : window.lastSeq;
  window.gapFrom = Number.POSITIVE_INFINITY;
  // Offers made during the read must not count on what is in memory now.
  if (resync) window.complete = false;
  try {
    const entries = await s.store.loadReady(level, from, room);
    const now = s.options.clock();
    const mono = performance.now();
    if (resync) {
      // The store's view replaces ours: entries others claimed meanwhile go, entries whose
      // claim came back empty while their row was busy come back.
      s.ready.clearLevel(level);
      for (const [id, foreign] of s.foreign) {
        if (foreign.level === level) s.foreign.delete(id);
      }
      if (s.queuedIds !== null) {
        for (const [id, at] of s.queuedIds) if (at === level) s.queuedIds.delete(id);
      }
      window.lastSeq = 0;
      window.resyncedAt = now;
    }
    let full = false;
    for (const entry of entries) {
      const queued = entry as QueuedEntry;
      queued.readyMono = mono - Math.max(0, now - entry.readyAt);
      if (gap) {
        // Between lastSeq values already taken: most are in memory (deduplicated).
        if (!full && laneLoad(s, level) >= s.options.window) {
          // No room for the rest: read from here again later.
          full = true;
          window.lastSeq = Math.min(window.lastSeq, entry.seq - 1);
          window.complete = false;
        }
        if (!full) queue(s, queued);
        continue;
      }
      if (entry.seq <= window.lastSeq) continue;
      window.lastSeq = entry.seq;
      queue(s, queued);
    }
    // A job offered while the store was being read may not be in what was read.
    if (!gap) window.complete = entries.length < room && !window.dirty;
    else if (window.dirty) window.complete = false;
  } catch (error) {
    if (resync) window.resync = true;
    s.events.emit("store:error", { operation: "loadReady", error });
    return; // tried again at the next dispatch, not in a loop
  } finally {
    window.refilling = false;
    window.dirty = false;
  }
  if (!window.complete && infinite && s.lifecycle !== "closed") {
    return refill(s, level, false);
  }
  scheduleDispatch(s);
}

/**
 * Refills every level that runs low, and runs the resyncs asked for (at most every 200 ms a
 * level).
 */
export function refillLowWindows(s: ExecutorState): void {
  const low = s.options.window === Number.POSITIVE_INFINITY ? 0 : Math.floor(s.options.window / 2);
  const now = s.options.clock();
  for (let level = 0; level < s.windows.length; level++) {
    const window = s.windows[level]!;
    if (window.refilling) continue;
    if (window.resync && now - window.resyncedAt >= RESYNC_MIN_MS) {
      void refill(s, level, true);
      continue;
    }
    // A resync held back by the throttle does not hold back new jobs meanwhile.
    if (window.resync) wakeAt(s, window.resyncedAt + RESYNC_MIN_MS);
    if (!window.complete && laneLoad(s, level) <= low) void refill(s, level, false);
  }
}

/** A change another runtime made to a shared store. */
export function onStoreChange(s: ExecutorState, change: StoreChange): void {
  if (s.lifecycle === "closed" || s.lifecycle === "created") return;
  switch (change.kind) {
    case "ready":
      if (s.lifecycle !== "running" && s.lifecycle !== "starting") return;
      for (let level = 0; level < s.windows.length; level++) {
        if (change.levels !== undefined && !change.levels.includes(level)) continue;
        const window = s.windows[level]!;
        window.complete = false;
        if (window.refilling) window.dirty = true;
      }
      refillLowWindows(s);
      scheduleDispatch(s);
      return;
    case "scheduled":
      if (s.lifecycle === "running") armDue(s, change.runAt);
      return;
    case "cancel": {
      const run = s.running.get(change.id);
      if (run !== undefined && run.abortReason === null) {
        abort(s, run, "cancelled", s.options.clock(), killAfter(s, run));
      } else if (run === undefined && s.claimingIds.has(change.id)) {
        // The claim's answer is still on its way: abort it as soon as it starts.
        s.cancelOnStart.add(change.id);
      }
      return;
    }
    case "finished":
      s.finishedHeard++;
      if (s.busyKinds.delete(change.jobKind)) scheduleDispatch(s);
      return;
    case "ended":
      for (const id of change.ids) {
        if (!s.waiters.has(id)) continue;
        void s.store.get(id).then((record) => {
          if (record !== null && FINAL_STATES.has(record.state)) resolveWaiters(s, record);
        }, (error) => s.events.emit("store:error", { operation: "get", error }));
      }
      return;
    case "dead":
      // This runtime rescued a gone runtime's jobs and some were interrupted too often.
      announceDead(s, change.jobs);
      return;
    case "leases":
      return; // the runtime's lease manager reloads them
    case "fenced": {
      // Another runtime may soon take this one for dead and run its jobs: stop them all.
      const why = `this runtime's store heartbeat has failed for ${
        formatDuration(change.silentMs)
      }: its jobs are stopped before another runtime may run them`;
      for (const id of [...s.running.keys(), ...s.claimingIds]) preemptJob(s, id, why);
      return;
    }
    case "unfenced":
      s.claimBackoffUntil = 0;
      scheduleDispatch(s);
      return;
  }
}

/**
 * With a shared store: every level is read again now and then, and the jobs waited for
 * are looked up (for a notification missed while the connection was down).
 */
export function armResync(s: ExecutorState): void {
  s.resyncTimer = setTimeout(() => {
    s.resyncTimer = undefined;
    if (s.lifecycle !== "running") return;
    for (const window of s.windows) window.resync = true;
    refillLowWindows(s);
    for (const id of s.waiters.keys()) {
      if (s.running.has(id) || s.claimingIds.has(id)) continue;
      void s.store.get(id).then((record) => {
        if (record !== null && FINAL_STATES.has(record.state)) resolveWaiters(s, record);
      }, () => {});
    }
    armResync(s);
  }, RESYNC_EVERY_MS);
}

/** Arms the due timer for `at` when it is earlier than the one armed. */
export function armDue(s: ExecutorState, at: number): void {
  if (s.lifecycle !== "running" || at >= s.dueAt) return;
  clearDueTimer(s);
  s.dueAt = at;
  const delay = Math.min(Math.max(0, at - s.options.clock()), MAX_TIMER_MS);
  s.dueTimer = setTimeout(() => {
    s.dueTimer = undefined;
    s.dueAt = Number.POSITIVE_INFINITY;
    void promoteDue(s);
  }, delay);
}

/** Disarms the due timer. */
export function clearDueTimer(s: ExecutorState): void {
  if (s.dueTimer !== undefined) clearTimeout(s.dueTimer);
  s.dueTimer = undefined;
  s.dueAt = Number.POSITIVE_INFINITY;
}

/** Moves due scheduled jobs to the queue, then arms the timer for the next. */
export function promoteDue(s: ExecutorState): Promise<void> {
  if (s.promoting !== null) return s.promoting;
  s.promoting = (async () => {
    try {
      for (;;) {
        if (s.lifecycle !== "running") return;
        const now = s.options.clock();
        const entries = await s.store.promoteDue(now, PROMOTE_BATCH);
        const mono = performance.now();
        for (const entry of entries) offer(s, entry, mono - Math.max(0, now - entry.readyAt));
        if (entries.length > 0) scheduleDispatch(s);
        if (entries.length < PROMOTE_BATCH) break;
      }
      const next = await s.store.nextDueAt();
      if (next !== null) armDue(s, next);
    } catch (error) {
      s.events.emit("store:error", { operation: "promoteDue", error });
      armDue(s, s.options.clock() + 1_000);
    } finally {
      s.promoting = null;
    }
  })();
  return s.promoting;
}
