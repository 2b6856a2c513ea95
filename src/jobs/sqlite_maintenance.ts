/**
 * SQLite maintenance for a given database file: `sqlite-checkpoint` (WAL checkpoint),
 * `vacuum`, and `backup` (a consistent copy through SQLite's online backup API to a
 * timestamped file, keeping the last N).
 *
 * Each runs SQLite in a child `deno eval`, never in the runtime's process: Deno's `node:sqlite`
 * is synchronous (a 5 s busy wait, a long vacuum or backup would stop every timer, signal and
 * socket of the runtime), its `backup()` retries a locked source forever without returning, and
 * it refuses `ATTACH` (so `VACUUM`) unless the process has every permission. The child opens
 * the file, does the one thing, and prints one JSON line: its result, or SQLite's own error
 * message ("database is locked", "file is not a database"), which the job reports as it is.
 * The job's signal kills the child. In a runtime (see {@link createSqliteMaintenanceJobs}) the
 * child runs in a process group registered with the runtime's process guard, like a `command`
 * job's program: a runtime that dies leaves no vacuum or backup running behind it.
 *
 * Failures that no retry can fix are permanent (`PermanentJobError`): a missing file, a
 * directory, a file that is not a SQLite database or is corrupt, one that cannot be opened or
 * written. A locked database, a full disk or an I/O error fail the attempt and are retried.
 *
 * @module
 */
import { defineJob, type JobKind, PermanentJobError } from "../executor/job_kind.ts";
import { errorMessage } from "../shared/errors.ts";
import { objectPayload } from "./_payload.ts";
import { type ProcessGuard, signalGroup, spawnGuarded } from "./_process_guard.ts";

/** How long the child waits for a lock held by another connection before it gives up. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * The child's script: `<op> <path> [arg]`. `backup` first takes a read transaction (which
 * waits at most the busy timeout, then fails "database is locked"), then copies every page in
 * one step of the backup API within it: a consistent copy that never waits on a lock.
 */
const SQLITE_SCRIPT = `import { backup, DatabaseSync } from "node:sqlite";
const [op, path, arg] = Deno.args;
try {
  const db = new DatabaseSync(path, { readOnly: op === "backup" });
  db.exec("PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}");
  let out = {};
  if (op === "vacuum") db.exec("VACUUM");
  else if (op === "checkpoint") out = db.prepare("PRAGMA wal_checkpoint(" + arg + ")").get();
  else {
    db.exec("BEGIN");
    db.prepare("SELECT count(*) FROM sqlite_schema").get();
    out = { pages: await backup(db, arg, { rate: -1 }) };
    db.exec("COMMIT");
  }
  db.close();
  console.log(JSON.stringify({ ok: out }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
  Deno.exit(1);
}
`;

/** SQLite's messages for a file no retry will fix. */
const PERMANENT =
  /file is not a database|disk image is malformed|unable to open database file|readonly database|access permission denied|not authorized/i;

type Operation = "vacuum" | "checkpoint" | "backup";

/**
 * Runs one operation on the database at `path` in a child process; resolves with what it
 * returned, throws SQLite's own error (permanent when no retry can fix it).
 */
async function runSqlite(
  op: Operation,
  path: string,
  arg: string | null,
  signal: AbortSignal,
  guarded: { guard: ProcessGuard; job: string } | null,
): Promise<Record<string, unknown>> {
  signal.throwIfAborted();
  await checkFile(path);
  const args = ["eval", "--quiet", "--no-config", SQLITE_SCRIPT, op, path, ...(arg ? [arg] : [])];
  const options = { stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } } as const;
  const child = guarded === null
    ? new Deno.Command(Deno.execPath(), { ...options, args, stdin: "null" }).spawn()
    : await spawnGuarded(guarded.guard, guarded.job, Deno.execPath(), args, options);
  const kill = () => {
    if (guarded !== null && signalGroup(child.pid, "SIGKILL")) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  };
  signal.addEventListener("abort", kill, { once: true });
  if (signal.aborted) kill();
  let output: Deno.CommandOutput;
  try {
    output = await child.output();
  } finally {
    signal.removeEventListener("abort", kill);
    if (guarded !== null) {
      // Nothing of the group outlives the attempt; then the watchdog may forget it.
      signalGroup(child.pid, "SIGKILL");
      await guarded.guard.unregister(child.pid).catch(() => {});
    }
  }
  if (signal.aborted) throw signal.reason;
  const what = op === "checkpoint" ? "checkpoint" : op;
  const answer = parseAnswer(new TextDecoder().decode(output.stdout));
  if (answer !== null && "ok" in answer) return answer.ok;
  if (answer !== null) {
    const message = `${what} of ${path} failed: ${answer.error}`;
    throw PERMANENT.test(answer.error) ? new PermanentJobError(message) : new Error(message);
  }
  // No answer: the child died (killed, out of memory) before it could say why.
  const how = output.signal === null ? `exit ${output.code}` : `signal ${output.signal}`;
  throw new Error(`${what} of ${path} failed: the SQLite process ended (${how}) without a result`);
}

