/**
 * The control server: HTTP/1.1 with JSON bodies over the runtime's Unix socket, the way the
 * Docker engine exposes its API. Routes are versioned under `/v1`; `/metrics` is Prometheus
 * text; `/v1/events` is a server-sent-events stream.
 *
 * Every error is `{ "error": { "code", "message" } }` with a fitting status: 400 bad input
 * (malformed JSON with its position), 404 unknown route or job, 405 wrong method, 413 body
 * too large, 503 while the runtime shuts down (for calls that change something).
 *
 * @module
 */
import type { MaintenanceExecutor } from "../executor/executor.ts";
import { isPreemptible, type TerritoryLeases } from "../leases/territory_leases.ts";
import { defineSchedule, type ScheduleOptions } from "../scheduler/schedule.ts";
import type { Scheduler } from "../scheduler/scheduler.ts";
import type { UnifiedMessageRouter } from "../router/router.ts";
import { DEAD_LETTER_REASONS, isDeadLetterReason } from "../shared/router_snapshot.ts";
import { parseResource } from "../executor/job_spec.ts";
import { parsePriority } from "../shared/priority.ts";
import { type JobSpec, parseJobSpec } from "../executor/job_spec.ts";
import type { RuntimeEventMap } from "../runtime/events.ts";
import { type Duration, parseDuration } from "../shared/duration.ts";
import type { EventSource } from "../shared/emitter.ts";
import { errorMessage, isLiminalError, LiminalError } from "../shared/errors.ts";
import { isId } from "../shared/ids.ts";
import {
  FINAL_STATES,
  isJobState,
  JOB_STATES,
  type JobRecord,
  type JobSnapshot,
  toJobSnapshot,
} from "../shared/job.ts";
import { maskJob } from "../shared/secrets.ts";
import { type JsonValue, MAX_PAYLOAD_BYTES, parseJson } from "../shared/json.ts";
import type { RuntimeSnapshot, RuntimeState, ShutdownReport } from "../shared/snapshot.ts";
import { VERSION } from "../shared/version.ts";
import type { JobStore } from "../store/types.ts";
import { BatchWatches } from "./batches.ts";
import { EventHub } from "./events.ts";
import { BUCKETS_SECONDS, renderMetrics } from "./metrics.ts";
import { claimSocketPath } from "./socket.ts";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["liminal", "control"]);

/**
 * Accepting a connection failed because the process is out of file descriptors (thousands
 * of connections held open): Deno's server reports it as an unhandled rejection, which
 * would end the whole runtime.
 */
function isAcceptFailure(reason: unknown): boolean {
  const message = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return /Too many open files|os error 2[34]\b/.test(message);
}

/** The largest request body: a 1 MiB payload plus room for the rest of the job spec. */
export const MAX_BODY_BYTES = MAX_PAYLOAD_BYTES + 64 * 1024;
/** The most jobs one enqueue call creates. */
export const MAX_BATCH = 100_000;
/** The longest a `POST /v1/jobs/wait` call holds before answering with the jobs as they are. */
export const MAX_WAIT_MS = 60_000;

/** What the control server drives: the runtime's public API. */
export interface ControlTarget extends EventSource<RuntimeEventMap> {
  readonly state: RuntimeState;
  readonly executor: MaintenanceExecutor;
  readonly store: JobStore;
  readonly scheduler: Scheduler;
  readonly leases: TerritoryLeases;
  readonly router: UnifiedMessageRouter;
  /** Leases held, with operators and queued jobs waiting for them. */
  leaseSnapshot(): import("../shared/schedule.ts").LeaseSnapshot[];
  /** The runtimes sharing the store (this one alone with a store only it uses). */
  nodes(): Promise<import("../shared/snapshot.ts").NodeInfo[]>;
  snapshot(): Promise<RuntimeSnapshot>;
  shutdown(options?: { grace?: number; force?: boolean }): Promise<ShutdownReport>;
  prune(options?: { olderThanMs?: number; keep?: number }): Promise<number>;
}

/** Options of a {@link ControlServer}. */
export interface ControlServerOptions {
  /** The socket path. */
  path: string;
}

