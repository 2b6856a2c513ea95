/**
 * The dashboard's model: everything a frame shows, as plain data. Built by
 * `use_dashboard.ts` from a `RuntimeView`; rendered by the components.
 *
 * @module
 */
import type { JobSnapshot } from "../shared/job.ts";
import type { Priority } from "../shared/priority.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";

/** What the dashboard shows. */
export interface DashboardModel {
  mode: "local" | "remote";
  location: string;
  snapshot: RuntimeSnapshot | null;
  /** When the snapshot was taken (epoch ms). */
  updatedAt: number | null;
  /** Why there is no fresh snapshot (the runtime went away, …). */
  error: string | null;
  /** Queued jobs per priority, one sample a second, the last 60. */
  depthHistory: Record<Priority, number[]>;
  /** The newest jobs, newest first. */
  recent: JobSnapshot[];
  /** The runtime stopped (or detached from): the last report, if seen. */
  ended: boolean;
}

/** The panels that take the keyboard focus. */
export type FocusPanel = "workers" | "jobs";