function parseAnswer(
  text: string,
): { ok: Record<string, unknown> } | { error: string } | null {
  const line = text.trim().split("\n").at(-1) ?? "";
  try {
    const answer = JSON.parse(line);
    if (typeof answer?.error === "string") return { error: answer.error };
    if (typeof answer?.ok === "object" && answer.ok !== null) return { ok: answer.ok };
  } catch {
    // Not an answer.
  }
  return null;
}

/** A missing file or a directory is permanent: SQLite would only say "unable to open". */
async function checkFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new PermanentJobError(`no database file ${path}`);
    }
    throw new PermanentJobError(`cannot read ${path}: ${errorMessage(error)}`);
  }
  if (!info.isFile) throw new PermanentJobError(`${path} is not a file, so not a database`);
}

/** Mode of a backup file: read and write for its owner only, whatever the source's. */
const BACKUP_FILE_MODE = 0o600;
/** Mode of a backup directory `backup` creates. */
const BACKUP_DIR_MODE = 0o700;

/**
 * Creates the backup directory 0700 (each missing parent too) when it is missing; an existing
 * one is left as it is. Returns the directories it made, deepest first, so a failed backup
 * can take them away again. (The source is not read here to check it first: closing any
 * descriptor of a SQLite file drops this process's POSIX locks on it, the runtime's own.)
 */
async function makeBackupDir(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = dir.replace(/\/+$/, ""); at !== "" && at !== "." && at !== "/";) {
    try {
      await Deno.stat(at);
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      missing.push(at);
    }
    const up = at.lastIndexOf("/");
    at = up <= 0 ? "" : at.slice(0, up);
  }
  if (missing.length === 0) return missing;
  await Deno.mkdir(dir, { recursive: true, mode: BACKUP_DIR_MODE });
  // The umask may have taken bits away; it never adds any.
  await Deno.chmod(dir, BACKUP_DIR_MODE);
  return missing;
}

/** Removes the directories a failed backup made, deepest first, each only while empty. */
async function removeDirectories(made: readonly string[]): Promise<void> {
  for (const dir of made) {
    try {
      await Deno.remove(dir);
    } catch {
      return; // not empty (someone else's files), or gone
    }
  }
}

/** Creates `path` empty with mode 0600 (it must not exist yet). */
async function createPrivate(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: BACKUP_FILE_MODE });
  file.close();
  await Deno.chmod(path, BACKUP_FILE_MODE);
}

function pathOf(payload: Record<string, unknown>): string {
  if (typeof payload.path !== "string" || payload.path === "") {
    throw new Error('"path" must be the database file');
  }
  return payload.path;
}

/** A WAL checkpoint mode. */
export type CheckpointMode = "PASSIVE" | "FULL" | "RESTART" | "TRUNCATE";
const MODES: readonly CheckpointMode[] = ["PASSIVE", "FULL", "RESTART", "TRUNCATE"];

/** Options of {@link createSqliteMaintenanceJobs}. */
export interface SqliteMaintenanceOptions {
  /**
   * The runtime's process guard: each SQLite child runs in a group registered with it. Without
   * one, the child is a plain child process (stopped by the job's signal only).
   */
  guard?: ProcessGuard;
}

