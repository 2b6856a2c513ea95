/**
 * The SQLite store's durable figures, each next to a raw `node:sqlite` loop doing the same
 * inserts and updates in the same run (the `baseline` of its group):
 *
 * - _durable enqueue, single_: one job per committed transaction. Raw: one `INSERT` per
 *   job in autocommit. liminal: `executor.enqueue()` per job, each awaited (what a user
 *   calls; it resolves once the job is committed), and `SqliteStore.insert` of one job per
 *   call (the store alone, without the executor's checks and bookkeeping).
 * - _durable enqueue, batched_: one transaction for the whole batch. Raw: `BEGIN`, a prepared
 *   `INSERT` per job, `COMMIT`. liminal: `executor.enqueueMany()` and `SqliteStore.insert` of
 *   the whole batch.
 * - _end-to-end_: no-op jobs inserted in one transaction, then run. Raw: per 4 jobs (what the
 *   executor with 4 workers claims and settles at once) one transaction of 4 claiming
 *   `UPDATE`s and one of 4 completing `UPDATE`s, in a synchronous loop. liminal: a
 *   `MaintenanceExecutor` with 4 workers over `SqliteStore`, `enqueueMany` then `onIdle`.
 *
 * Every iteration works on a new database file in a new temporary directory (WAL,
 * `synchronous=NORMAL`: the store's default durability `normal`), removed afterwards; opening
 * it, starting the executor and closing are not timed. The executor's intake is paused in
 * the enqueue groups, so they time the enqueue alone, not jobs running in between.
 *
 * The raw table is what a simple queue would keep: the job's columns, a primary key on the
 * id and one partial index to find ready jobs. liminal's `jobs` table has more indexes
 * (ready, due, unique key, finished, state, kind) and its executor also writes a
 * `job_attempts` row per run (an `INSERT` at the claim, an `UPDATE` at the settle).
 *
 *   deno bench --allow-read --allow-write --allow-env bench/sqlite_bench.ts
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { type JobSpec, MaintenanceExecutor } from "../mod.ts";
import type { NewJob } from "../src/store/types.ts";
import { benchRuns, CONCURRENCY, count, pick } from "./_config.ts";
import { noopJob, noopSpecs } from "./_queues.ts";
import { newJobRows, openSqliteStore } from "./_stores.ts";

const SINGLE = pick(1_000, 20);
const BATCHED = pick(10_000, 100);
const END_TO_END = pick(10_000, 100);

/** Group names; `report.ts` finds them by their start ("sqlite durable enqueue, single, …"). */
const GROUPS = {
  single: `sqlite durable enqueue, single, ${count(SINGLE)} jobs`,
  batched: `sqlite durable enqueue, batched, ${count(BATCHED)} jobs`,
  endToEnd: `sqlite end-to-end, ${count(END_TO_END)} no-op jobs`,
} as const;

const root = Deno.makeTempDirSync({ prefix: "liminal-bench-sqlite-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(root, { recursive: true });
  } catch {
    // already gone
  }
});

/** A new, empty directory for one iteration's database, and its removal. */
async function freshDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ dir: root });
  return { dir, remove: () => Deno.remove(dir, { recursive: true }) };
}

// ── The raw node:sqlite loops ──────────────────────────────────────────────────────────────

/** A simple queue table on a new file, WAL and `synchronous=NORMAL` like the store. */
function openRaw(dir: string): DatabaseSync {
  const db = new DatabaseSync(`${dir}/raw.db`);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec(`
    CREATE TABLE jobs (
      id          TEXT PRIMARY KEY,
      kind        TEXT NOT NULL,
      payload     TEXT NOT NULL,
      priority    INTEGER NOT NULL,
      state       TEXT NOT NULL,
      attempts    INTEGER NOT NULL DEFAULT 0,
      created_at  INTEGER NOT NULL,
      run_at      INTEGER NOT NULL,
      seq         INTEGER NOT NULL,
      updated_at  INTEGER NOT NULL,
      finished_at INTEGER
    ) STRICT;
    CREATE INDEX jobs_ready ON jobs (priority, seq) WHERE state = 'queued';
  `);
  return db;
}

const RAW_INSERT =
  `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, seq, updated_at)
  VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)`;

function rawInsertAll(db: DatabaseSync, jobs: readonly NewJob[], now: number): void {
  const insert = db.prepare(RAW_INSERT);
  db.exec("BEGIN");
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    insert.run(job.id, job.kind, job.payload, 2, job.createdAt, job.runAt, i + 1, now);
  }
  db.exec("COMMIT");
}

// ── liminal ────────────────────────────────────────────────────────────────────────────────