type Handler = (request: Request, params: Record<string, string>, url: URL) => Promise<Response>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
  /** Refused with 503 once the runtime is shutting down. */
  mutating: boolean;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** The JSON error response for an error. */
export function errorResponse(error: unknown): Response {
  if (isLiminalError(error)) return json({ error: error.toJSON() }, error.status);
  return json({ error: { code: "INTERNAL", message: errorMessage(error) } }, 500);
}

/** Serves the control API of one runtime on a Unix socket. */
export class ControlServer {
  readonly #target: ControlTarget;
  readonly #path: string;
  readonly #routes: Route[] = [];
  readonly #live = new AbortController();
  /** Ends the event streams: after the shutdown report, not with the socket (phase 5). */
  readonly #streams = new AbortController();
  #closing: Promise<void> | null = null;
  #hub: EventHub | null = null;
  readonly #batches: BatchWatches;
  #server: Deno.HttpServer<Deno.UnixAddr> | null = null;
  #lastAcceptWarning = 0;
  #relistening = false;
  /** Servers that stopped listening after an accept failure; shut down with the rest. */
  readonly #stopped: Deno.HttpServer<Deno.UnixAddr>[] = [];
  readonly #onRejection = (event: PromiseRejectionEvent) => {
    if (!isAcceptFailure(event.reason)) return;
    // The runtime keeps running its jobs; the socket answers again once connections close.
    event.preventDefault();
    // Deno's server stops listening after this (and removes the socket file): listen again.
    const server = this.#server;
    if (server !== null && !this.#relistening) {
      this.#relistening = true;
      void this.#relisten(server).finally(() => (this.#relistening = false));
    }
    const now = Date.now();
    if (now - this.#lastAcceptWarning < 10_000) return;
    this.#lastAcceptWarning = now;
    log.warn("control socket: cannot accept a connection: {error}", {
      error: event.reason instanceof Error ? event.reason.message : String(event.reason),
    });
  };
  #draining = false;

  constructor(target: ControlTarget, options: ControlServerOptions) {
    this.#target = target;
    this.#path = options.path;
    this.#batches = new BatchWatches(target.executor, target.store, this.#live.signal);
    this.#defineRoutes();
  }

