/**
 * The SQLite maintenance kinds when the database is not fit: SQLite's own message, never a
 * stack fragment; a file that is not a database (or is missing) fails permanently at once; a
 * locked database fails the attempt (retried) without stopping the runtime's event loop.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MaintenanceExecutor } from "../../src/executor/mod.ts";
import { builtinJobs } from "../../src/jobs/mod.ts";
import { FINAL_STATES, type JobRecord } from "../../src/shared/job.ts";
import { MemoryStore } from "../../src/store/mod.ts";
import { groupAlive, ProcessGuard } from "../../src/jobs/_process_guard.ts";

async function withExecutor(fn: (executor: MaintenanceExecutor) => Promise<void>): Promise<void> {
  const store = new MemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({ store, kinds: builtinJobs(), workers: 3 });
  await executor.start();
  try {
    await fn(executor);
  } finally {
    await executor.stop();
    await store.close();
  }
}

async function run(
  executor: MaintenanceExecutor,
  kind: string,
  payload: Record<string, unknown>,
  attempts?: number,
): Promise<JobRecord> {
  const { id } = await executor.enqueue({
    kind,
    payload: payload as Record<string, string>,
    ...(attempts === undefined ? {} : { attempts }),
  });
  return await executor.waitFor(id);
}

/** Failed for good after one attempt, although the kind allows more. */
function assertPermanent(job: JobRecord, message: string): void {
  assert.ok(FINAL_STATES.has(job.state) && job.state !== "succeeded", job.state);
  assert.equal(job.attempts.length, 1, "not retried");
  assert.ok(job.maxAttempts > 1);
  assert.equal(job.lastError?.message, message);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "a file that is not SQLite: 'file is not a database', permanent at once, nothing left",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-notdb-" });
    try {
      const path = `${dir}/notes.db`;
      await Deno.writeTextFile(path, "these are notes, not a database\n".repeat(200));
      await withExecutor(async (executor) => {
        for (const [kind, op] of [["vacuum", "vacuum"], ["sqlite-checkpoint", "checkpoint"]]) {
          assertPermanent(
            await run(executor, kind!, { path }),
            `${op} of ${path} failed: file is not a database`,
          );
        }
        const backup = await run(executor, "backup", { path, dir: `${dir}/backups` });
        assertPermanent(backup, `backup of ${path} failed: file is not a database`);
        assert.equal(exists(`${dir}/backups`), false, "no partial backup, not even its directory");
        assertPermanent(
          await run(executor, "vacuum", { path: `${dir}/missing.db` }),
          `no database file ${dir}/missing.db`,
        );
        assertPermanent(
          await run(executor, "backup", { path: `${dir}/missing.db`, dir: `${dir}/b2` }),
          `no database file ${dir}/missing.db`,
        );
        assert.equal(exists(`${dir}/b2`), false, "the source is checked before the target dir");
        assertPermanent(
          await run(executor, "vacuum", { path: dir }),
          `${dir} is not a file, so not a database`,
        );
      });
      assert.equal(
        await Deno.readTextFile(`${dir}/notes.db`),
        "these are notes, not a database\n".repeat(200),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a locked database: 'database is locked' for each kind, retried, and the event loop keeps running",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-locked-" });
    const path = `${dir}/app.db`;
    // Another connection holds the write lock (rollback journal: readers are locked out too).
    const holder = new DatabaseSync(path);
    holder.exec(
      "CREATE TABLE t (x); INSERT INTO t VALUES (1); BEGIN EXCLUSIVE; INSERT INTO t VALUES (2)",
    );
    let maxLagMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - 50);
      last = now;
    }, 50);
    try {
      await withExecutor(async (executor) => {
        const jobs = await Promise.all([
          run(executor, "vacuum", { path }, 1),
          run(executor, "sqlite-checkpoint", { path }, 1),
          run(executor, "backup", { path, dir: `${dir}/backups` }, 1),
        ]);
        assert.deepEqual(jobs.map((j) => j.lastError?.message), [
          `vacuum of ${path} failed: database is locked`,
          `checkpoint of ${path} failed: database is locked`,
          `backup of ${path} failed: database is locked`,
        ]);
        assert.deepEqual(jobs.map((j) => j.state), ["dead", "dead", "dead"], "attempts used up");
        const retried = await run(executor, "vacuum", { path }, 2);
        assert.equal(retried.attempts.length, 2, "a locked database is worth a retry");
      });
      assert.ok(maxLagMs < 1_000, `the event loop was blocked for ${Math.round(maxLagMs)}ms`);
      assert.equal(exists(`${dir}/backups`), false, "no partial backup, not even its directory");
    } finally {
      clearInterval(ticker);
      holder.exec("ROLLBACK");
      holder.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a vacuum's SQLite child is registered with the runtime's guard: a runtime that dies stops it",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-guarded-vacuum-" });
    const path = `${dir}/app.db`;
    const holder = new DatabaseSync(path);
    holder.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    // A write transaction held open: the child's VACUUM waits its 5 s busy timeout.
    holder.exec("BEGIN IMMEDIATE; INSERT INTO t VALUES (2)");
    const guard = new ProcessGuard({ killGraceMs: 200 });
    const store = new MemoryStore();
    await store.open();
    const executor = new MaintenanceExecutor({
      store,
      kinds: builtinJobs({ processes: guard }),
      workers: 1,
    });
    await executor.start();
    try {
      const { id } = await executor.enqueue({ kind: "vacuum", payload: { path }, attempts: 1 });
      const deadline = Date.now() + 5_000;
      while (guard.liveGroups.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const [pgid] = guard.liveGroups;
      assert.ok(pgid !== undefined, "the SQLite child's group is registered");
      assert.ok(await groupAlive(pgid));
      const startedAt = Date.now();
      // As the runtime's death would: the watchdog's pipe ends without its goodbye.
      await guard.abandon();
      assert.equal(await groupAlive(pgid), false, "the watchdog stopped the SQLite child");
      const job = await executor.waitFor(id);
      assert.notEqual(job.state, "succeeded");
      assert.ok(Date.now() - startedAt < 4_000, "stopped well before SQLite's busy timeout");
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
      await executor.stop();
      await store.close();
      await guard.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
