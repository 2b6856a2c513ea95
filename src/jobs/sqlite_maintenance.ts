/**
 * SQLite maintenance for a given database file: `sqlite-checkpoint` (WAL checkpoint),
 * `vacuum`, and `backup` (a consistent copy through SQLite's online backup API to a
 * timestamped file, keeping the last N).
 *
 * Deno's `node:sqlite` refuses `ATTACH` (and so `VACUUM`, which attaches a temporary database)
 * unless the process has every permission. `vacuum` therefore runs in a child `deno eval`
 * (which has them) that does nothing but open the file and vacuum it; its signal kills the
 * child. `backup` reports progress and stops between steps when its signal aborts.
 *
 * @module
 */
import { backup, DatabaseSync } from "node:sqlite";
import { defineJob, PermanentJobError } from "../executor/job_kind.ts";
import { errorMessage } from "../shared/errors.ts";
import { objectPayload } from "./_payload.ts";

function openDatabase(path: string, readOnly = false): DatabaseSync {
  try {
    Deno.statSync(path);
  } catch {
    throw new PermanentJobError(`no database file ${path}`);
  }
  try {
    const db = new DatabaseSync(path, { readOnly });
    db.exec("PRAGMA busy_timeout = 5000");
    return db;
  } catch (error) {
    throw new PermanentJobError(`cannot open ${path}: ${errorMessage(error)}`);
  }
}

function pathOf(payload: Record<string, unknown>): string {
  if (typeof payload.path !== "string" || payload.path === "") {
    throw new Error('"path" must be the database file');
  }
  return payload.path;
}

const MODES = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"] as const;

/** `sqlite-checkpoint`: `{ "path": "data/app.db", "mode"?: "TRUNCATE" }`. */
export const sqliteCheckpointJob = defineJob({
  kind: "sqlite-checkpoint",
  description: 'checkpoints a SQLite WAL: { "path": "data/app.db", "mode"?: "TRUNCATE" }',
  defaults: { priority: "info", timeout: "5m" },
  validate(payload) {
    const p = objectPayload(payload, ["path", "mode"], '{ "path": "data/app.db" }');
    const mode = p.mode ?? "TRUNCATE";
    if (!(MODES as readonly unknown[]).includes(mode)) {
      throw new Error(`"mode" must be one of ${MODES.join(", ")}`);
    }
    return { path: pathOf(p), mode: mode as typeof MODES[number] };
  },
  handler({ payload, signal }) {
    signal.throwIfAborted();
    const db = openDatabase(payload.path);
    try {
      const row = db.prepare(`PRAGMA wal_checkpoint(${payload.mode})`).get() as Record<
        string,
        number
      >;
      return { busy: row.busy === 1, walPages: row.log, checkpointed: row.checkpointed };
    } finally {
      db.close();
    }
  },
});

/** `vacuum`: `{ "path": "data/app.db" }`. */
export const vacuumJob = defineJob({
  kind: "vacuum",
  description: 'rebuilds a SQLite database to reclaim space: { "path": "data/app.db" }',
  defaults: { priority: "info", timeout: "30m", attempts: 2 },
  validate(payload) {
    return { path: pathOf(objectPayload(payload, ["path"], '{ "path": "data/app.db" }')) };
  },
  async handler({ payload, signal }) {
    signal.throwIfAborted();
    openDatabase(payload.path).close(); // a clear error for a missing or unreadable file
    const before = (await Deno.stat(payload.path)).size;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", VACUUM_SCRIPT, payload.path],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    };
    signal.addEventListener("abort", kill, { once: true });
    try {
      const { code, stderr } = await child.output();
      if (signal.aborted) throw signal.reason;
      if (code !== 0) {
        const message = new TextDecoder().decode(stderr).trim().split("\n").at(-1) ?? "";
        throw new Error(
          `vacuum of ${payload.path} failed (exit ${code})${message ? `: ${message}` : ""}`,
        );
      }
    } finally {
      signal.removeEventListener("abort", kill);
    }
    return { bytesBefore: before, bytesAfter: (await Deno.stat(payload.path)).size };
  },
});

/** The child's script: open the file given as its argument and vacuum it. */
const VACUUM_SCRIPT =
  'import { DatabaseSync } from "node:sqlite"; const db = new DatabaseSync(Deno.args[0]); db.exec("PRAGMA busy_timeout = 5000"); db.exec("VACUUM"); db.close();';

/** `backup`: `{ "path": "data/app.db", "dir": "backups", "keep"?: 7 }`. */
export const backupJob = defineJob({
  kind: "backup",
  description:
    'copies a SQLite database consistently to a timestamped file: { "path", "dir", "keep"?: 7 }',
  defaults: { priority: "blocking", timeout: "30m", attempts: 3 },
  validate(payload) {
    const p = objectPayload(
      payload,
      ["path", "dir", "keep"],
      '{ "path": "data/app.db", "dir": "backups", "keep": 7 }',
    );
    if (typeof p.dir !== "string" || p.dir === "") {
      throw new Error('"dir" must be the backup directory');
    }
    const keep = p.keep ?? 7;
    if (typeof keep !== "number" || !Number.isInteger(keep) || keep < 1) {
      throw new Error('"keep" must be a whole number of at least 1');
    }
    return { path: pathOf(p), dir: p.dir, keep };
  },
  async handler({ payload, signal, log, progress }) {
    signal.throwIfAborted();
    await Deno.mkdir(payload.dir, { recursive: true });
    const base = payload.path.replace(/^.*\//, "").replace(/\.[^.]*$/, "");
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const target = `${payload.dir}/${base}-${stamp}.db`;
    const db = openDatabase(payload.path, true);
    try {
      // SQLite's online backup API: a consistent copy, even while others write.
      await backup(db, target, {
        rate: 256,
        progress: ({ totalPages, remainingPages }) => {
          progress(totalPages - remainingPages, totalPages);
          if (signal.aborted) throw signal.reason;
        },
      });
    } catch (error) {
      await Deno.remove(target).catch(() => {});
      throw signal.aborted ? signal.reason : error;
    } finally {
      db.close();
    }
    const size = (await Deno.stat(target)).size;
    log(`backed up ${payload.path} to ${target} (${size} bytes)`);
    const pattern = new RegExp(
      `^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-\\d{4}-\\d{2}-\\d{2}T.*\\.db$`,
    );
    const backups: string[] = [];
    for await (const entry of Deno.readDir(payload.dir)) {
      if (entry.isFile && pattern.test(entry.name)) backups.push(entry.name);
    }
    backups.sort();
    const removed: string[] = [];
    for (const old of backups.slice(0, Math.max(0, backups.length - payload.keep))) {
      await Deno.remove(`${payload.dir}/${old}`);
      removed.push(old);
    }
    return { file: target, bytes: size, removed };
  },
});
