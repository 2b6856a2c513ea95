/**
 * Exclusive ownership of a database: an OS file lock (`flock`) on `<db>.lock`, holding the
 * owner's pid. The lock dies with its process, so a lock left by a runtime killed with
 * `kill -9` is simply taken over.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../../shared/errors.ts";

/** Who holds a database. */
export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
}

/** A held lock; release it with `release()`. */
export class DatabaseLock {
  readonly #file: Deno.FsFile;
  readonly path: string;

  /** This lock made the file (it did not exist before). */
  readonly #created: boolean;

  private constructor(file: Deno.FsFile, path: string, created: boolean) {
    this.#file = file;
    this.path = path;
    this.#created = created;
  }

  /**
   * Takes the lock of the database at `dbPath`, or fails with `CONFLICT` naming the owner.
   */
  static async acquire(dbPath: string): Promise<DatabaseLock> {
    const path = `${dbPath}.lock`;
    let existed = true;
    try {
      await Deno.lstat(path);
    } catch {
      existed = false;
    }
    let file: Deno.FsFile;
    try {
      // 0600 like the database it guards (see _files.ts).
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    } catch (error) {
      throw new LiminalError(
        "STORE_UNAVAILABLE",
        `cannot create the lock file ${path}: ${errorMessage(error)}`,
        {
          cause: error,
          hint: "check that the store's directory exists and can be written",
        },
      );
    }
    let locked: boolean;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw new LiminalError("STORE_UNAVAILABLE", `cannot lock ${path}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    if (!locked) {
      const owner = await readOwner(file);
      file.close();
      const who = owner === null
        ? "another process"
        : `pid ${owner.pid} on ${owner.host} (since ${owner.startedAt})`;
      throw new LiminalError("CONFLICT", `the store ${dbPath} is in use by ${who}`, {
        hint:
          "stop that runtime (liminal shutdown), or start this one with --store pointing to another file",
      });
    }
    const owner: LockOwner = {
      pid: Deno.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
    };
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode(JSON.stringify(owner) + "\n"));
    return new DatabaseLock(file, path, !existed);
  }

  /**
   * Gives the lock back after the database was refused (corrupt, another application's, from
   * a newer liminal): a lock file this lock made goes too, so a refusal leaves nothing behind.
   */
  abandon(): void {
    if (this.#created) {
      try {
        Deno.removeSync(this.path);
      } catch {
        // Gone already, or not ours to remove.
      }
    }
    this.release();
  }

  /** Releases the lock. The file stays (removing it would race with the next owner). */
  release(): void {
    try {
      this.#file.unlockSync();
    } catch {
      // Closing releases it anyway.
    }
    this.#file.close();
  }
}

async function readOwner(file: Deno.FsFile): Promise<LockOwner | null> {
  try {
    await file.seek(0, Deno.SeekMode.Start);
    const buffer = new Uint8Array(1024);
    const n = await file.read(buffer);
    if (n === null) return null;
    const owner = JSON.parse(new TextDecoder().decode(buffer.subarray(0, n)));
    return typeof owner?.pid === "number" ? owner as LockOwner : null;
  } catch {
    return null;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "this host";
  }
}