  /** The socket path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Takes the socket (refusing a live runtime on it, replacing a stale one) and listens.
   * The socket is made 0600 in a 0700 directory: only its owner can drive the runtime.
   */
  async start(): Promise<void> {
    await claimSocketPath(this.#path);
    this.#hub = new EventHub(this.#target.executor, this.#target, this.#target.router);
    globalThis.addEventListener("unhandledrejection", this.#onRejection);
    await this.#listen();
  }

  async #listen(): Promise<void> {
    const listening = Promise.withResolvers<void>();
    const server = Deno.serve({
      path: this.#path,
      onListen: () => listening.resolve(),
      onError: (error) => errorResponse(error),
    }, (request) => this.handle(request));
    this.#server = server;
    await listening.promise;
    await Deno.chmod(this.#path, 0o600);
  }

  async #relisten(server: Deno.HttpServer<Deno.UnixAddr>): Promise<void> {
    this.#stopped.push(server);
    const live = this.#live.signal;
    while (this.#server === server && !live.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1_000);
        live.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          live.removeEventListener("abort", done);
          resolve();
        }
      });
      if (this.#server !== server || live.aborted) return;
      try {
        // Another runtime may have taken the path meanwhile: then it is theirs.
        await claimSocketPath(this.#path);
        await this.#listen();
        log.warn("control socket: listening again on {path}", { path: this.#path });
        return;
      } catch (error) {
        if (isLiminalError(error, "CONFLICT")) {
          log.error("control socket: {path} is another runtime's now: {error}", {
            path: this.#path,
            error: error.message,
          });
          return;
        }
        log.warn("control socket: cannot listen again yet: {error}", {
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  /** Shutdown phase 1: calls that change something now get 503 `RUNTIME_SHUTTING_DOWN`. */
  closeIntake(): void {
    this.#draining = true;
  }

  /**
   * Shutdown phase 5: stops listening and removes the socket, ends the long-polls. The event
   * streams stay open, so their clients (`liminal shutdown`) hear the last phase and the
   * report; {@link close} ends them.
   */
  async stopListening(): Promise<void> {
    this.#draining = true;
    if (!this.#live.signal.aborted) this.#live.abort();
    this.#batches.close();
    // Deno closes the listener and removes the socket file at once; the promise settles
    // once the open connections (the event streams) are done.
    this.#closing ??= this.#server?.shutdown() ?? Promise.resolve();
    this.#server = null;
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
    try {
      await Deno.remove(this.#path);
    } catch {
      // Deno removes the socket file itself when the listener closes.
    }
  }

  /** Ends the event streams (with their buffered events) and waits; stops listening first. */
  async close(): Promise<void> {
    await this.stopListening();
    this.#hub?.close();
    if (!this.#streams.signal.aborted) this.#streams.abort();
    // The streams were closed with their buffered events, which the graceful shutdown still
    // delivers.
    await this.#closing;
    // Servers left behind by accept failures: their connections are closed, without waiting.
    for (const old of this.#stopped.splice(0)) {
      await Promise.race([old.shutdown(), new Promise((r) => setTimeout(r, 100))]);
    }
  }

  /** Answers one request (also used by the route tests without a socket). */
  async handle(request: Request): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return errorResponse(new LiminalError("INVALID_ARGUMENT", "malformed request URL"));
    }
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      if (
        route.method !== request.method && !(route.method === "GET" && request.method === "HEAD")
      ) {
        allowed.push(route.method);
        continue;
      }
      if (
        route.mutating &&
        (this.#draining || this.#target.state === "stopping" || this.#target.state === "stopped")
      ) {
        return errorResponse(
          new LiminalError(
            "RUNTIME_SHUTTING_DOWN",
            "the runtime is shutting down and takes no new work",
          ),
        );
      }
      const params: Record<string, string> = {};
      try {
        route.keys.forEach((key, i) => {
          try {
            params[key] = decodeURIComponent(match[i + 1]!);
          } catch {
            throw new LiminalError(
              "INVALID_ARGUMENT",
              `malformed %-escape in the path: ${url.pathname}`,
            );
          }
        });
        return await route.handler(request, params, url);
      } catch (error) {
        return errorResponse(error);
      }
    }
    if (allowed.length > 0) {
      return json(
        {
          error: {
            code: "METHOD_NOT_ALLOWED",
            message: `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`,
          },
        },
        405,
        { allow: allowed.join(", ") },
      );
    }
    return errorResponse(
      new LiminalError("NOT_FOUND", `no route ${request.method} ${path}; the API lives under /v1`),
    );
  }

  #route(method: string, path: string, handler: Handler, mutating = method !== "GET"): void {
    const keys: string[] = [];
    const pattern = new RegExp(
      "^" + path.replace(/:([a-z]+)/g, (_, key: string) => {
        keys.push(key);
        return "([^/]+)";
      }) + "$",
    );
    this.#routes.push({ method, pattern, keys, handler, mutating });
  }

  #defineRoutes(): void {
    const target = this.#target;
    const executor = () => target.executor;

    this.#route("GET", "/", () =>
      Promise.resolve(json({
        name: "liminal",
        version: VERSION,
        api: "/v1",
        routes: this.#routes.map((r) =>
          `${r.method} ${r.pattern.source.slice(1, -1).replaceAll("([^/]+)", ":id")}`
        ),
      })));
    this.#route("GET", "/v1", () => Promise.resolve(json({ name: "liminal", version: VERSION })));

    this.#route("GET", "/v1/status", async () => json(await this.#snapshot()));

    this.#route("GET", "/v1/kinds", () =>
      Promise.resolve(json({
        kinds: [...executor().kinds].sort((a, b) => a.kind.localeCompare(b.kind)).map((k) => ({
          kind: k.kind,
          description: k.description,
          defaults: k.defaults,
        })),
      })));

    this.#route("GET", "/v1/jobs", async (_request, _params, url) => {
      const state = url.searchParams.get("state");
      if (state === "failed") {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `"failed" is how an attempt ends, not a state a job rests in: a job that failed and will not run again is "dead"`,
          { hint: "ask for state=dead" },
        );
      }
      if (state !== null && !isJobState(state)) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `invalid state "${state}"; use one of: ${JOB_STATES.join(", ")}`,
        );
      }
      const kind = url.searchParams.get("kind");
      const limit = parseLimit(url.searchParams.get("limit"));
      const records = await target.store.list({
        ...(state === null ? {} : { state }),
        ...(kind === null ? {} : { kind }),
        limit,
      });
      const reveal = revealAsked(url);
      return json({ jobs: records.map((r) => shownJob(r, reveal)) });
    });

    this.#route("POST", "/v1/jobs", async (request) => {
      const specs = parseEnqueueBody(await readJson(request));
      const results = await executor().enqueueMany(specs);
      // `batch` names these jobs for POST /v1/jobs/wait: a wait need not send every id.
      const batch = this.#batches.add(results.map((r) => r.id));
      return json({ jobs: results, batch }, 201);
    });

    this.#route("POST", "/v1/jobs/wait", async (request) => {
      const body = await readJson(request);
      const wait = parseWaitBody(body);
      if ("batch" in wait) return json(await this.#batches.wait(wait.batch, wait.timeoutMs));
      return json(await this.#wait(wait.ids, wait.timeoutMs));
    }, false);

    this.#route("POST", "/v1/jobs/prune", async (request) => {
      const body = asObject(await readJson(request, true), "the request body");
      for (const key of Object.keys(body)) {
        if (key !== "olderThan" && key !== "keep") {
          throw new LiminalError(
            "INVALID_ARGUMENT",
            `unknown field "${key}" (fields: olderThan, keep)`,
          );
        }
      }
      const options: { olderThanMs?: number; keep?: number } = {};
      if (body.olderThan !== undefined) {
        if (typeof body.olderThan !== "string" && typeof body.olderThan !== "number") {
          throw new LiminalError("INVALID_DURATION", '"olderThan" must be a duration such as "7d"');
        }
        options.olderThanMs = parseDuration(body.olderThan, "olderThan");
      }
      if (body.keep !== undefined) {
        if (typeof body.keep !== "number" || !Number.isInteger(body.keep) || body.keep < 0) {
          throw new LiminalError("INVALID_ARGUMENT", '"keep" must be a whole number of at least 0');
        }
        options.keep = body.keep;
      }
      return json({ removed: await target.prune(options) });
    });

    this.#route("GET", "/v1/jobs/:id/why", async (_request, { id }) => {
      return json(await executor().explain(checkId(id!)));
    });

    // The message router.
    this.#route("GET", "/v1/router", () => Promise.resolve(json(target.router.snapshot())));
    this.#route("POST", "/v1/router/send", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      const fields = ["to", "type", "payload", "priority", "from", "ack", "ttl"];
      for (const key of Object.keys(body)) {
        if (!fields.includes(key)) {
          throw new LiminalError(
            "INVALID_ARGUMENT",
            `unknown field "${key}" (fields: ${fields.join(", ")})`,
          );
        }
      }
      if (typeof body.to !== "string" || body.to === "") {
        throw new LiminalError("INVALID_ARGUMENT", '"to" must be an endpoint or topic');
      }
      if (typeof body.type !== "string" || body.type === "") {
        throw new LiminalError("INVALID_ARGUMENT", '"type" must be a non-empty string');
      }
      if (body.from !== undefined && (typeof body.from !== "string" || body.from === "")) {
        throw new LiminalError("INVALID_ARGUMENT", '"from" must be a non-empty name');
      }
      if (body.ack !== undefined && typeof body.ack !== "boolean") {
        throw new LiminalError("INVALID_ARGUMENT", '"ack" must be true or false');
      }
      if (body.ttl !== undefined && typeof body.ttl !== "string" && typeof body.ttl !== "number") {
        throw new LiminalError("INVALID_DURATION", '"ttl" must be a duration such as "30s"');
      }
      const receipt = await target.router.send(body.to, body.type, body.payload ?? null, {
        from: typeof body.from === "string" ? body.from : "cli",
        ...(body.priority === undefined
          ? {}
          : { priority: parsePriority(body.priority, "priority") }),
        ...(body.ack === undefined ? {} : { ack: body.ack as boolean }),
        ...(body.ttl === undefined ? {} : { ttl: body.ttl as Duration }),
      });
      return json({ id: receipt.id, ids: receipt.ids }, 201);
    });
    this.#route("GET", "/v1/router/dead", (_request, _params, url) => {
      const reason = url.searchParams.get("reason");
      if (reason !== null && !isDeadLetterReason(reason)) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `invalid reason "${reason}"; use one of: ${DEAD_LETTER_REASONS.join(", ")}`,
        );
      }
      const limit = parseLimit(url.searchParams.get("limit"));
      return Promise.resolve(
        json({
          deadLetters: target.router.deadLetters({ ...(reason === null ? {} : { reason }), limit }),
        }),
      );
    });
    this.#route("POST", "/v1/router/dead/:id/replay", async (_request, { id }) => {
      const receipt = await target.router.replay(checkId(id!, "message"));
      return json({ id: receipt.id, ids: receipt.ids }, 201);
    });

    // Schedules.
    this.#route(
      "GET",
      "/v1/schedules",
      async () => json({ schedules: await target.scheduler.list() }),
    );
    this.#route("POST", "/v1/schedules", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      let definition;
      try {
        definition = defineSchedule(body as unknown as ScheduleOptions);
      } catch (error) {
        if (error instanceof LiminalError) throw error;
        throw new LiminalError("INVALID_ARGUMENT", errorMessage(error));
      }
      return json(await target.scheduler.add(definition), 201);
    });
    this.#route(
      "GET",
      "/v1/schedules/:name",
      async (_r, { name }) => json(await target.scheduler.get(name!)),
    );
    this.#route("DELETE", "/v1/schedules/:name", async (_r, { name }) => {
      await target.scheduler.remove(name!);
      return json({ removed: name });
    });
    this.#route(
      "POST",
      "/v1/schedules/:name/pause",
      async (_r, { name }) => json(await target.scheduler.pause(name!)),
    );
    this.#route(
      "POST",
      "/v1/schedules/:name/resume",
      async (_r, { name }) => json(await target.scheduler.resume(name!)),
    );
    this.#route(
      "POST",
      "/v1/schedules/:name/trigger",
      async (_r, { name }) => json(await target.scheduler.trigger(name!)),
    );

    // The runtimes sharing the store.
    this.#route("GET", "/v1/nodes", async () => {
      const nodes = await target.nodes();
      return json({
        shared: typeof target.store.nodes === "function",
        self: target.store.nodeId ?? "local",
        nodes,
      });
    });

    // Territory leases.
    this.#route(
      "GET",
      "/v1/leases",
      () =>
        Promise.resolve(json({
          leases: target.leaseSnapshot(),
          preemptions: target.leases.recentPreemptions().map((p) => ({
            ...p,
            at: new Date(p.at).toISOString(),
          })),
        })),
    );
    this.#route("POST", "/v1/leases/acquire", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      const { resource, holder, ttl, priority, wait, preemptible } = leaseBody(body, [
        "resource",
        "holder",
        "ttl",
        "priority",
        "wait",
        "preemptible",
      ]);
      const leaseRequest = {
        holder,
        ...(ttl === undefined ? {} : { ttl }),
        ...(priority === undefined ? {} : { priority }),
        ...(preemptible === undefined ? {} : { preemptible }),
      };
      if (wait === undefined || wait <= 0) {
        return json(leaseView(await target.leases.acquire(resource, leaseRequest)));
      }
      const stop = new AbortController();
      const timer = setTimeout(
        () =>
          stop.abort(
            new LiminalError("LEASE_HELD", `${resource} is still held after waiting ${wait}ms`),
          ),
        wait,
      );
      try {
        // A client that goes away (Ctrl-C on `leases acquire --wait`) stops waiting: it must
        // not be granted the lease later with nobody there to release it.
        const lease = await target.leases.acquireOrWait(
          resource,
          leaseRequest,
          AbortSignal.any([stop.signal, this.#live.signal, request.signal]),
        );
        if (request.signal.aborted) {
          await target.leases.release(resource, holder).catch(() => {});
          throw new LiminalError("LEASE_HELD", `${resource}: the client left before the grant`);
        }
        return json(leaseView(lease));
      } finally {
        clearTimeout(timer);
      }
    });
    this.#route("POST", "/v1/leases/release", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      const { resource, holder } = leaseBody(body, ["resource", "holder"]);
      return json({ released: leaseView(await target.leases.release(resource, holder)) });
    });
    this.#route("POST", "/v1/leases/renew", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      const { resource, holder, ttl } = leaseBody(body, ["resource", "holder", "ttl"]);
      const before = target.leases.get(resource);
      const renewed = await target.leases.renew(resource, holder, ttl);
      // Said in the answer: a renewal that shortens the lease does so only as asked.
      return json({
        ...leaseView(renewed),
        previousExpiresAt: before === undefined ? null : new Date(before.expiresAt).toISOString(),
        shortened: before !== undefined && renewed.expiresAt < before.expiresAt,
      });
    });

    this.#route("GET", "/v1/jobs/:id", async (_request, { id }, url) => {
      const record = await target.store.get(checkId(id!));
      if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      return json(shownJob(record, revealAsked(url)));
    });

    this.#route("POST", "/v1/jobs/:id/cancel", async (_request, { id }) => {
      const record = await executor().cancel(checkId(id!));
      return json(shownJob(record));
    });

    this.#route("POST", "/v1/jobs/:id/retry", async (_request, { id }) => {
      const record = await executor().retry(checkId(id!));
      return json(shownJob(record));
    });

    this.#route("POST", "/v1/intake", async (request) => {
      const body = asObject(await readJson(request), "the request body");
      if (typeof body.paused !== "boolean" || Object.keys(body).length !== 1) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          'the body must be { "paused": true } or { "paused": false }',
        );
      }
      if (body.paused) executor().pause();
      else executor().resume();
      return json({ intake: executor().intake });
    });

    this.#route("POST", "/v1/shutdown", async (request) => {
      const body = await readJson(request, true);
      const { grace, force } = parseShutdownBody(body);
      const state = target.state;
      void target.shutdown({
        ...(grace === undefined ? {} : { grace }),
        ...(force ? { force } : {}),
      }).catch(() => {});
      return json({
        accepted: true,
        state: state === "running" ? "stopping" : state,
        pid: Deno.pid,
      }, 202);
    }, false);

    this.#route("GET", "/v1/events", (request, _params, url) => {
      if (this.#hub === null) {
        throw new LiminalError("RUNTIME_NOT_RUNNING", "the event stream is not open");
      }
      const events = url.searchParams.get("events")?.split(",").map((s) => s.trim());
      const jobs = url.searchParams.get("jobs")?.split(",").map((s) => s.trim()).filter((s) =>
        s !== ""
      );
      // The stream ends when the client goes (cancel) or the server closes. Not request.signal:
      // Deno aborts it as soon as the response starts.
      const body = this.#hub.open(
        { ...(events ? { events } : {}), ...(jobs ? { jobs } : {}) },
        this.#streams.signal,
        // A reconnecting client gets what it missed (or a `gap` event saying it is lost).
        request.headers.get("last-event-id"),
      );
      return Promise.resolve(
        new Response(body, {
          headers: {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
          },
        }),
      );
    });

    this.#route("GET", "/metrics", async () => {
      const snapshot = await this.#snapshot();
      const histograms = executor().histograms(BUCKETS_SECONDS.map((s) => s * 1000));
      return new Response(renderMetrics(snapshot, histograms), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    });
  }

  async #snapshot(): Promise<RuntimeSnapshot> {
    const snapshot = await this.#target.snapshot();
    snapshot.socket = this.#path;
    return snapshot;
  }

  /** Holds until every job is final, the time is up or the server closes. */
  async #wait(
    ids: string[],
    timeoutMs: number,
  ): Promise<{ done: boolean; jobs: unknown[] }> {
    const store = this.#target.store;
    const current = await Promise.all(ids.map((id) => store.get(id)));
    const missing = ids.find((_, i) => current[i] === null);
    if (missing !== undefined) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${missing}`);
    const pending = ids.filter((_, i) => !FINAL_STATES.has(current[i]!.state));
    if (pending.length > 0 && timeoutMs > 0 && !this.#live.signal.aborted) {
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), timeoutMs);
      const signal = AbortSignal.any([stop.signal, this.#live.signal]);
      try {
        await Promise.all(
          pending.map((id) => this.#target.executor.waitFor(id, signal).catch(() => null)),
        );
      } finally {
        clearTimeout(timer);
        stop.abort();
      }
    }
    const records = await Promise.all(ids.map((id) => store.get(id)));
    const jobs = records.map((r) => (r === null ? null : shownJob(r)));
    return { done: jobs.every((j) => j !== null && FINAL_STATES.has(j.state)), jobs };
  }
}

/** A job as the API shows it: its payload's `env` values masked unless `reveal`. */
function shownJob(record: JobRecord, reveal = false): JobSnapshot {
  const job = toJobSnapshot(record);
  return reveal ? job : maskJob(job);
}

/** Whether the query asks for secrets in full (`?reveal=1` or `?reveal=true`). */
function revealAsked(url: URL): boolean {
  const value = url.searchParams.get("reveal");
  if (value === null || value === "0" || value === "false") return false;
  if (value === "" || value === "1" || value === "true") return true;
  throw new LiminalError("INVALID_ARGUMENT", `invalid reveal "${value}"; use 1 or 0`);
}

function checkId(id: string, what: "job" | "message" = "job"): string {
  if (!isId(id)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `"${id}" is not a ${what} id (a UUID such as 01a2b3c4-…)`,
    );
  }
  return id.toLowerCase();
}

function parseLimit(value: string | null): number {
  if (value === null) return 50;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid limit "${value}": use a whole number from 1 to 10000`,
    );
  }
  return n;
}

