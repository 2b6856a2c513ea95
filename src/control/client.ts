/**
 * The control client: typed calls to a running runtime over its Unix socket, used by every
 * subcommand and by the dashboard when it attaches to a runtime.
 *
 * When nothing listens (no socket file, or a stale one left by a crash), calls fail with
 * `RUNTIME_UNREACHABLE` (exit 3), naming the socket and suggesting `liminal start`.
 *
 * @module
 */
import type { EnqueueResult, JobSpec } from "../shared/job_spec.ts";
import type { BatchWaitResult } from "./batches.ts";
import type { Duration } from "../shared/duration.ts";
import { errorMessage, isErrorCode, LiminalError } from "../shared/errors.ts";
import type { JobSnapshot, JobState } from "../shared/job.ts";
import type { JsonValue } from "../shared/json.ts";
import type { NodeInfo, RuntimeSnapshot } from "../shared/snapshot.ts";
import type { LeaseSnapshot, PreemptionView, ScheduleSnapshot } from "../shared/schedule.ts";
export type { PreemptionView };
import type { DeadLetterView, RouterSnapshot } from "../shared/router_snapshot.ts";
import type { Priority } from "../shared/priority.ts";
import { checkSocketPath } from "./socket.ts";

/** A job kind as `GET /v1/kinds` describes it. */
export interface KindInfo {
  kind: string;
  description: string;
  defaults: {
    priority: string;
    timeoutMs: number | null;
    maxAttempts: number;
    concurrency: number | null;
  };
}

/** A lease as the lease routes answer it. */
export interface LeaseView {
  resource: string;
  holder: string;
  priority: Priority;
  acquiredAt: string;
  expiresAt: string;
  jobId: string | null;
  /** Whether a higher priority may take it over (a job's lease, or one acquired so). */
  preemptible?: boolean;
  /**
   * From an acquire that preempted jobs: their leases were handed over once their attempts
   * had ended (their processes gone), after `waitedMs`.
   */
  handedOver?: {
    jobs: { jobId: string; holder: string; resource: string }[];
    waitedMs: number;
  };
}

/** One server-sent event. */
export interface StreamEvent {
  id: string | null;
  event: string;
  data: Record<string, unknown>;
}

/** Options of one call. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** @default 30 s */
  timeoutMs?: number;
}

/** The body of an enqueue call: one spec (optionally `count` copies) or a batch. */
export type EnqueueRequest = (JobSpec & { count?: number }) | { jobs: JobSpec[] };

/** A client of one runtime's control socket. */
export class ControlClient implements Disposable {
  readonly #path: string;
  #http: Deno.HttpClient | null = null;

  constructor(path: string) {
    this.#path = path;
  }

  /** The socket path. */
  get path(): string {
    return this.#path;
  }

  status(options?: CallOptions): Promise<RuntimeSnapshot> {
    return this.#call("GET", "/v1/status", undefined, options);
  }

  async kinds(options?: CallOptions): Promise<KindInfo[]> {
    return (await this.#call<{ kinds: KindInfo[] }>("GET", "/v1/kinds", undefined, options)).kinds;
  }

  /** Adds jobs; `batch` names them for {@link waitBatch} (absent from an older runtime). */
  enqueue(
    request: EnqueueRequest,
    options?: CallOptions,
  ): Promise<{ jobs: EnqueueResult[]; batch?: string }> {
    return this.#call("POST", "/v1/jobs", request as unknown as JsonValue, options);
  }

  /** Jobs, newest first; their payloads' `env` values masked unless `reveal`. */
  async listJobs(
    filter: { state?: JobState; kind?: string; limit?: number; reveal?: boolean } = {},
    options?: CallOptions,
  ): Promise<JobSnapshot[]> {
    const query = new URLSearchParams();
    if (filter.reveal) query.set("reveal", "1");
    if (filter.state !== undefined) query.set("state", filter.state);
    if (filter.kind !== undefined) query.set("kind", filter.kind);
    if (filter.limit !== undefined) query.set("limit", String(filter.limit));
    const suffix = query.size > 0 ? `?${query}` : "";
    return (await this.#call<{ jobs: JobSnapshot[] }>(
      "GET",
      `/v1/jobs${suffix}`,
      undefined,
      options,
    )).jobs;
  }

