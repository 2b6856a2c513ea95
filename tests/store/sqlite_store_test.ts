/**
 * The SQLite store's own behaviour: migrations, ownership, corrupt files, a full disk,
 * crash recovery, persistence of progress and logs, retention. (The executor's behaviour
 * suite runs against it too: tests/executor/executor_test.ts.)
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { isLiminalError } from "../../src/shared/errors.ts";
import { newId } from "../../src/shared/ids.ts";
import { MIGRATIONS, SCHEMA_VERSION, SqliteStore } from "../../src/store/sqlite/mod.ts";
import { APPLICATION_ID } from "../../src/store/sqlite/sqlite_store.ts";
import type { NewJob } from "../../src/store/types.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

function newJob(extra: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newId(),
    kind: "sleep",
    payload: '{"ms":1}',
    priority: "coordinate",
    timeoutMs: null,
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 60000 },
    uniqueKey: null,
    leases: [],
    createdAt: now,
    runAt: now,
    ...extra,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "liminal-sqlite-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "migrations: an empty file gets the whole schema, recorded in the database",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/nested/dir/liminal.db`;
      const store = new SqliteStore({ path });
      await store.open();
      await store.close();
      assert.equal((await Deno.stat(`${dir}/nested`)).mode! & 0o777, 0o700);
      const db = new DatabaseSync(path);
      const versions = db.prepare("SELECT version FROM liminal_migrations ORDER BY version").all()
        .map((r) => r.version);
      assert.deepEqual(versions, MIGRATIONS.map((m) => m.version));
      assert.equal(db.prepare("PRAGMA journal_mode").get()!.journal_mode, "wal");
      db.close();
    }),
});

Deno.test({
  name: "migrations: each earlier schema version upgrades to the current one, keeping its jobs",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      for (let from = 0; from < SCHEMA_VERSION; from++) {
        const path = `${dir}/from-${from}.db`;
        const db = new DatabaseSync(path);
        db.exec(
          "CREATE TABLE liminal_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
        );
        for (const m of MIGRATIONS.filter((m) => m.version <= from)) {
          db.exec(m.sql);
          db.prepare("INSERT INTO liminal_migrations VALUES (?, ?, ?)").run(m.version, m.name, 0);
        }
        const oldId = newId();
        if (from >= 1) {
          // A job written by the older schema (version 1's columns only).
          db.prepare(
            `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, ready_at, seq, max_attempts,
               backoff_base_ms, backoff_max_ms, updated_at) VALUES (?, 'sleep', '{"ms":1}', 1, 'queued', 1, 1, 1, 7, 3, 1000, 60000, 1)`,
          ).run(oldId);
          db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
        }
        db.close();
        const store = new SqliteStore({ path });
        await store.open();
        if (from >= 1) {
          const kept = await store.get(oldId);
          assert.equal(kept?.state, "queued", `the job of schema ${from} is kept`);
          assert.deepEqual(kept?.leases, []);
          assert.deepEqual((await store.loadReady(1, 0, 10)).map((e) => e.id), [oldId]);
        }
        const [inserted] = await store.insert([newJob({ leases: ["db/orders"] })], Date.now());
        assert.equal((await store.get(inserted!.id))?.state, "queued");
        assert.deepEqual((await store.get(inserted!.id))?.leases, ["db/orders"]);
        await store.close();
        const check = new DatabaseSync(path);
        assert.equal(
          check.prepare("SELECT MAX(version) AS v FROM liminal_migrations").get()!.v,
          SCHEMA_VERSION,
        );
        check.close();
      }
    }),
});

Deno.test({
  name:
    "migration 3: a job an older version left failed (for good) reads, lists and retries as dead",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/v2.db`;
      const db = new DatabaseSync(path);
      db.exec(
        "CREATE TABLE liminal_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
      );
      for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
        db.exec(m.sql);
        db.prepare("INSERT INTO liminal_migrations VALUES (?, ?, ?)").run(m.version, m.name, 0);
      }
      const id = newId();
      db.prepare(
        `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, seq, max_attempts,
           backoff_base_ms, backoff_max_ms, attempt_count, failures, last_error, finished_at, updated_at)
         VALUES (?, 'vacuum', '{"path":"/nonexistent.db"}', 1, 'failed', 1, 1, 1, 3, 1000, 60000, 1, 1,
           '{"code":"JOB_FAILED","message":"no database file /nonexistent.db"}', 2, 2)`,
      ).run(id);
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.close();

      const store = new SqliteStore({ path });
      await store.open();
      try {
        assert.equal((await store.get(id))?.state, "dead");
        assert.deepEqual((await store.list({ state: "dead" })).map((j) => j.id), [id]);
        const counts = await store.counts();
        assert.equal(counts.byState.dead, 1);
        assert.equal(Object.hasOwn(counts.byState, "failed"), false);
        const entry = await store.retry(id, 10);
        assert.equal(entry.id, id);
        assert.equal((await store.get(id))?.state, "queued");
      } finally {
        await store.close();
      }
      const check = new DatabaseSync(path);
      assert.equal(
        check.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state = 'failed'").get()!.n,
        0,
        "no row is left in the old state",
      );
      check.close();
    }),
});

Deno.test({
  name: "a database from a newer liminal is refused with a clear message",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/newer.db`;
      const store = new SqliteStore({ path });
      await store.open();
      await store.close();
      const db = new DatabaseSync(path);
      db.prepare("INSERT INTO liminal_migrations VALUES (?, ?, ?)").run(
        SCHEMA_VERSION + 5,
        "future",
        0,
      );
      db.close();
      await assert.rejects(new SqliteStore({ path }).open(), (e) =>
        isLiminalError(e, "STORE_UNAVAILABLE") &&
        /written by a newer liminal \(schema version \d+; this one knows up to \d+\)/.test(
          e.message,
        ) &&
        e.exitCode === 2);
    }),
});

Deno.test({
  name: "a file that is not a SQLite database is refused and left untouched",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/garbage.db`;
      const bytes = new TextEncoder().encode(
        "this is not a database, just some text that is long enough\n".repeat(200),
      );
      await Deno.writeFile(path, bytes);
      await assert.rejects(new SqliteStore({ path }).open(), (e) =>
        isLiminalError(e, "STORE_CORRUPT") && /not a liminal database/.test(e.message) &&
        e.exitCode === 2);
      assert.deepEqual(await Deno.readFile(path), bytes);
      const other = `${dir}/other-app.db`;
      const db = new DatabaseSync(other);
      db.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY)");
      db.close();
      await assert.rejects(new SqliteStore({ path: other }).open(), (e) =>
        isLiminalError(e, "STORE_CORRUPT") &&
        /another application \(tables: customers\)/.test(e.message));
    }),
});

Deno.test({
  name: "one owner at a time: a second store on the same file gets CONFLICT naming the pid",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/owned.db`;
      const first = new SqliteStore({ path });
      await first.open();
      await assert.rejects(new SqliteStore({ path }).open(), (e) =>
        isLiminalError(e, "CONFLICT") && e.message.includes(`pid ${Deno.pid}`) && e.exitCode === 4);
      await first.close();
      const second = new SqliteStore({ path });
      await second.open();
      await second.close();
    }),
});

Deno.test({
  name: "a full disk refuses the enqueue with STORE_FULL and loses nothing already accepted",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const store = new SqliteStore({ path: `${dir}/small.db`, maxSizeBytes: 256 * 1024 });
      await store.open();
      const accepted: string[] = [];
      let full: unknown = null;
      for (let i = 0; i < 1_000 && full === null; i++) {
        try {
          const batch = await store.insert(
            Array.from({ length: 20 }, () =>
              newJob({ payload: JSON.stringify({ pad: "x".repeat(500) }) })),
            Date.now(),
          );
          accepted.push(...batch.map((r) =>
            r.id
          ));
        } catch (error) {
          full = error;
        }
      }
      assert.ok(isLiminalError(full, "STORE_FULL"), `expected STORE_FULL, got ${full}`);
      assert.match((full as Error).message, /disk is full/);
      const counts = await store.counts();
      assert.equal(counts.byState.queued, accepted.length, "the failed batch left nothing behind");
      for (const id of [accepted[0]!, accepted.at(-1)!]) {
        assert.equal((await store.get(id))?.state, "queued");
      }
      // Still usable: claims and settlements of accepted jobs go through.
      const [claimed] = await store.claim([{ id: accepted[0]!, worker: "w1", at: Date.now() }]);
      assert.ok(claimed);
      await store.settle([{
        id: accepted[0]!,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "succeeded",
        error: null,
        result: null,
        next: "succeeded",
      }]);
      assert.equal((await store.get(accepted[0]!))?.state, "succeeded");
      await store.close();
    }),
});

Deno.test({
  name: "jobs left running by a runtime that died are recovered as interrupted and queued again",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const path = `${dir}/crash.db`;
      const store = new SqliteStore({ path });
      await store.open();
      const [a, b] = await store.insert([newJob(), newJob()], Date.now());
      await store.claim([{ id: a!.id, worker: "w1", at: Date.now() }, {
        id: b!.id,
        worker: "w2",
        at: Date.now(),
      }]);
      await store.recordProgress(a!.id, { done: 3, total: 10, at: Date.now() });
      await store.appendLog(a!.id, { at: Date.now(), message: "halfway" });
      await store.close(); // as if the process died: nothing settled
      const again = new SqliteStore({ path });
      await again.open();
      assert.deepEqual(await again.recoverInterrupted(Date.now()), { queued: 2, dead: [] });
      const record = await again.get(a!.id);
      assert.equal(record?.state, "queued");
      assert.equal(record?.interruptions, 1);
      assert.deepEqual(record?.attempts.map((x) => x.outcome), ["interrupted"]);
      assert.equal(record?.lastError?.code, "JOB_INTERRUPTED");
      assert.deepEqual(record?.logs.map((l) => l.message), ["halfway"]);
      const ready = await again.loadReady(1, 0, 10);
      assert.deepEqual(ready.map((r) => r.id).sort(), [a!.id, b!.id].sort());
      const [claimed] = await again.claim([{ id: a!.id, worker: "w3", at: Date.now() }]);
      assert.equal(claimed?.attempt, 2, "the attempt count says it ran before");
      assert.equal((await again.counts()).byState.running, 1);
      await again.close();
    }),
});

Deno.test({
  name: "logs keep the last 100 lines; unique keys hold; prune removes by age and by count",
  ...sanitized,
  fn: () =>
    withDir(async (dir) => {
      const store = new SqliteStore({ path: `${dir}/misc.db` });
      await store.open();
      const [job] = await store.insert([newJob({ uniqueKey: "k" })], Date.now());
      const [dup] = await store.insert([newJob({ uniqueKey: "k" })], Date.now());
      assert.equal(dup!.created, false);
      assert.equal(dup!.id, job!.id);
      await store.claim([{ id: job!.id, worker: "w1", at: Date.now() }]);
      for (let i = 0; i < 130; i++) {
        await store.appendLog(job!.id, { at: Date.now(), message: `line ${i}` });
      }
      await store.settle([{
        id: job!.id,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "succeeded",
        error: null,
        result: '{"ok":true}',
        next: "succeeded",
      }]);
      const record = await store.get(job!.id);
      assert.equal(record?.logs.length, 100);
      assert.equal(record?.logs[0]?.message, "line 30");
      assert.equal(record?.result, '{"ok":true}');

      const now = Date.now();
      const old = await store.insert(
        Array.from({ length: 5 }, () => newJob()),
        now,
      );
      for (const r of old) {
        // Claimed now, not at `now`: newJob() took its own Date.now(), maybe a moment later.
        const [claimed] = await store.claim([{ id: r.id, worker: "w1", at: Date.now() }]);
        assert.ok(claimed, "claimed");
        await store.settle([{
          id: r.id,
          attempt: 1,
          endedAt: now - 10 * 86_400_000,
          outcome: "succeeded",
          error: null,
          result: null,
          next: "succeeded",
        }]);
      }
      assert.equal(await store.prune({ finishedBefore: now - 7 * 86_400_000, limit: 100 }), 5);
      assert.equal(await store.get(old[0]!.id), null);
      assert.equal(await store.prune({ keep: 0, limit: 100 }), 1);
      assert.equal((await store.counts()).byState.succeeded, 0);
      await store.close();
    }),
});