/** The three SQLite maintenance kinds. */
export interface SqliteMaintenanceJobs {
  /** `sqlite-checkpoint`: checkpoints a database's WAL. */
  sqliteCheckpoint: JobKind<
    { path: string; mode: CheckpointMode },
    { busy: boolean; walPages: number; checkpointed: number }
  >;
  /** `vacuum`: rebuilds a database file, returning its size before and after. */
  vacuum: JobKind<{ path: string }, { bytesBefore: number; bytesAfter: number }>;
  /** `backup`: copies a database into a directory, keeping the newest `keep` copies. */
  backup: JobKind<
    { path: string; dir: string; keep: number },
    { file: string; bytes: number; removed: string[] }
  >;
}

/**
 * The `sqlite-checkpoint`, `vacuum` and `backup` kinds, their SQLite children registered with
 * `options.guard` (a runtime passes its own).
 */
export function createSqliteMaintenanceJobs(
  options: SqliteMaintenanceOptions = {},
): SqliteMaintenanceJobs {
  const guarded = (job: string) =>
    options.guard === undefined ? null : { guard: options.guard, job };
  /** `sqlite-checkpoint`: `{ "path": "data/app.db", "mode"?: "TRUNCATE" }`. */
  const sqliteCheckpoint = defineJob({
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
    async handler({ job, payload, signal }) {
      const row = await runSqlite(
        "checkpoint",
        payload.path,
        payload.mode,
        signal,
        guarded(job.id),
      );
      return {
        busy: row.busy === 1,
        walPages: Number(row.log),
        checkpointed: Number(row.checkpointed),
      };
    },
  });

  /** `vacuum`: `{ "path": "data/app.db" }`. */
  const vacuum = defineJob({
    kind: "vacuum",
    description: 'rebuilds a SQLite database to reclaim space: { "path": "data/app.db" }',
    defaults: { priority: "info", timeout: "30m", attempts: 2 },
    validate(payload) {
      return { path: pathOf(objectPayload(payload, ["path"], '{ "path": "data/app.db" }')) };
    },
    async handler({ job, payload, signal }) {
      await checkFile(payload.path);
      const before = (await Deno.stat(payload.path)).size;
      await runSqlite("vacuum", payload.path, null, signal, guarded(job.id));
      return { bytesBefore: before, bytesAfter: (await Deno.stat(payload.path)).size };
    },
  });

  /** `backup`: `{ "path": "data/app.db", "dir": "backups", "keep"?: 7 }`. */
  const backup = defineJob({
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
    async handler({ job, payload, signal, log }) {
      // The source is checked before the target directory is made; a backup that fails
      // leaves nothing behind, not even the directories it made.
      await checkFile(payload.path);
      const made = await makeBackupDir(payload.dir);
      const base = payload.path.replace(/^.*\//, "").replace(/\.[^.]*$/, "");
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const target = `${payload.dir}/${base}-${stamp}.db`;
      // The copy holds what the database holds: only its owner may read it. SQLite writes
      // into the empty file made here, and gives its journal the file's mode.
      await createPrivate(target);
      try {
        // SQLite's online backup API, in a read transaction: a consistent copy, even while
        // others write.
        await runSqlite("backup", payload.path, target, signal, guarded(job.id));
      } catch (error) {
        await Deno.remove(target).catch(() => {});
        await removeDirectories(made);
        throw error;
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
  return { sqliteCheckpoint, vacuum, backup };
}

const unguarded: SqliteMaintenanceJobs = createSqliteMaintenanceJobs();
/** `sqlite-checkpoint`: `{ "path": "data/app.db", "mode"?: "TRUNCATE" }` (no process guard). */
export const sqliteCheckpointJob: SqliteMaintenanceJobs["sqliteCheckpoint"] =
  unguarded.sqliteCheckpoint;
/** `vacuum`: `{ "path": "data/app.db" }` (no process guard). */
export const vacuumJob: SqliteMaintenanceJobs["vacuum"] = unguarded.vacuum;
/** `backup`: `{ "path": "data/app.db", "dir": "backups", "keep"?: 7 }` (no process guard). */
export const backupJob: SqliteMaintenanceJobs["backup"] = unguarded.backup;
