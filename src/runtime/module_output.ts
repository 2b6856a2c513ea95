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
import { format, inspect } from "node:util";
import { getLogger } from "@logtape/logtape";
import type { JobContext, JobKind } from "../executor/job_kind.ts";
import type { EndpointDefinition } from "../router/definition.ts";

const log = getLogger(["liminal", "output"]);
/** What handlers print: also in their job's own log, so a quiet `run` leaves it there. */
const jobLog = getLogger(["liminal", "output", "job"]);

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
 * Sends what the console prints (`log`, `info`, `debug`, `warn`, `error`, and `dir`, `table`,
 * `trace`, `assert`, `count`, `group`, `time*`) to the log (and, inside a handler, to its job's
 * log) until the returned function is called. Installing it twice keeps the first.
 */
export function captureConsole(): () => void {
  if (installed !== null) return installed;
  const saved = new Map<keyof Console, unknown>();
  const replace = (method: keyof Console, fn: (...args: unknown[]) => void) => {
    saved.set(method, console[method]);
    (console as unknown as Record<string, unknown>)[method] = fn;
  };
  for (const method of METHODS) replace(method, (...args) => write(method, args));
  // The other printing methods of the console write on their own (not through console.log):
  // each is turned into a line the same way, so none reaches the terminal raw.
  const counts = new Map<string, number>();
  const timers = new Map<string, number>();
  const label = (value: unknown) => (value === undefined ? "default" : String(value));
  replace("dir", (value) => write("log", [inspect(value)]));
  replace("dirxml", (...args) => write("log", args));
  replace("table", (data) => write("log", [inspect(data)]));
  replace("trace", (...args) => {
    const stack = new Error().stack?.split("\n").slice(2).join("\n") ?? "";
    write("error", [`Trace${args.length > 0 ? `: ${format(...args)}` : ""}\n${stack}`]);
  });
  replace("assert", (condition, ...args) => {
    if (!condition) {
      write("error", ["Assertion failed" + (args.length ? `: ${format(...args)}` : "")]);
    }
  });
  replace("count", (name) => {
    const n = (counts.get(label(name)) ?? 0) + 1;
    counts.set(label(name), n);
    write("info", [`${label(name)}: ${n}`]);
  });
  replace("countReset", (name) => void counts.delete(label(name)));
  replace("group", (...args) => args.length > 0 && write("log", args));
  replace("groupCollapsed", (...args) => args.length > 0 && write("log", args));
  replace("groupEnd", () => {});
  replace("time", (name) => void timers.set(label(name), performance.now()));
  replace("timeLog", (name, ...args) => {
    const since = timers.get(label(name));
    if (since === undefined) return;
    write("info", [`${label(name)}: ${(performance.now() - since).toFixed(3)}ms`, ...args]);
  });
  replace("timeEnd", (name) => {
    const since = timers.get(label(name));
    if (since === undefined) return;
    timers.delete(label(name));
    write("info", [`${label(name)}: ${(performance.now() - since).toFixed(3)}ms`]);
  });
  const restore = () => {
    if (installed !== restore) return;
    for (const [method, fn] of saved) {
      (console as unknown as Record<string, unknown>)[method] = fn;
    }
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
      jobLog[level]("job {id} {kind} printed: {output}", {
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
