/**
 * Connection URLs of the `postgres` store, parsed without `new URL` (which refuses the
 * libpq forms without a host, such as `postgres://user@/db?host=/run/postgresql`).
 *
 * Accepted: `postgres://` or `postgresql://`, then optional `user[:password]@`, an optional
 * `host[:port]` (a bracketed IPv6 address too), an optional `/database`, and query
 * parameters: `host` (a directory holds the Unix socket), `port`, `user`, `password`,
 * `dbname`, `sslmode`, `application_name`, `connect_timeout`.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";

/** A parsed connection URL. */
export interface ConnectionTarget {
  /** A host name, an IP address, or a directory holding the Unix socket. */
  host: string;
  port: number;
  database: string;
  user: string;
  /** Empty when none was given (PostgreSQL's `PGPASSWORD` may still supply one). */
  password: string;
  /** `sslmode` (`disable`, `prefer`, `require`, `verify-full`), or `null`. */
  ssl: string | null;
  applicationName: string | null;
  connectTimeoutSeconds: number | null;
  /** The URL as given, with its password replaced by `***`. */
  redacted: string;
}

const URL_SHAPE =
  /^(postgres(?:ql)?):\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?(?:\/([^?#]*))?(?:\?([^#]*))?$/;

/**
 * Parses a connection URL. Throws `INVALID_ARGUMENT` quoting the URL (password hidden) when it
 * is not one.
 */
export function parseConnectionUrl(url: string): ConnectionTarget {
  const redacted = redactUrl(url);
  const match = URL_SHAPE.exec(url.trim());
  if (match === null) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid PostgreSQL URL "${redacted}"; write postgres://user[:password]@host[:port]/database or postgres://user@/database?host=/socket/dir`,
    );
  }
  const [, , userInfo = "", rawHost = "", rawPort = "", rawDb = "", rawQuery = ""] = match;
  const query = new Map<string, string>();
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decode(eq < 0 ? part : part.slice(0, eq), redacted);
    query.set(key, decode(eq < 0 ? "" : part.slice(eq + 1), redacted));
  }
  const colon = userInfo.indexOf(":");
  const user = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), redacted);
  const password = colon < 0 ? "" : decode(userInfo.slice(colon + 1), redacted);
  let host = decode(rawHost, redacted);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  host = query.get("host") ?? host;
  const portText = query.get("port") ?? rawPort;
  const port = portText === "" ? 5432 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new LiminalError("INVALID_ARGUMENT", `invalid port "${portText}" in "${redacted}"`);
  }
  const timeoutText = query.get("connect_timeout");
  const connectTimeoutSeconds = timeoutText === undefined ? null : Number(timeoutText);
  if (
    connectTimeoutSeconds !== null &&
    (!Number.isFinite(connectTimeoutSeconds) || connectTimeoutSeconds <= 0)
  ) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid connect_timeout "${timeoutText}" in "${redacted}": use a number of seconds`,
    );
  }
  return {
    host: host === "" ? "localhost" : host,
    port,
    database: query.get("dbname") ?? decode(rawDb, redacted),
    user: query.get("user") ?? user,
    password: query.get("password") ?? password,
    ssl: query.get("sslmode") ?? null,
    applicationName: query.get("application_name") ?? null,
    connectTimeoutSeconds,
    redacted,
  };
}

/** The URL with any password (in the user part or the `password` parameter) hidden. */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z]+:\/\/[^:@/?#]*):[^@/?#]*@/i, "$1:***@")
    .replace(/([?&]password=)[^&#]*/i, "$1***");
}

/** Where the server is, for messages: `host:port` or the socket directory. */
export function describeTarget(target: ConnectionTarget): string {
  return target.host.startsWith("/")
    ? `the Unix socket ${target.host}/.s.PGSQL.${target.port}`
    : `${target.host}:${target.port}`;
}

function decode(text: string, redacted: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new LiminalError("INVALID_ARGUMENT", `invalid percent-encoding in "${redacted}"`);
  }
}
