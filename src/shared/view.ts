/**
 * `RuntimeView`: what the dashboard reads and does, whether the runtime runs in this process
 * (`LocalView`, in `src/runtime`) or behind its socket (`RemoteView`, in `src/control`). The
 * dashboard's components never know which they have.
 *
 * @module
 */
import type { JobSnapshot } from "./job.ts";
import type { JsonValue } from "./json.ts";
import type { Priority } from "./priority.ts";
import type { RuntimeSnapshot } from "./snapshot.ts";

/** One live event: job lifecycle, worker health, intake, state, shutdown phases. */
export interface ViewEvent {
  event: string;
  data: Record<string, unknown>;
}

/** A job kind the dashboard can offer in its enqueue form. */
export interface ViewKind {
  kind: string;
  description: string;
}

/** What the dashboard may ask of a runtime. */
export interface RuntimeView {
  /** `local`: the runtime runs in this process (quitting shuts it down); `remote`: attached. */
  readonly mode: "local" | "remote";
  /** Where it is: the socket, or "this process". */
  readonly location: string;
  snapshot(): Promise<RuntimeSnapshot>;
  /** The newest jobs (any state), newest first. */
  recentJobs(limit: number): Promise<JobSnapshot[]>;
  job(id: string): Promise<JobSnapshot>;
  kinds(): Promise<ViewKind[]>;
  /** Listens to live events; returns the function that stops listening. */
  subscribe(listener: (event: ViewEvent) => void): () => void;
  cancel(id: string): Promise<JobSnapshot>;
  retry(id: string): Promise<JobSnapshot>;
  enqueue(spec: { kind: string; payload: JsonValue; priority: Priority }): Promise<string>;
  /** Pauses (no queued job starts) or resumes. */
  setPaused(paused: boolean): Promise<void>;
  /**
   * Ctrl-C in the dashboard: local, the first starts the ordered shutdown and the next forces
   * it; remote, nothing (the dashboard detaches).
   */
  interrupt(): "shutdown" | "force" | "ignored";
  /** Stops listening and frees what the view holds. */
  close(): void;
}
