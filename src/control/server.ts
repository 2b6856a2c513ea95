/**
 * The control server: HTTP/1.1 with JSON bodies over the runtime's Unix socket, the way the
 * Docker engine exposes its API. Routes are versioned under `/v1`; `/metrics` is Prometheus
 * text; `/v1/events` is a server-sent-events stream.
 *
 * This file is the HTTP face: the socket (claim, listen, listen again after an accept
 * failure, close), the dispatch of a request to its route, and the errors. The routes live
 * one file per resource under `routes/`, their bodies are checked in `_bodies.ts`, and what
 * they drive is a {@link ControlTarget} the runtime hands the server.
 *
 * Every error is `{ "error": { "code", "message" } }` with a fitting status: 400 bad input
 * (malformed JSON with its position), 404 unknown route or job, 405 wrong method, 413 body
 * too large, 503 while the runtime shuts down (for calls that change something).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { isLiminalError, LiminalError } from "../shared/errors.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { errorResponse, json } from "./_http.ts";
import { BatchWatches } from "./batches.ts";
import { EventHub } from "./events.ts";
import type { AddRoute, Handler, RouteContext } from "./routes/context.ts";
import { eventRoutes } from "./routes/events.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { leaseRoutes } from "./routes/leases.ts";
import { routerRoutes } from "./routes/router.ts";
import { runtimeRoutes } from "./routes/runtime.ts";
import { scheduleRoutes } from "./routes/schedules.ts";
import { claimSocketPath } from "./socket.ts";
import type { ControlTarget } from "./target.ts";

export { errorResponse, MAX_BODY_BYTES } from "./_http.ts";
export type { ControlTarget } from "./target.ts";

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

/** Options of a {@link ControlServer}. */
export interface ControlServerOptions {
  /** The socket path. */
  path: string;
}

interface Route {
  method: string;
  /** As written, such as `/v1/jobs/:id` (for `GET /`). */
  path: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
  /** Refused with 503 once the runtime is shutting down. */
  mutating: boolean;
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
    this.#batches = new BatchWatches(target.jobs, target.jobs, this.#live.signal);
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
    this.#hub = new EventHub(this.#target.jobs, this.#target, this.#target.router);
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

  #defineRoutes(): void {
    const route: AddRoute = (method, path, handler, mutating = method !== "GET") => {
      const keys: string[] = [];
      const pattern = new RegExp(
        "^" + path.replace(/:([a-z]+)/g, (_, key: string) => {
          keys.push(key);
          return "([^/]+)";
        }) + "$",
      );
      this.#routes.push({ method, path, pattern, keys, handler, mutating });
    };
    const context: RouteContext = {
      target: this.#target,
      live: this.#live.signal,
      streams: this.#streams.signal,
      batches: this.#batches,
      hub: () => this.#hub,
      snapshot: () => this.#snapshot(),
      routes: () => this.#routes.map((r) => `${r.method} ${r.path}`),
    };
    runtimeRoutes(route, context);
    jobRoutes(route, context);
    routerRoutes(route, context);
    scheduleRoutes(route, context);
    leaseRoutes(route, context);
    eventRoutes(route, context);
  }

  async #snapshot(): Promise<RuntimeSnapshot> {
    const snapshot = await this.#target.snapshot();
    snapshot.socket = this.#path;
    return snapshot;
  }
}
