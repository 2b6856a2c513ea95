/**
 * SQLite's errors in liminal's terms.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../../shared/errors.ts";

/** SQLite primary result codes we branch on. */
const SQLITE = {
  PERM: 3,
  BUSY: 5,
  LOCKED: 6,
  NOMEM: 7,
  READONLY: 8,
  IOERR: 10,
  CORRUPT: 11,
  FULL: 13,
  CANTOPEN: 14,
  NOTADB: 26,
} as const;

/** The primary SQLite result code of an error from `node:sqlite`, if it has one. */
export function sqliteCode(error: unknown): number | null {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof code === "number") return code & 0xff;
  const message = errorMessage(error);
  if (/file is not a database/i.test(message)) return SQLITE.NOTADB;
  if (/database disk image is malformed/i.test(message)) return SQLITE.CORRUPT;
  if (/database or disk is full/i.test(message)) return SQLITE.FULL;
  if (/database is locked/i.test(message)) return SQLITE.BUSY;
  if (/readonly database/i.test(message)) return SQLITE.READONLY;
  if (/unable to open database/i.test(message)) return SQLITE.CANTOPEN;
  return null;
}

/** Maps an error met while opening the database at `path`. */
export function openError(error: unknown, path: string): LiminalError {
  if (error instanceof LiminalError) return error;
  const message = errorMessage(error);
  switch (sqliteCode(error)) {
    case SQLITE.NOTADB:
    case SQLITE.CORRUPT:
      return new LiminalError(
        "STORE_CORRUPT",
        `${path} is not a liminal database (${message}); it was left untouched`,
        {
          cause: error,
          hint: "move it away, or start with --store pointing to another file",
        },
      );
    case SQLITE.BUSY:
    case SQLITE.LOCKED:
      return new LiminalError("CONFLICT", `${path} is locked by another program (${message})`, {
        cause: error,
        hint: "close the program holding it (an open sqlite3 shell, a backup) and start again",
      });
    case SQLITE.READONLY:
    case SQLITE.PERM:
      return new LiminalError("STORE_UNAVAILABLE", `${path} cannot be written (${message})`, {
        cause: error,
        hint: "check the file's and its directory's permissions",
      });
    case SQLITE.CANTOPEN:
      return new LiminalError("STORE_UNAVAILABLE", `cannot open ${path} (${message})`, {
        cause: error,
        hint: "check that its directory exists and can be written",
      });
    case SQLITE.FULL:
      return new LiminalError("STORE_FULL", `the disk holding ${path} is full (${message})`, {
        cause: error,
      });
    default:
      return new LiminalError("STORE_UNAVAILABLE", `cannot open the store ${path}: ${message}`, {
        cause: error,
      });
  }
}

/** Maps an error met while writing: a full disk is `STORE_FULL`, the rest `STORE_ERROR`. */
export function writeError(error: unknown, what: string): LiminalError {
  if (error instanceof LiminalError) return error;
  const message = errorMessage(error);
  const code = sqliteCode(error);
  if (code === SQLITE.FULL) {
    return new LiminalError(
      "STORE_FULL",
      `${what} failed: the disk is full (${message}); nothing was changed`,
      {
        cause: error,
      },
    );
  }
  if (code === SQLITE.READONLY) {
    return new LiminalError(
      "STORE_UNAVAILABLE",
      `${what} failed: the database is read-only (${message})`,
      { cause: error },
    );
  }
  return new LiminalError("STORE_ERROR", `${what} failed: ${message}`, { cause: error });
}
