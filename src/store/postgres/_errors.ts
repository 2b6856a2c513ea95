/**
 * PostgreSQL's errors in liminal's terms. Messages name what failed (the server, the
 * database, the user, the schema) and never the password: a connection URL a message quotes
 * has its password replaced by `***`, and nothing else is touched.
 *
 * - Opening: a server that cannot be reached (refused, no socket, unknown host, timed out, not
 *   accepting connections) is `STORE_UNREACHABLE` (exit 3, as from every command); every other
 *   failure is `STORE_UNAVAILABLE` (exit 2), except a schema that belongs to another
 *   application (`STORE_CORRUPT`) and a node id in use (`CONFLICT`).
 * - Writing: a full disk is `STORE_FULL`; everything else `STORE_ERROR`, which the executor
 *   retries (settle batches with backoff). A lost connection is `STORE_UNREACHABLE`, retried
 *   the same way: the `postgres` package reconnects on the next query.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import { redactUrl } from "./_url.ts";

/** SQLSTATE classes and codes we branch on. */
const SQLSTATE = {
  INVALID_AUTHORIZATION: "28000",
  INVALID_PASSWORD: "28P01",
  INVALID_CATALOG: "3D000",
  INSUFFICIENT_PRIVILEGE: "42501",
  DISK_FULL: "53100",
  OUT_OF_MEMORY: "53200",
  TOO_MANY_CONNECTIONS: "53300",
  ADMIN_SHUTDOWN: "57P01",
  CRASH_SHUTDOWN: "57P02",
  CANNOT_CONNECT_NOW: "57P03",
  READ_ONLY_TRANSACTION: "25006",
  UNIQUE_VIOLATION: "23505",
  SERIALIZATION_FAILURE: "40001",
  DEADLOCK_DETECTED: "40P01",
  PROGRAM_LIMIT: "54000",
} as const;

/** The SQLSTATE of a server error, or `null` for a client-side one. */
export function sqlState(error: unknown): string | null {
  const e = error as { name?: unknown; code?: unknown } | null;
  if (e?.name === "PostgresError" && typeof e.code === "string") return e.code;
  return null;
}

/** A client-side connection failure (refused, no socket, timed out, closed, DNS). */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  if (sqlState(error) !== null) return code.startsWith("08") || code.startsWith("57P");
  return /^(ECONNREFUSED|ECONNRESET|ENOENT|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE|EACCES|CONNECT_TIMEOUT|CONNECTION_CLOSED|CONNECTION_DESTROYED|CONNECTION_ENDED)$/
    .test(code);
}

/** Whether `error` is a unique-key violation. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === SQLSTATE.UNIQUE_VIOLATION;
}

/** What the store connects to, for messages. */
export interface ErrorContext {
  /** `host:port` or the socket path. */
  server: string;
  database: string;
  user: string;
  schema: string;
}