/** A started executor with 4 workers over a new `SqliteStore` in `dir`. */
async function startExecutor(
  dir: string,
  paused: boolean,
): Promise<{ executor: MaintenanceExecutor; close(): Promise<void> }> {
  const store = await openSqliteStore(dir);
  const executor = new MaintenanceExecutor({ store, kinds: [noopJob], workers: CONCURRENCY });
  await executor.start();
  if (paused) executor.pause();
  return {
    executor,
    async close() {
      await executor.stop();
      await store.close();
    },
  };
}

// ── Durable enqueue, single ────────────────────────────────────────────────────────────────

const singleRuns = benchRuns(20, 2);

Deno.bench({
  name: "node:sqlite INSERT per job, autocommit (raw loop)",
  group: GROUPS.single,
  baseline: true,
  ...singleRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const db = openRaw(dir);
    const jobs = newJobRows(SINGLE);
    const insert = db.prepare(RAW_INSERT);
    const now = Date.now();
    b.start();
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      insert.run(job.id, job.kind, job.payload, 2, job.createdAt, job.runAt, i + 1, now);
    }
    b.end();
    db.close();
    await remove();
  },
});

Deno.bench({
  name: "liminal executor.enqueue() per job, awaited (intake paused)",
  group: GROUPS.single,
  ...singleRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const { executor, close } = await startExecutor(dir, true);
    const spec: JobSpec = { kind: "noop" };
    b.start();
    for (let i = 0; i < SINGLE; i++) await executor.enqueue(spec);
    b.end();
    await close();
    await remove();
  },
});

Deno.bench({
  name: "liminal SqliteStore.insert, one job per call",
  group: GROUPS.single,
  ...singleRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const store = await openSqliteStore(dir);
    const jobs = newJobRows(SINGLE);
    b.start();
    for (let i = 0; i < jobs.length; i++) await store.insert([jobs[i]!], Date.now());
    b.end();
    await store.close();
    await remove();
  },
});

// ── Durable enqueue, batched ───────────────────────────────────────────────────────────────

const batchedRuns = benchRuns(20, 2);

Deno.bench({
  name: "node:sqlite BEGIN, prepared INSERT per job, COMMIT (raw loop)",
  group: GROUPS.batched,
  baseline: true,
  ...batchedRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const db = openRaw(dir);
    const jobs = newJobRows(BATCHED);
    b.start();
    rawInsertAll(db, jobs, Date.now());
    b.end();
    db.close();
    await remove();
  },
});

Deno.bench({
  name: "liminal executor.enqueueMany() (intake paused)",
  group: GROUPS.batched,
  ...batchedRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const { executor, close } = await startExecutor(dir, true);
    const specs = noopSpecs(BATCHED);
    b.start();
    await executor.enqueueMany(specs);
    b.end();
    await close();
    await remove();
  },
});

Deno.bench({
  name: "liminal SqliteStore.insert, one batch",
  group: GROUPS.batched,
  ...batchedRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const store = await openSqliteStore(dir);
    const jobs = newJobRows(BATCHED);
    b.start();
    await store.insert(jobs, Date.now());
    b.end();
    await store.close();
    await remove();
  },
});

// ── End-to-end no-op jobs ──────────────────────────────────────────────────────────────────

const endToEndRuns = benchRuns(10, 1);

Deno.bench({
  name: "node:sqlite insert, then claim + complete UPDATEs per 4 jobs (raw loop)",
  group: GROUPS.endToEnd,
  baseline: true,
  ...endToEndRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const db = openRaw(dir);
    const jobs = newJobRows(END_TO_END);
    const claim = db.prepare(
      `UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?
       WHERE id = ? AND state = 'queued'`,
    );
    const complete = db.prepare(
      `UPDATE jobs SET state = 'succeeded', finished_at = ?, updated_at = ?
       WHERE id = ? AND state = 'running'`,
    );
    b.start();
    rawInsertAll(db, jobs, Date.now());
    for (let i = 0; i < jobs.length; i += CONCURRENCY) {
      const end = Math.min(i + CONCURRENCY, jobs.length);
      const claimedAt = Date.now();
      db.exec("BEGIN IMMEDIATE");
      for (let j = i; j < end; j++) claim.run(claimedAt, jobs[j]!.id);
      db.exec("COMMIT");
      const finishedAt = Date.now();
      db.exec("BEGIN IMMEDIATE");
      for (let j = i; j < end; j++) complete.run(finishedAt, finishedAt, jobs[j]!.id);
      db.exec("COMMIT");
    }
    b.end();
    db.close();
    await remove();
  },
});

Deno.bench({
  name: "liminal executor, 4 workers (enqueueMany + onIdle)",
  group: GROUPS.endToEnd,
  ...endToEndRuns,
  async fn(b) {
    const { dir, remove } = await freshDir();
    const { executor, close } = await startExecutor(dir, false);
    const specs = noopSpecs(END_TO_END);
    b.start();
    await executor.enqueueMany(specs);
    await executor.onIdle();
    b.end();
    await close();
    await remove();
  },
});
