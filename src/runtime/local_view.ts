/**
 * The dashboard's view of the runtime in this process.
 *
 * @module
 */
import { toJobSnapshot } from "../shared/job.ts";
import type { JobSnapshot } from "../shared/job.ts";
import { LiminalError } from "../shared/errors.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import type { RuntimeView, ViewEvent, ViewKind } from "../shared/view.ts";
import type { JsonValue } from "../shared/json.ts";
import type { Priority } from "../shared/priority.ts";
import type { Runtime } from "./runtime.ts";

const EXECUTOR_EVENTS = [
  "job:enqueued",
  "job:started",
  "job:progress",
  "job:succeeded",
  "job:failed",
  "job:dead",
  "job:cancelled",
  "job:interrupted",
  "job:retried",
  "job:abandoned",
  "worker:stuck",
  "worker:recovered",
  "intake:changed",
] as const;
const RUNTIME_EVENTS = ["state:changed", "shutdown:phase", "shutdown:report", "signal"] as const;

/** A {@link RuntimeView} of a runtime in this process. */
export class LocalView implements RuntimeView {
  readonly mode = "local" as const;
  readonly location: string;
  readonly #runtime: Runtime;
  readonly #offs: (() => void)[] = [];

  constructor(runtime: Runtime) {
    this.#runtime = runtime;
    this.location = runtime.config.socket ?? "this process";
  }

  snapshot(): Promise<RuntimeSnapshot> {
    return this.#runtime.snapshot();
  }

  async recentJobs(limit: number): Promise<JobSnapshot[]> {
    return (await this.#runtime.store.list({ limit })).map(toJobSnapshot);
  }

  async job(id: string): Promise<JobSnapshot> {
    const record = await this.#runtime.store.get(id);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    return toJobSnapshot(record);
  }

  kinds(): Promise<ViewKind[]> {
    return Promise.resolve(
      [...this.#runtime.executor.kinds].map((k) => ({ kind: k.kind, description: k.description }))
        .sort((a, b) => a.kind.localeCompare(b.kind)),
    );
  }

  subscribe(listener: (event: ViewEvent) => void): () => void {
    const executor = this.#runtime.executor;
    const offs = [
      ...EXECUTOR_EVENTS.map((event) =>
        executor.on(
          event,
          (data) => listener({ event, data: data as unknown as Record<string, unknown> }),
        )
      ),
      ...RUNTIME_EVENTS.map((event) =>
        this.#runtime.on(
          event,
          (data) => listener({ event, data: data as unknown as Record<string, unknown> }),
        )
      ),
    ];
    const off = () => offs.forEach((o) => o());
    this.#offs.push(off);
    return off;
  }

  async cancel(id: string): Promise<JobSnapshot> {
    return toJobSnapshot(await this.#runtime.executor.cancel(id));
  }

  async retry(id: string): Promise<JobSnapshot> {
    return toJobSnapshot(await this.#runtime.executor.retry(id));
  }

  async enqueue(spec: { kind: string; payload: JsonValue; priority: Priority }): Promise<string> {
    return (await this.#runtime.executor.enqueue(spec)).id;
  }

  setPaused(paused: boolean): Promise<void> {
    if (paused) this.#runtime.executor.pause();
    else this.#runtime.executor.resume();
    return Promise.resolve();
  }

  interrupt(): "shutdown" | "force" | "ignored" {
    return this.#runtime.interrupt("key");
  }

  close(): void {
    for (const off of this.#offs.splice(0)) off();
  }
}
