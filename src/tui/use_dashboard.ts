/**
 * The dashboard's data: snapshots polled from a `RuntimeView` (twice a second, and soon after
 * live events, at most ten times a second), depth history for the sparklines, and the newest
 * jobs. No business logic: the runtime computes warnings and percentiles.
 *
 * @module
 */
import { useEffect, useRef, useState } from "react";
import { errorMessage } from "../shared/errors.ts";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { RuntimeView } from "../shared/view.ts";
import type { DashboardModel } from "./model.ts";

/** Options of {@link useDashboard}. */
export interface DashboardOptions {
  /** Time between snapshots when nothing happens. @default 500 */
  pollMs?: number;
  /** Shortest time between two snapshots. @default 100 */
  minIntervalMs?: number;
  /** Jobs in the recent list. @default 30 */
  recentLimit?: number;
}

const FINAL_EVENTS = new Set([
  "job:succeeded",
  "job:failed",
  "job:cancelled",
  "job:interrupted",
  "job:retried",
  "job:enqueued",
]);

function emptyHistory(): Record<Priority, number[]> {
  return Object.fromEntries(PRIORITIES.map((p) => [p, [] as number[]])) as Record<
    Priority,
    number[]
  >;
}

/** Follows a runtime through its view and returns the model to render. */
export function useDashboard(view: RuntimeView, options: DashboardOptions = {}): DashboardModel {
  const pollMs = options.pollMs ?? 500;
  const minIntervalMs = options.minIntervalMs ?? 100;
  const recentLimit = options.recentLimit ?? 30;
  const [model, setModel] = useState<DashboardModel>(() => ({
    mode: view.mode,
    location: view.location,
    snapshot: null,
    updatedAt: null,
    error: null,
    depthHistory: emptyHistory(),
    recent: [],
    ended: false,
  }));
  const state = useRef({
    lastFetch: 0,
    pending: false,
    recentDirty: true,
    lastSample: 0,
    alive: true,
    stopping: false,
  });

  useEffect(() => {
    const s = state.current;
    s.alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const fetchNow = async () => {
      s.pending = false;
      s.lastFetch = Date.now();
      try {
        const snapshot = await view.snapshot();
        const recent = s.recentDirty ? await view.recentJobs(recentLimit) : null;
        s.recentDirty = false;
        if (!s.alive) return;
        const now = Date.now();
        const sample = now - s.lastSample >= 1_000;
        if (sample) s.lastSample = now;
        setModel((m) => ({
          ...m,
          snapshot,
          updatedAt: now,
          error: null,
          ended: snapshot.state === "stopped",
          recent: recent ?? m.recent,
          depthHistory: sample
            ? Object.fromEntries(
              PRIORITIES.map((
                p,
              ) => [
                p,
                [...m.depthHistory[p], snapshot.executor.queue.byPriority[p].queued].slice(-60),
              ]),
            ) as Record<Priority, number[]>
            : m.depthHistory,
        }));
      } catch (error) {
        if (!s.alive) return;
        // Attached to a runtime that was shutting down: it closed its socket and is gone.
        setModel((m) => ({
          ...m,
          error: errorMessage(error),
          ended: m.ended || s.stopping || m.snapshot?.state === "stopping" ||
            m.snapshot?.state === "stopped",
        }));
      }
    };

    const schedule = (delay: number) => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        void fetchNow().finally(() => {
          if (s.alive) schedule(pollMs);
        });
      }, delay);
    };

    const off = view.subscribe(({ event, data }) => {
      if (FINAL_EVENTS.has(event)) s.recentDirty = true;
      if (event === "shutdown:phase" || (event === "state:changed" && data.to === "stopping")) {
        s.stopping = true;
      }
      if (event === "shutdown:report" || (event === "state:changed" && data.to === "stopped")) {
        setModel((m) => ({ ...m, ended: true }));
      }
      if (s.pending) return;
      s.pending = true;
      // Soon, but never more often than minIntervalMs.
      schedule(Math.max(0, minIntervalMs - (Date.now() - s.lastFetch)));
    });
    schedule(0);
    return () => {
      s.alive = false;
      off();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [view, pollMs, minIntervalMs, recentLimit]);

  return model;
}
