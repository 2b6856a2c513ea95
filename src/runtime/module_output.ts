/**
 * Output of job modules: what `console.log`/`console.error` print in a `--jobs` module (its
 * top level, its handlers, its endpoints) goes to the log, never raw onto the terminal
 * (where the dashboard draws) or among JSON log lines. Inside a handler the line is also
 * added to the job's own log (`jobs show`); the runtime log gets it as a record of the
 * `liminal.output` category, a JSON line with `--log-format json`.
 *
 * Which job printed is known from an `AsyncLocalStorage`: the kinds and endpoints that
 * {@link loadJobModules} returns run their handlers inside it.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { format } from "node:util";
import { getLogger } from "@logtape/logtape";
import type { JobContext, JobKind } from "../executor/job_kind.ts";
import type { EndpointDefinition } from "../router/definition.ts";

const log = getLogger(["liminal", "output"]);

/** Who is printing. */
type Source =
  | { kind: "job"; ctx: JobContext<unknown> }
  | { kind: "endpoint"; name: string };

const current = new AsyncLocalStorage<Source>();

/** A job kind whose handler runs with its job known to the captured console. */
export function withJobOutput(kind: JobKind): JobKind {
  const handler = kind.handler as (ctx: JobContext<unknown>) => unknown;
  return Object.freeze({
    ...kind,
    handler: (ctx: JobContext<unknown>) => current.run({ kind: "job", ctx }, () => handler(ctx)),
  }) as JobKind;
}

/** An endpoint whose handler runs with its name known to the captured console. */
export function withEndpointOutput(endpoint: EndpointDefinition): EndpointDefinition {
  const handler = endpoint.handler as (...args: unknown[]) => unknown;
  return Object.freeze({
    ...endpoint,
    handler: (...args: unknown[]) =>
      current.run({ kind: "endpoint", name: endpoint.name }, () => handler(...args)),
  }) as EndpointDefinition;
}

const METHODS = ["log", "info", "debug", "warn", "error"] as const;
type Method = typeof METHODS[number];

let installed: (() => void) | null = null;

/** Whether the console is being captured. */
export function consoleCaptured(): boolean {
  return installed !== null;
}

/**
 * Sends `console.log/info/debug/warn/error` to the log (and, inside a handler, to its job's
 * log) until the returned function is called. Installing it twice keeps the first.
 */
export function captureConsole(): () => void {
  if (installed !== null) return installed;
  const saved = new Map<Method, (...args: unknown[]) => void>();
  for (const method of METHODS) {
    saved.set(method, console[method]);
    console[method] = (...args: unknown[]) => write(method, args);
  }
  const restore = () => {
    if (installed !== restore) return;
    for (const [method, fn] of saved) console[method] = fn;
    installed = null;
  };
  installed = restore;
  return restore;
}

let writing = false;

function write(method: Method, args: unknown[]): void {
  // A sink that prints through the console must not loop back here.
  if (writing) return;
  writing = true;
  try {
    const output = format(...args);
    const stream = method === "warn" || method === "error" ? "stderr" : "stdout";
    const level = stream === "stderr" ? "warn" : method === "debug" ? "debug" : "info";
    const source = current.getStore();
    if (source?.kind === "job") {
      const { id, kind } = source.ctx.job;
      for (const line of output.split("\n")) source.ctx.log(line);
      log[level]("job {id} {kind} printed: {output}", {
        event: "job.output",
        id,
        kind,
        stream,
        output,
      });
    } else if (source?.kind === "endpoint") {
      log[level]("endpoint {endpoint} printed: {output}", {
        event: "endpoint.output",
        endpoint: source.name,
        stream,
        output,
      });
    } else {
      log[level]("a job module printed: {output}", { event: "module.output", stream, output });
    }
  } finally {
    writing = false;
  }
}