/** Maps an error met while opening (connecting, migrating, registering). */
export function openError(error: unknown, ctx: ErrorContext): LiminalError {
  if (error instanceof LiminalError) return error;
  const message = scrub(errorMessage(error));
  const code = (error as { code?: unknown } | null)?.code;
  const state = sqlState(error);
  const where = `PostgreSQL at ${ctx.server}`;
  const make = (text: string, hint?: string, unreachable = false) =>
    new LiminalError(unreachable ? "STORE_UNREACHABLE" : "STORE_UNAVAILABLE", scrub(text), {
      cause: error,
      ...(hint === undefined ? {} : { hint }),
    });
  const unreachable = (text: string, hint?: string) => make(text, hint, true);
  if (state === null) {
    switch (code) {
      case "ECONNREFUSED":
        return unreachable(
          `cannot reach ${where}: connection refused`,
          "check that the server runs and listens there (host, port), or fix --store",
        );
      case "ENOENT":
        return unreachable(
          `cannot reach ${where}: no such socket`,
          "check that the server runs and that host= names its socket directory",
        );
      case "EACCES":
        return make(`cannot reach ${where}: permission denied on the socket`);
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return unreachable(`cannot reach ${where}: unknown host`, "check the host name in --store");
      case "CONNECT_TIMEOUT":
      case "ETIMEDOUT":
        return unreachable(`cannot reach ${where}: the connection timed out`);
      default:
        return isConnectionError(error)
          ? unreachable(`cannot reach ${where}: ${message}`)
          : make(`cannot reach ${where}: ${message}`);
    }
  }
  switch (state) {
    case SQLSTATE.INVALID_PASSWORD:
      return make(
        `authentication failed for user "${ctx.user}" at ${where}`,
        "check the user and password in --store (or PGPASSWORD)",
      );
    case SQLSTATE.INVALID_AUTHORIZATION:
      return make(
        `user "${ctx.user}" may not connect to database "${ctx.database}" at ${where}: ${message}`,
        "check pg_hba.conf and that the role exists",
      );
    case SQLSTATE.INVALID_CATALOG:
      return make(
        `database "${ctx.database}" does not exist at ${where}`,
        `create it (createdb ${ctx.database}) or name another in --store`,
      );
    case SQLSTATE.INSUFFICIENT_PRIVILEGE:
      return make(
        `user "${ctx.user}" lacks a permission on database "${ctx.database}" (schema "${ctx.schema}"): ${message}`,
        `grant it, e.g. GRANT CREATE ON DATABASE ${ctx.database} TO ${ctx.user}, or create the schema "${ctx.schema}" owned by that user`,
      );
    case SQLSTATE.TOO_MANY_CONNECTIONS:
      return make(
        `${where} refuses more connections: ${message}`,
        "lower maxConnections, or raise max_connections on the server",
      );
    case SQLSTATE.CANNOT_CONNECT_NOW:
    case SQLSTATE.ADMIN_SHUTDOWN:
    case SQLSTATE.CRASH_SHUTDOWN:
      return unreachable(`${where} is not accepting connections: ${message}`);
    case SQLSTATE.READ_ONLY_TRANSACTION:
      return make(
        `${where} is read-only (a standby?): ${message}`,
        "point --store at the primary",
      );
    case SQLSTATE.DISK_FULL:
      return new LiminalError("STORE_FULL", `the disk of ${where} is full: ${message}`, {
        cause: error,
      });
    default:
      return make(`cannot open the store in ${where}, database "${ctx.database}": ${message}`);
  }
}

/**
 * Maps an error met by a verb: a full disk is `STORE_FULL`, a read-only server
 * `STORE_UNAVAILABLE`, a lost connection `STORE_UNREACHABLE`, the rest `STORE_ERROR` (nothing
 * was changed; the caller may retry).
 */
export function writeError(error: unknown, what: string, ctx: ErrorContext): LiminalError {
  if (error instanceof LiminalError) return error;
  const message = scrub(errorMessage(error));
  const state = sqlState(error);
  if (state === SQLSTATE.DISK_FULL || state === SQLSTATE.PROGRAM_LIMIT) {
    return new LiminalError(
      "STORE_FULL",
      `${what} failed: the database is full (${message}); nothing was changed`,
      { cause: error },
    );
  }
  if (state === SQLSTATE.READ_ONLY_TRANSACTION || state === SQLSTATE.INSUFFICIENT_PRIVILEGE) {
    return new LiminalError("STORE_UNAVAILABLE", `${what} failed: ${message}`, { cause: error });
  }
  if (isConnectionError(error)) {
    return new LiminalError(
      "STORE_UNREACHABLE",
      `${what} failed: the connection to PostgreSQL at ${ctx.server} was lost (${message}); it is retried on the next call`,
      { cause: error },
    );
  }
  if (state === SQLSTATE.SERIALIZATION_FAILURE || state === SQLSTATE.DEADLOCK_DETECTED) {
    return new LiminalError("STORE_ERROR", `${what} failed and may be retried: ${message}`, {
      cause: error,
    });
  }
  return new LiminalError("STORE_ERROR", `${what} failed: ${message}`, { cause: error });
}

/**
 * Hides the password of every connection URL in `text` (in case a driver echoes one), and only
 * there: a password that is also a word (`postgres`) leaves the database or user of that name
 * readable elsewhere in the message.
 */
function scrub(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}