/** Reads a JSON body of at most {@link MAX_BODY_BYTES}. */
async function readJson(request: Request, optional = false): Promise<JsonValue> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY_BYTES) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(Number(declared));
  }
  if (request.body === null) {
    if (optional) return {};
    throw new LiminalError("INVALID_JSON", "the request needs a JSON body");
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (error) {
      // The body ended before its Content-Length, or the client went away mid-body.
      throw new LiminalError(
        "INVALID_JSON",
        `cannot read the request body: ${errorMessage(error)}`,
      );
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge(size);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new LiminalError("INVALID_JSON", "the request body is not UTF-8 text");
  }
  if (text.trim() === "" && optional) return {};
  return parseJson(text, "the request body");
}

function tooLarge(size: number): LiminalError {
  return new LiminalError(
    "PAYLOAD_TOO_LARGE",
    `the request body is ${
      size > MAX_BODY_BYTES ? `over ${MAX_BODY_BYTES}` : size
    } bytes; the limit is ${MAX_BODY_BYTES} (a 1 MiB payload and its job spec)`,
  );
}

function asObject(body: JsonValue, what: string): Record<string, JsonValue> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new LiminalError("INVALID_ARGUMENT", `${what} must be a JSON object`);
  }
  return body;
}

/** `{ kind, payload, …, count? }` or `{ jobs: [ … ] }`. */
export function parseEnqueueBody(body: JsonValue): JobSpec[] {
  const object = asObject(body, "the request body");
  if ("jobs" in object) {
    const extra = Object.keys(object).filter((k) => k !== "jobs");
    if (extra.length > 0) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `with "jobs", no other field is taken (got ${extra.join(", ")})`,
      );
    }
    const jobs = object.jobs;
    if (!Array.isArray(jobs) || jobs.length === 0) {
      throw new LiminalError("INVALID_ARGUMENT", '"jobs" must be a non-empty array');
    }
    if (jobs.length > MAX_BATCH) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `"jobs" holds ${jobs.length} jobs; the limit is ${MAX_BATCH}`,
      );
    }
    return jobs.map((job, i) => parseJobSpec(job, `jobs[${i}]`));
  }
  const { count, ...rest } = object;
  let n = 1;
  if (count !== undefined) {
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `"count" must be a whole number from 1 to ${MAX_BATCH}, got ${JSON.stringify(count)}`,
      );
    }
    n = count;
  }
  const spec = parseJobSpec(rest, "job");
  return Array.from({ length: n }, () => spec);
}