  /** One job; its payload's `env` values masked unless `reveal`. */
  getJob(id: string, options?: CallOptions & { reveal?: boolean }): Promise<JobSnapshot> {
    const suffix = options?.reveal ? "?reveal=1" : "";
    return this.#call("GET", `/v1/jobs/${encodeURIComponent(id)}${suffix}`, undefined, options);
  }

  cancelJob(id: string, options?: CallOptions): Promise<JobSnapshot> {
    return this.#call("POST", `/v1/jobs/${encodeURIComponent(id)}/cancel`, {}, options);
  }

  retryJob(id: string, options?: CallOptions): Promise<JobSnapshot> {
    return this.#call("POST", `/v1/jobs/${encodeURIComponent(id)}/retry`, {}, options);
  }

  /** Pauses (no queued job starts) or resumes the runtime's intake. */
  setIntake(paused: boolean, options?: CallOptions): Promise<{ intake: string }> {
    return this.#call("POST", "/v1/intake", { paused }, options);
  }

  /** Why a job is not running. */
  whyJob(
    id: string,
    options?: CallOptions,
  ): Promise<{ id: string; state: JobState; reasons: string[] }> {
    return this.#call("GET", `/v1/jobs/${encodeURIComponent(id)}/why`, undefined, options);
  }

  router(options?: CallOptions): Promise<RouterSnapshot> {
    return this.#call("GET", "/v1/router", undefined, options);
  }

  sendMessage(
    request: {
      to: string;
      type: string;
      payload?: JsonValue;
      priority?: Priority;
      from?: string;
      ack?: boolean;
      ttl?: Duration;
    },
    options?: CallOptions,
  ): Promise<{ id: string | null; ids: string[] }> {
    return this.#call("POST", "/v1/router/send", request as unknown as JsonValue, options);
  }

