/**
 * The store's files are private to their owner: payloads, `env` values and job output may hold
 * secrets. The database is created 0600 before SQLite opens it; SQLite gives its `-wal` and
 * `-shm` files the database's mode, and the lock file is created 0600 too. Files left with
 * wider modes (by an older liminal, or a copy) are tightened at open, once the database is
 * known to be liminal's, when this process owns them, with a warning that says so; files of
 * another owner are only warned about.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorMessage, LiminalError } from "../../shared/errors.ts";

const log = getLogger(["liminal", "store"]);

/** The mode of every file of a SQLite store. */
export const PRIVATE_MODE = 0o600;

/** The files of the database at `path`: itself, its WAL, its shared memory, its lock. */
export function storeFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`, `${path}.lock`];
}

/**
 * Refuses a store path that exists and is no regular file (`/dev/null`, a directory, a FIFO):
 * SQLite cannot keep a database there, and nothing is created or changed on the way.
 */
export async function checkStoreFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return; // missing (created later) or unreadable (said when it is opened)
  }
  if (info.isFile) return;
  const what = info.isDirectory
    ? "a directory"
    : info.isCharDevice
    ? "a character device"
    : info.isBlockDevice
    ? "a block device"
    : info.isFifo
    ? "a named pipe"
    : info.isSocket
    ? "a socket"
    : "not a regular file";
  throw new LiminalError(
    "STORE_UNAVAILABLE",
    `the store ${path} is ${what}, not a database file; nothing was changed`,
    { hint: "pass --store a file path (it is created when missing), :memory:, or postgres://…" },
  );
}

/** Creates the database file 0600 when it is missing, so SQLite's `-wal` and `-shm` follow. */
export async function createPrivateDatabase(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const file = await Deno.open(path, { createNew: true, write: true, mode: PRIVATE_MODE });
    file.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/**
 * Tightens the store's existing files to 0600. Called once the database is known to be
 * liminal's: a file refused as another application's is left exactly as it was.
 */
export async function tightenStoreFiles(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  for (const file of storeFiles(path)) await tighten(file);
}

async function tighten(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return; // not there (yet)
  }
  if (!info.isFile || info.mode === null || (info.mode & 0o077) === 0) return;
  const was = `0${(info.mode & 0o777).toString(8)}`;
  const me = uid();
  if (me !== null && info.uid !== null && info.uid !== me && me !== 0) {
    log.warn(
      "store file {path} is mode {mode}: others can read it, and it is not ours to change (owner uid {owner}); make it 0600",
      { path, mode: was, owner: info.uid },
    );
    return;
  }
  try {
    await Deno.chmod(path, PRIVATE_MODE);
    log.warn("store file {path} was mode {mode}; made it 0600 (it may hold secrets)", {
      path,
      mode: was,
    });
  } catch (error) {
    log.warn("store file {path} is mode {mode} and could not be made 0600: {error}", {
      path,
      mode: was,
      error: errorMessage(error),
    });
  }
}

function uid(): number | null {
  try {
    return Deno.uid();
  } catch {
    return null;
  }
}
