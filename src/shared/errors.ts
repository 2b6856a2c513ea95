/**
 * The one error class of liminal. Callers branch on its stable {@link ErrorCode};
 * the CLI maps the code to an exit status and the control plane to an HTTP status.
 *
 * @module
 */

/**
 * Every code a {@link LiminalError} can carry, with the exit status and HTTP status it maps to.
 * Every conflict (HTTP 409) exits 4, every unreachable runtime or store exits 3.
 */
export const ERROR_CODES = {
  /** Bad command-line usage: unknown option, missing argument. */
  USAGE: { exit: 2, status: 400 },
  /** An option or field holds a value that is not accepted. */
  INVALID_ARGUMENT: { exit: 2, status: 400 },
  INVALID_DURATION: { exit: 2, status: 400 },
  INVALID_PRIORITY: { exit: 2, status: 400 },
  INVALID_JSON: { exit: 2, status: 400 },
  INVALID_PAYLOAD: { exit: 2, status: 400 },
  INVALID_PLAN: { exit: 2, status: 400 },
  INVALID_JOB_MODULE: { exit: 2, status: 400 },
  PAYLOAD_TOO_LARGE: { exit: 2, status: 413 },
  UNKNOWN_JOB_KIND: { exit: 2, status: 400 },
  DUPLICATE_JOB_KIND: { exit: 2, status: 400 },
  JOB_NOT_FOUND: { exit: 2, status: 404 },
  /** A short id (a tail, or `01a24785…83f1`) that fits several jobs: the message lists them. */
  AMBIGUOUS_ID: { exit: 2, status: 400 },
  /** The job is not in a state that allows the call (cancel a finished job, retry a queued one). */
  INVALID_JOB_STATE: { exit: 4, status: 409 },
  /** No node (runtime sharing the store) with that id. */
  NODE_NOT_FOUND: { exit: 2, status: 404 },
  NOT_FOUND: { exit: 2, status: 404 },
  METHOD_NOT_ALLOWED: { exit: 2, status: 405 },
  /** Another runtime already runs in this process. */
  RUNTIME_ALREADY_RUNNING: { exit: 4, status: 409 },
  /** Another runtime owns the control socket or the store. */
  CONFLICT: { exit: 4, status: 409 },
  /** A router mailbox is full and its policy rejects. */
  MAILBOX_FULL: { exit: 1, status: 429 },
  /** No router endpoint or topic subscriber by that name. */
  ENDPOINT_NOT_FOUND: { exit: 2, status: 404 },
  /** A router endpoint with that name is already registered. */
  ENDPOINT_EXISTS: { exit: 4, status: 409 },
  /** No such message (dead letter) in the router. */
  MESSAGE_NOT_FOUND: { exit: 2, status: 404 },
  /** The router is closed or closing. */
  ROUTER_CLOSED: { exit: 3, status: 503 },
  /** A territory lease is held by someone else (and cannot be preempted now). */
  LEASE_HELD: { exit: 4, status: 409 },
  /** Releasing or renewing a lease someone else holds (or a job's lease, by its name). */
  LEASE_HELD_BY_OTHER: { exit: 4, status: 409 },
  /** Releasing or renewing a lease one does not hold. */
  LEASE_NOT_HELD: { exit: 4, status: 409 },
  /** No schedule by that name. */
  SCHEDULE_NOT_FOUND: { exit: 2, status: 404 },
  /** A schedule by that name already exists. */
  SCHEDULE_EXISTS: { exit: 4, status: 409 },
  RUNTIME_UNREACHABLE: { exit: 3, status: 503 },
  RUNTIME_SHUTTING_DOWN: { exit: 3, status: 503 },
  RUNTIME_NOT_RUNNING: { exit: 3, status: 503 },
  /** A job attempt ran past its timeout. */
  JOB_TIMEOUT: { exit: 1, status: 500 },
  /** A job was cancelled while it ran. */
  JOB_CANCELLED: { exit: 1, status: 500 },
  /** A job was stopped by a shutdown and queued again. */
  JOB_INTERRUPTED: { exit: 1, status: 500 },
  /** A job handler failed. */
  JOB_FAILED: { exit: 1, status: 500 },
  STORE_ERROR: { exit: 1, status: 500 },
  /** The disk (or the database's size limit) is full: the change was not made. */
  STORE_FULL: { exit: 1, status: 507 },
  /**
   * The store's server cannot be reached (refused, unknown host, timed out, not accepting
   * connections): the same code and exit status from every command.
   */
  STORE_UNREACHABLE: { exit: 3, status: 503 },
  /** The store cannot be opened or written: permissions, read-only, a newer schema. */
  STORE_UNAVAILABLE: { exit: 2, status: 503 },
  /** The file is not a liminal database (or not SQLite at all); it was left untouched. */
  STORE_CORRUPT: { exit: 2, status: 500 },
  INTERRUPTED: { exit: 130, status: 500 },
  INTERNAL: { exit: 1, status: 500 },
} as const satisfies Record<string, { exit: number; status: number }>;

/** A stable, machine-readable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options of a {@link LiminalError}. */
export interface LiminalErrorOptions {
  /** What caused it, kept for `LIMINAL_DEBUG=1`. */
  cause?: unknown;
  /** One line that tells the user what to do next. */
  hint?: string;
}

/**
 * An error with a stable {@link ErrorCode}. The message is one sentence meant for a user;
 * the optional hint is what to do about it.
 *
 * @example
 * ```ts
 * throw new LiminalError("UNKNOWN_JOB_KIND", 'unknown job kind "clenaup"; known: command, fail, sleep');
 * ```
 */
export class LiminalError extends Error {
  /** Always `"LiminalError"`. */
  override name = "LiminalError";
  /** The stable code a caller branches on. */
  readonly code: ErrorCode;
  /** What to do about it, for people; `undefined`: nothing to add. */
  readonly hint: string | undefined;

  /** An error with `code`; `options.cause` keeps the underlying error. */
  constructor(code: ErrorCode, message: string, options: LiminalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** The process exit status this error maps to. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exit;
  }

  /** The HTTP status this error maps to on the control plane. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** The JSON form used on the wire: `{ code, message, hint? }`. */
  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

/** Whether `value` is a {@link LiminalError}, optionally with the given code. */
export function isLiminalError(value: unknown, code?: ErrorCode): value is LiminalError {
  return value instanceof LiminalError && (code === undefined || value.code === code);
}

/** Whether `code` is one of the known {@link ErrorCode}s. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}

/** The message of any thrown value, for logs and job attempt records. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