function parseWaitBody(
  body: JsonValue,
): { ids: string[]; timeoutMs: number } | { batch: string; timeoutMs: number } {
  const object = asObject(body, "the request body");
  const timeoutMs = parseWaitTimeout(object.timeout);
  if (object.batch !== undefined) {
    if (object.ids !== undefined) {
      throw new LiminalError("INVALID_ARGUMENT", 'give "batch" or "ids", not both');
    }
    if (typeof object.batch !== "string" || !isId(object.batch)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        '"batch" must be the batch id an enqueue answered (POST /v1/jobs)',
      );
    }
    return { batch: object.batch.toLowerCase(), timeoutMs };
  }
  const ids = object.ids;
  if (
    !Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BATCH ||
    !ids.every((id) => typeof id === "string")
  ) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      '"ids" must be a non-empty array of job ids (or give "batch", the id an enqueue answered)',
    );
  }
  return { ids: [...new Set(ids.map((id) => checkId(id as string)))], timeoutMs };
}

function parseWaitTimeout(value: JsonValue | undefined): number {
  const timeout = value ?? "30s";
  if (typeof timeout !== "string" && typeof timeout !== "number") {
    throw new LiminalError("INVALID_DURATION", '"timeout" must be a duration such as "30s"');
  }
  return Math.min(parseDuration(timeout as Duration, "timeout"), MAX_WAIT_MS);
}

