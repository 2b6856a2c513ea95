/**
 * Job kinds: a named handler with defaults, made with {@link defineJob}, and the registry
 * the executor looks kinds up in.
 *
 * @module
 */
import { type Duration, parseDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { JsonValue } from "../shared/json.ts";
import { parsePriority, type Priority } from "../shared/priority.ts";
import type { BackoffPolicy } from "../shared/job.ts";
import { closest } from "../shared/closest.ts";

/** What a handler gets for one attempt of one job. */
export interface JobContext<P = JsonValue> {
  /** The job being run. */
  readonly job: RunningJobInfo;
  /** The payload, as the kind's `validate` returned it. */
  readonly payload: P;
  /**
   * Aborted when the job times out (reason: a `JOB_TIMEOUT` error), is cancelled
   * (`JOB_CANCELLED`) or the runtime shuts down (`JOB_INTERRUPTED`). Stop soon after.
   */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Reports progress; also counts as a heartbeat. */
  progress(done: number, total?: number): void;
  /** Adds a line to the job's log (the last 100 are kept); also counts as a heartbeat. */
  log(message: string): void;
  /**
   * Tells the executor the handler is alive, so its worker is not shown as stuck. Call it
   * more often than the kind's `stuckAfter` (30 s by default) in long, quiet work.
   */
  heartbeat(): void;
  /**
   * Counts the handler alive for as long as `work` is pending, and returns it: for work that
   * shows life by its nature without reporting it (a timer, a child process being waited
   * for). While it is pending the worker is never stuck; its silence counts from when it
   * settles. Do not wrap something that can hang for ever: that is what stuck detection is
   * for.
   *
   * @example
   * ```ts
   * await ctx.aliveWhile(delay(60_000, { signal: ctx.signal }));
   * ```
   */
  aliveWhile<T>(work: PromiseLike<T>): Promise<T>;
  /**
   * Sends a message through the runtime's router, from `job:<kind>`. Unknown recipient:
   * `ENDPOINT_NOT_FOUND` (unless `optional`). Without a router: `ROUTER_CLOSED`.
   */
  send(
    to: string,
    type: string,
    payload?: JsonValue,
    options?: JobSendOptions,
  ): Promise<{ id: string | null }>;
}

/** Options of {@link JobContext.send}. */
export interface JobSendOptions {
  /**
   * The sent job's priority.
   *
   * @default "coordinate"
   */
  priority?: Priority;
  /** Time to live. */
  ttl?: Duration;
  /** Require an acknowledgement. */
  ack?: boolean;
  /** Resolve with no message when nobody would receive it. */
  optional?: boolean;
}

/** How the executor hands `ctx.send` to a router. */
export type Messenger = (
  from: string,
  to: string,
  type: string,
  payload: JsonValue | undefined,
  options: JobSendOptions,
) => Promise<{ id: string | null }>;

/** What a handler knows of its job. */
export interface RunningJobInfo {
  /** The job's id. */
  readonly id: string;
  /** The job's kind name. */
  readonly kind: string;
  /** The job's priority. */
  readonly priority: Priority;
  /** This attempt's number: 1 for the first. */
  readonly attempt: number;
  /** How many attempts may fail before the job is dead. */
  readonly maxAttempts: number;
  /** When the job was created (epoch ms). */
  readonly createdAt: number;
  /** The worker running it. */
  readonly worker: string;
}

/** Defaults a kind gives its jobs; a job spec may override each. */
export interface JobKindDefaults {
  /**
   * The default priority of jobs of this kind.
   *
   * @default "coordinate"
   */
  priority?: Priority;
  /** Time an attempt may take before its signal is aborted; `null` for none. @default null */
  timeout?: Duration | null;
  /** Attempts that may fail before the job is dead. @default 3 */
  attempts?: number;
  /** Backoff between attempts: exponential with full jitter. @default { base: "1s", max: "5m" } */
  backoff?: { base?: Duration; max?: Duration };
  /** How many jobs of this kind may run at once; `null` for no limit. @default null */
  concurrency?: number | null;
  /**
   * Time a handler of this kind has to settle after its signal aborts before its worker is
   * freed. @default the executor's `killAfter`
   */
  killAfter?: Duration;
}

/** Options of {@link defineJob}. */
export interface JobKindOptions<P, R> {
  /** The kind's name: letters, digits, `.`, `_`, `:`, `-`. */
  kind: string;
  /** One line for `--help` and prompts. */
  description?: string;
  /** Defaults for jobs of this kind, which a spec may override. */
  defaults?: JobKindDefaults;
  /**
   * How long a running job of this kind may show no sign of life (start, `heartbeat()`,
   * `progress()`, `log()`, `send()`, or pending `aliveWhile()` work) before its worker is
   * reported stuck. `null`: never stuck (for work that cannot report life and must not be
   * flagged; a timeout still bounds it). @default the runtime's `stuckAfter` (`--stuck-after`, 30 s)
   */
  stuckAfter?: Duration | null;
  /**
   * Checks a payload when a job is enqueued (and again before it runs) and returns it typed.
   * Throw to refuse it; the message is shown to the user.
   */
  validate?: (payload: JsonValue) => P;
  /** Runs one attempt. Its result (JSON) is kept; a throw fails the attempt. */
  handler: (ctx: JobContext<P>) => R | Promise<R>;
  /**
   * The `killAfter` (ms) of one job, from its payload (a kill grace it asks for); `undefined`
   * for the kind's default.
   */
  killAfterOf?: (payload: P) => number | undefined;
  /**
   * Called once when the executor stops, after the last attempt was given up on: release
   * what abandoned handlers still hold (child processes, connections).
   */
  dispose?: () => void | Promise<void>;
}

/** The resolved defaults of a kind. */
export interface ResolvedKindDefaults {
  /** Priority of a spec that names none. */
  priority: Priority;
  /** Timeout of an attempt in ms; `null`: none. */
  timeoutMs: number | null;
  /** How many attempts may fail before the job is dead. */
  maxAttempts: number;
  /** The delay before each retry. */
  backoff: BackoffPolicy;
  /** Jobs of this kind allowed to run at once; `null`: no limit. */
  concurrency: number | null;
  /** `null`: the executor's `killAfter`. */
  killAfterMs: number | null;
}

const JOB_KIND = Symbol.for("liminal.jobKind");

/** A job kind made by {@link defineJob}. */
export interface JobKind<P = unknown, R = unknown> {
  /** @internal The brand that tells this kind of definition apart. */
  readonly [JOB_KIND]: true;
  /** The kind's name, as specs write it. */
  readonly kind: string;
  /** One line for people (`liminal jobs kinds`). */
  readonly description: string;
  /** The kind's defaults, with every default applied. */
  readonly defaults: ResolvedKindDefaults;
  /**
   * See {@link JobKindOptions.stuckAfter}: milliseconds, `null` for never, `undefined` for
   * the executor's default.
   */
  readonly stuckAfterMs: number | null | undefined;
  /** Validates a payload, throwing an `INVALID_PAYLOAD` error that names the kind. */
  parsePayload(payload: JsonValue): P;
  /** Runs one attempt; a throw fails it, a {@link PermanentJobError} fails the job for good. */
  readonly handler: (ctx: JobContext<P>) => R | Promise<R>;
  /** See {@link JobKindOptions.killAfterOf}. */
  readonly killAfterOf: ((payload: P) => number | undefined) | undefined;
  /** See {@link JobKindOptions.dispose}. */
  readonly dispose: (() => void | Promise<void>) | undefined;
}

/**
 * A job kind of any payload and result: what lists of kinds hold. (`JobKind` alone is
 * `JobKind<unknown, unknown>`, which a kind with a typed payload is not, since its handler
 * takes that payload only.)
 */
// deno-lint-ignore no-explicit-any
export type AnyJobKind = JobKind<any, any>;

/**
 * Throw this from a handler to fail the job for good: the attempt fails and the job is `dead`
 * at once, with no retry (and `jobs.dead` is published).
 *
 * @example
 * ```ts
 * if (!exists) throw new PermanentJobError(`no such file ${path}`);
 * ```
 */
export class PermanentJobError extends Error {
  /** Always `"PermanentJobError"`. */
  override name = "PermanentJobError";
}

const KIND_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** Default backoff: the first retry within 1 s, at most 5 min. */
export const DEFAULT_BACKOFF: Readonly<BackoffPolicy> = { baseMs: 1_000, maxMs: 300_000 };

/** Checks and resolves a backoff given by a user. */
export function resolveBackoff(
  backoff: { base?: Duration; max?: Duration } | undefined,
  fallback: BackoffPolicy,
  what: string,
): BackoffPolicy {
  if (backoff === undefined) return fallback;
  const baseMs = backoff.base === undefined
    ? fallback.baseMs
    : parseDuration(backoff.base, `${what} backoff base`);
  const maxMs = backoff.max === undefined
    ? Math.max(fallback.maxMs, baseMs)
    : parseDuration(backoff.max, `${what} backoff max`);
  if (maxMs < baseMs) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `${what} backoff max (${maxMs}ms) is below its base (${baseMs}ms)`,
    );
  }
  return { baseMs, maxMs };
}

