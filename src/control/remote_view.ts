/**
 * The dashboard's view of a runtime behind its control socket (`liminal top`): snapshots
 * through `GET /v1/status`, live events through the SSE stream, actions through the API.
 *
 * @module
 */
import type { JobSnapshot } from "../shared/job.ts";
import type { JsonValue } from "../shared/json.ts";
import type { Priority } from "../shared/priority.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import type { RuntimeView, ViewEvent, ViewKind } from "../shared/view.ts";
import type { ControlClient } from "./client.ts";

/** A {@link RuntimeView} of a runtime reached through a {@link ControlClient}. */
export class RemoteView implements RuntimeView {
  readonly mode = "remote" as const;
  readonly location: string;
  readonly #client: ControlClient;
  readonly #listeners = new Set<(event: ViewEvent) => void>();
  #stream: AbortController | null = null;

  constructor(client: ControlClient) {
    this.#client = client;
    this.location = client.path;
  }

  snapshot(): Promise<RuntimeSnapshot> {
    return this.#client.status({ timeoutMs: 5_000 });
  }

  recentJobs(limit: number): Promise<JobSnapshot[]> {
    return this.#client.listJobs({ limit }, { timeoutMs: 5_000 });
  }

  job(id: string): Promise<JobSnapshot> {
    return this.#client.getJob(id);
  }

  async kinds(): Promise<ViewKind[]> {
    return (await this.#client.kinds()).map((k) => ({ kind: k.kind, description: k.description }));
  }

  subscribe(listener: (event: ViewEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#stream === null) this.#follow();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#stream?.abort();
        this.#stream = null;
      }
    };
  }

  cancel(id: string): Promise<JobSnapshot> {
    return this.#client.cancelJob(id);
  }

  retry(id: string): Promise<JobSnapshot> {
    return this.#client.retryJob(id);
  }

  async enqueue(spec: { kind: string; payload: JsonValue; priority: Priority }): Promise<string> {
    const { jobs } = await this.#client.enqueue(spec);
    return jobs[0]!.id;
  }

  async setPaused(paused: boolean): Promise<void> {
    await this.#client.setIntake(paused);
  }

  interrupt(): "ignored" {
    return "ignored";
  }

  close(): void {
    this.#listeners.clear();
    this.#stream?.abort();
    this.#stream = null;
  }

  /** Reads the event stream until closed; reconnects while the runtime answers. */
  #follow(): void {
    const stream = new AbortController();
    this.#stream = stream;
    void (async () => {
      while (!stream.signal.aborted) {
        try {
          for await (const { event, data } of this.#client.events({}, stream.signal)) {
            for (const listener of this.#listeners) listener({ event, data });
          }
        } catch {
          // Unreachable for now: try again shortly.
        }
        if (stream.signal.aborted) return;
        for (const listener of this.#listeners) listener({ event: "stream:closed", data: {} });
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          stream.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve(undefined);
          }, { once: true });
        });
      }
    })();
  }
}