function parseShutdownBody(body: JsonValue): { grace?: number; force: boolean } {
  const object = asObject(body, "the request body");
  for (const key of Object.keys(object)) {
    if (key !== "grace" && key !== "force") {
      throw new LiminalError("INVALID_ARGUMENT", `unknown field "${key}" (fields: grace, force)`);
    }
  }
  const out: { grace?: number; force: boolean } = { force: object.force === true };
  if (object.force !== undefined && typeof object.force !== "boolean") {
    throw new LiminalError("INVALID_ARGUMENT", '"force" must be true or false');
  }
  if (object.grace !== undefined && object.grace !== null) {
    if (typeof object.grace !== "string" && typeof object.grace !== "number") {
      throw new LiminalError("INVALID_DURATION", '"grace" must be a duration such as "10s"');
    }
    out.grace = parseDuration(object.grace as Duration, "grace");
  }
  return out;
}

interface LeaseBody {
  resource: string;
  holder: string;
  ttl?: Duration;
  priority?: import("../shared/priority.ts").Priority;
  /** Milliseconds to wait in line. */
  wait?: number;
  /** An operator's lease that a higher priority may take over. */
  preemptible?: boolean;
}

function leaseBody(body: Record<string, JsonValue>, fields: string[]): LeaseBody {
  for (const key of Object.keys(body)) {
    if (!fields.includes(key)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `unknown field "${key}" (fields: ${fields.join(", ")})`,
      );
    }
  }
  const out: LeaseBody = {
    resource: parseResource(body.resource),
    holder: typeof body.holder === "string" && body.holder !== "" && body.holder.length <= 200
      ? body.holder
      : (() => {
        throw new LiminalError("INVALID_ARGUMENT", '"holder" must be a non-empty name');
      })(),
  };
  if (body.ttl !== undefined) {
    if (typeof body.ttl !== "string" && typeof body.ttl !== "number") {
      throw new LiminalError("INVALID_DURATION", '"ttl" must be a duration such as "15m"');
    }
    out.ttl = body.ttl;
  }
  if (body.priority !== undefined) out.priority = parsePriority(body.priority, "priority");
  if (body.preemptible !== undefined) {
    if (typeof body.preemptible !== "boolean") {
      throw new LiminalError("INVALID_ARGUMENT", '"preemptible" must be true or false');
    }
    out.preemptible = body.preemptible;
  }
  if (body.wait !== undefined && body.wait !== false) {
    const wait = body.wait === true ? "60s" : body.wait;
    if (typeof wait !== "string" && typeof wait !== "number") {
      throw new LiminalError("INVALID_DURATION", '"wait" must be true or a duration such as "30s"');
    }
    out.wait = Math.min(parseDuration(wait, "wait"), MAX_WAIT_MS);
  }
  return out;
}

function leaseView(lease: import("../store/types.ts").LeaseRecord) {
  return {
    resource: lease.resource,
    holder: lease.holder,
    priority: lease.priority,
    acquiredAt: new Date(lease.acquiredAt).toISOString(),
    expiresAt: new Date(lease.expiresAt).toISOString(),
    jobId: lease.jobId,
    preemptible: isPreemptible(lease),
  };
}