/** Checks an attempts count given by a user. */
export function resolveAttempts(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 1000) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `${what} attempts must be a whole number from 1 to 1000, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks a timeout given by a user (`null` for none). */
export function resolveTimeout(value: Duration | null, what: string): number | null {
  if (value === null) return null;
  const ms = parseDuration(value, `${what} timeout`);
  if (ms <= 0) {
    throw new LiminalError(
      "INVALID_DURATION",
      `${what} timeout must be longer than 0, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/**
 * Defines a job kind.
 *
 * @example
 * ```ts
 * export const cleanup = defineJob({
 *   kind: "cleanup",
 *   defaults: { priority: "info", timeout: "5m", attempts: 5 },
 *   validate: (p) => {
 *     if (typeof p !== "object" || p === null || Array.isArray(p) || typeof p.dir !== "string") {
 *       throw new Error("payload needs a string field dir");
 *     }
 *     return { dir: p.dir };
 *   },
 *   handler: async ({ payload, signal, progress }) => {
 *     // … remove old files under payload.dir, checking signal.aborted …
 *     progress(1, 1);
 *     return { removed: 0 };
 *   },
 * });
 * ```
 */
export function defineJob<P = JsonValue, R = unknown>(
  options: JobKindOptions<P, R>,
): JobKind<P, R> {
  if (typeof options !== "object" || options === null) {
    throw new LiminalError("INVALID_ARGUMENT", "defineJob needs an object with kind and handler");
  }
  const { kind, handler, validate } = options;
  if (typeof kind !== "string" || !KIND_NAME.test(kind)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid job kind name ${
        JSON.stringify(kind)
      }: use letters, digits, ".", "_", ":" or "-" (at most 100)`,
    );
  }
  if (typeof handler !== "function") {
    throw new LiminalError("INVALID_ARGUMENT", `job kind "${kind}" needs a handler function`);
  }
  const d = options.defaults ?? {};
  const concurrency = d.concurrency ?? null;
  if (concurrency !== null && (!Number.isInteger(concurrency) || concurrency < 1)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `job kind "${kind}": concurrency must be a whole number of at least 1, got ${concurrency}`,
    );
  }
  const stuckAfterMs = options.stuckAfter === undefined || options.stuckAfter === null
    ? options.stuckAfter
    : parseDuration(options.stuckAfter, `"${kind}" stuckAfter`);
  if (stuckAfterMs !== undefined && stuckAfterMs !== null && stuckAfterMs <= 0) {
    throw new LiminalError(
      "INVALID_DURATION",
      `job kind "${kind}": stuckAfter must be longer than 0 (or null for never), got ${
        JSON.stringify(options.stuckAfter)
      }`,
    );
  }
  const defaults: ResolvedKindDefaults = {
    priority: d.priority === undefined
      ? "coordinate"
      : parsePriority(d.priority, `default priority of "${kind}"`),
    timeoutMs: resolveTimeout(d.timeout ?? null, `"${kind}"`),
    maxAttempts: d.attempts === undefined ? 3 : resolveAttempts(d.attempts, `"${kind}"`),
    backoff: resolveBackoff(d.backoff, DEFAULT_BACKOFF, `"${kind}"`),
    concurrency,
    killAfterMs: d.killAfter === undefined
      ? null
      : parseDuration(d.killAfter, `"${kind}" kill-after`),
  };
  return Object.freeze({
    [JOB_KIND]: true as const,
    kind,
    description: options.description ?? "",
    defaults,
    stuckAfterMs,
    parsePayload(payload: JsonValue): P {
      if (validate === undefined) return payload as P;
      try {
        return validate(payload);
      } catch (error) {
        throw new LiminalError(
          "INVALID_PAYLOAD",
          `invalid payload for "${kind}": ${errorMessage(error)}`,
          { cause: error },
        );
      }
    },
    handler,
    killAfterOf: options.killAfterOf,
    dispose: options.dispose,
  });
}

/** Whether `value` is a job kind made by {@link defineJob} (from any copy of liminal). */
export function isJobKind(value: unknown): value is JobKind {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[JOB_KIND] === true;
}

/** The job kinds an executor knows, by name. */
export class JobKindRegistry {
  #kinds = new Map<string, JobKind>();

  /** A registry holding `kinds`; a duplicate name is refused. */
  constructor(kinds: Iterable<AnyJobKind> = []) {
    for (const kind of kinds) this.register(kind);
  }

  /** Adds a kind. A second kind with the same name: `DUPLICATE_JOB_KIND`. */
  register(kind: AnyJobKind): void {
    if (!isJobKind(kind)) {
      throw new LiminalError("INVALID_ARGUMENT", "not a job kind: make one with defineJob()");
    }
    if (this.#kinds.has(kind.kind)) {
      throw new LiminalError("DUPLICATE_JOB_KIND", `job kind "${kind.kind}" is defined twice`);
    }
    this.#kinds.set(kind.kind, kind);
  }

  /** The kind named `name`, if registered. */
  get(name: string): JobKind | undefined {
    return this.#kinds.get(name);
  }

  /** Whether a kind named `name` is registered. */
  has(name: string): boolean {
    return this.#kinds.has(name);
  }

  /** The kind called `name`, or `UNKNOWN_JOB_KIND` listing the known ones. */
  require(name: string): JobKind {
    const kind = this.#kinds.get(name);
    if (kind !== undefined) return kind;
    const known = this.names();
    const near = closest(name, known);
    throw new LiminalError(
      "UNKNOWN_JOB_KIND",
      `unknown job kind ${JSON.stringify(name)}; known: ${known.join(", ") || "(none)"}`,
      near === undefined ? {} : { hint: `did you mean "${near}"?` },
    );
  }

  /** Known kind names, sorted. */
  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** Every registered kind, in registration order. */
  [Symbol.iterator](): IterableIterator<JobKind> {
    return this.#kinds.values();
  }
}

/** The candidate nearest to `input` by edit distance, if it is near enough to be a typo. */
export { closest } from "../shared/closest.ts";