  async deadLetters(
    filter: { reason?: string; limit?: number } = {},
    options?: CallOptions,
  ): Promise<DeadLetterView[]> {
    const query = new URLSearchParams();
    if (filter.reason !== undefined) query.set("reason", filter.reason);
    if (filter.limit !== undefined) query.set("limit", String(filter.limit));
    const suffix = query.size > 0 ? `?${query}` : "";
    return (await this.#call<{ deadLetters: DeadLetterView[] }>(
      "GET",
      `/v1/router/dead${suffix}`,
      undefined,
      options,
    ))
      .deadLetters;
  }

  replayDeadLetter(
    id: string,
    options?: CallOptions,
  ): Promise<{ id: string | null; ids: string[] }> {
    return this.#call("POST", `/v1/router/dead/${encodeURIComponent(id)}/replay`, {}, options);
  }

  async schedules(options?: CallOptions): Promise<ScheduleSnapshot[]> {
    return (await this.#call<{ schedules: ScheduleSnapshot[] }>(
      "GET",
      "/v1/schedules",
      undefined,
      options,
    )).schedules;
  }

  addSchedule(
    definition: Record<string, JsonValue>,
    options?: CallOptions,
  ): Promise<ScheduleSnapshot> {
    return this.#call("POST", "/v1/schedules", definition, options);
  }

  removeSchedule(name: string, options?: CallOptions): Promise<{ removed: string }> {
    return this.#call("DELETE", `/v1/schedules/${encodeURIComponent(name)}`, undefined, options);
  }

  /** `pause`, `resume` or `trigger` a schedule. */
  scheduleAction<A extends "pause" | "resume" | "trigger">(
    name: string,
    action: A,
    options?: CallOptions,
  ): Promise<
    A extends "trigger" ? { jobId: string | null; skipped: string | null } : ScheduleSnapshot
  > {
    return this.#call("POST", `/v1/schedules/${encodeURIComponent(name)}/${action}`, {}, options);
  }

  /** The runtimes sharing the store; `shared: false` when the store is this runtime's alone. */
  nodes(options?: CallOptions): Promise<{ shared: boolean; self: string; nodes: NodeInfo[] }> {
    return this.#call("GET", "/v1/nodes", undefined, options);
  }

  /** Forgets dead node `id` (removes it from the list at once). */
  forgetNode(id: string, options?: CallOptions): Promise<{ forgotten: string }> {
    return this.#call("DELETE", `/v1/nodes/${encodeURIComponent(id)}`, undefined, options);
  }

  async leases(options?: CallOptions): Promise<LeaseSnapshot[]> {
    return (await this.#call<{ leases: LeaseSnapshot[] }>("GET", "/v1/leases", undefined, options))
      .leases;
  }

  /** The leases held, and the latest preemptions (oldest first). */
  leaseState(
    options?: CallOptions,
  ): Promise<{ leases: LeaseSnapshot[]; preemptions: PreemptionView[] }> {
    return this.#call("GET", "/v1/leases", undefined, options);
  }

  acquireLease(
    request: {
      resource: string;
      holder: string;
      ttl?: Duration;
      priority?: Priority;
      wait?: Duration;
      preemptible?: boolean;
    },
    options?: CallOptions,
  ): Promise<LeaseView> {
    return this.#call("POST", "/v1/leases/acquire", request as unknown as JsonValue, {
      timeoutMs: 90_000,
      ...options,
    });
  }

  releaseLease(
    request: { resource: string; holder: string },
    options?: CallOptions,
  ): Promise<{ released: LeaseView }> {
    return this.#call("POST", "/v1/leases/release", request as unknown as JsonValue, options);
  }

  renewLease(
    request: { resource: string; holder: string; ttl?: Duration },
    options?: CallOptions,
  ): Promise<LeaseView & { previousExpiresAt: string | null; shortened: boolean }> {
    return this.#call("POST", "/v1/leases/renew", request as unknown as JsonValue, options);
  }

  /** Removes finished jobs (by the runtime's retention policy when nothing is given). */
  pruneJobs(
    request: { olderThan?: Duration; keep?: number } = {},
    options?: CallOptions,
  ): Promise<{ removed: number }> {
    return this.#call("POST", "/v1/jobs/prune", request as JsonValue, options);
  }

  /** Holds until every job is final or `timeout` passes; `done` says which. */
  waitJobs(
    ids: string[],
    timeout: Duration,
    options: CallOptions = {},
  ): Promise<{ done: boolean; jobs: JobSnapshot[] }> {
    return this.#call("POST", "/v1/jobs/wait", { ids, timeout }, { timeoutMs: 90_000, ...options });
  }

  /**
   * Holds until every job of an enqueue's `batch` is final or `timeout` passes. The answer
   * counts them; it holds the jobs at the end (and all along for a batch of at most 100).
   */
  waitBatch(
    batch: string,
    timeout: Duration,
    options: CallOptions = {},
  ): Promise<BatchWaitResult> {
    return this.#call("POST", "/v1/jobs/wait", { batch, timeout }, {
      timeoutMs: 90_000,
      ...options,
    });
  }

  shutdown(
    request: { grace?: Duration; force?: boolean } = {},
    options?: CallOptions,
  ): Promise<{ accepted: boolean; pid: number; state: string }> {
    return this.#call("POST", "/v1/shutdown", request as JsonValue, options);
  }

  async metrics(options?: CallOptions): Promise<string> {
    const response = await this.#fetch("GET", "/metrics", undefined, options);
    return await response.text();
  }

  /**
   * The live event stream, until `signal` aborts or the runtime closes it.
   *
   * @param filter event names (prefix* allowed) and job ids to receive
   * @param lastEventId the id of the last event seen before a reconnect: the runtime sends
   *   what it still holds after it (or a `gap` event)
   */
  async *events(
    filter: { events?: string[]; jobs?: string[] } = {},
    signal?: AbortSignal,
    lastEventId?: string,
  ): AsyncGenerator<StreamEvent> {
    const query = new URLSearchParams();
    if (filter.events?.length) query.set("events", filter.events.join(","));
    if (filter.jobs?.length) query.set("jobs", filter.jobs.join(","));
    const suffix = query.size > 0 ? `?${query}` : "";
    const response = await this.#fetch("GET", `/v1/events${suffix}`, undefined, {
      ...(signal ? { signal } : {}),
      ...(lastEventId === undefined ? {} : { headers: { "last-event-id": lastEventId } }),
      timeoutMs: 0,
    });
    if (response.body === null) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parseFrame(frame);
          if (parsed !== null) yield parsed;
        }
      }
    } catch (error) {
      if (signal?.aborted) return;
      // The runtime went away mid-stream: the stream simply ends.
      if (error instanceof TypeError || error instanceof Deno.errors.Interrupted) return;
      throw error;
    }
  }

  /** Closes the HTTP client. */
  close(): void {
    this.#http?.close();
    this.#http = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #call<T>(
    method: string,
    path: string,
    body: JsonValue | undefined,
    options?: CallOptions,
  ): Promise<T> {
    const response = await this.#fetch(method, path, body, options);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {
      throw new LiminalError(
        "INTERNAL",
        `the runtime answered ${method} ${path} with ${response.status} and no JSON`,
      );
    }
    if (!response.ok) throw errorFromBody(parsed, response.status);
    return parsed as T;
  }

  async #fetch(
    method: string,
    path: string,
    body: JsonValue | undefined,
    options: CallOptions = {},
  ): Promise<Response> {
    if (this.#http === null) {
      checkSocketPath(this.#path); // too long to connect to: say so, not "nothing listens"
      this.#http = Deno.createHttpClient({ proxy: { transport: "unix", path: this.#path } });
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    const signals: AbortSignal[] = [];
    if (options.signal) signals.push(options.signal);
    const timeout = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs > 0) {
      timer = setTimeout(() => timeout.abort(), timeoutMs);
      signals.push(timeout.signal);
    }
    try {
      const response = await fetch(`http://liminal${path}`, {
        method,
        client: this.#http,
        ...(body === undefined ? { headers: { ...options.headers } } : {
          body: JSON.stringify(body),
          headers: { "content-type": "application/json", ...options.headers },
        }),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
      if (!response.ok && !(response.headers.get("content-type") ?? "").includes("json")) {
        const text = await response.text();
        throw new LiminalError(
          "INTERNAL",
          `the runtime answered ${response.status}: ${text.slice(0, 200)}`,
        );
      }
      return response;
    } catch (error) {
      if (error instanceof LiminalError) throw error;
      if (timeout.signal.aborted) {
        throw new LiminalError(
          "RUNTIME_UNREACHABLE",
          `the runtime on ${this.#path} did not answer within ${timeoutMs / 1000}s`,
          {
            cause: error,
          },
        );
      }
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      throw this.#unreachable(error);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  #unreachable(error: unknown): LiminalError {
    const message = errorMessage(error) + " " +
      errorMessage((error as { cause?: unknown })?.cause ?? "");
    let why = "nothing listens there";
    if (/No such file|os error 2\b/i.test(message)) {
      why = "no socket file: no runtime is running here";
    } else if (/refused|os error 111\b/i.test(message)) {
      why = "the socket is stale: its runtime is gone";
    } else if (/permission denied|os error 13\b/i.test(message)) {
      why = "permission denied: the socket belongs to another user";
    } else if (/reset|broken pipe|closed/i.test(message)) {
      why = "the runtime closed the connection (it may be shutting down)";
    }
    return new LiminalError("RUNTIME_UNREACHABLE", `no runtime answers on ${this.#path} (${why})`, {
      cause: error,
      hint: "start one with: liminal start (or pass --socket PATH / set LIMINAL_SOCKET)",
    });
  }
}

function errorFromBody(body: unknown, status: number): LiminalError {
  const error = (body as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | null)
    ?.error;
  const message = typeof error?.message === "string"
    ? error.message
    : `the runtime answered ${status}`;
  const code = isErrorCode(error?.code) ? error.code : "INTERNAL";
  return new LiminalError(
    code,
    message,
    typeof error?.hint === "string" ? { hint: error.hint } : {},
  );
}

function parseFrame(frame: string): StreamEvent | null {
  let id: string | null = null;
  let event = "message";
  const data: string[] = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith(":") || line === "") continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = value;
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { id, event, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}
