/**
 * The maintenance built-ins, for real: http-check against a local server, and SQLite
 * checkpoint, vacuum and backup on a database file.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MaintenanceExecutor } from "../../src/executor/mod.ts";
import { builtinJobs } from "../../src/jobs/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { MemoryStore } from "../../src/store/mod.ts";

async function withExecutor(fn: (executor: MaintenanceExecutor) => Promise<void>): Promise<void> {
  const store = new MemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({ store, kinds: builtinJobs(), workers: 2 });
  await executor.start();
  try {
    await fn(executor);
  } finally {
    await executor.stop();
    await store.close();
  }
}

const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "http-check: the expected status passes; another status, a timeout or no server fails",
  ...sanitized,
  async fn() {
    const server = Deno.serve({ port: 0, onListen: () => {} }, async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/slow") await new Promise((r) => setTimeout(r, 500));
      return new Response("ok", { status: path === "/down" ? 503 : 200 });
    });
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      await withExecutor(async (executor) => {
        const ok = await executor.waitFor(
          (await executor.enqueue({ kind: "http-check", payload: { url: `${base}/health` } })).id,
        );
        assert.equal(ok.state, "succeeded");
        assert.equal(JSON.parse(ok.result!).status, 200);
        const down = await executor.waitFor(
          (await executor.enqueue({
            kind: "http-check",
            payload: { url: `${base}/down` },
            attempts: 1,
          })).id,
        );
        assert.equal(down.state, "dead");
        assert.match(down.lastError!.message, /answered 503; expected 200/);
        const slow = await executor.waitFor(
          (await executor.enqueue({
            kind: "http-check",
            payload: { url: `${base}/slow`, timeout: "100ms" },
            attempts: 1,
          })).id,
        );
        assert.match(slow.lastError!.message, /did not answer within 100ms/);
        const accepted = await executor.waitFor(
          (await executor.enqueue({
            kind: "http-check",
            payload: { url: `${base}/down`, expect: [200, 503] },
          })).id,
        );
        assert.equal(accepted.state, "succeeded");
        await assert.rejects(
          executor.enqueue({ kind: "http-check", payload: { url: "ftp://x" } }),
          (e) => isLiminalError(e, "INVALID_PAYLOAD"),
        );
        await assert.rejects(
          executor.enqueue({ kind: "http-check", payload: { url: base, expect: 999 } }),
          (e) => isLiminalError(e, "INVALID_PAYLOAD"),
        );
      });
    } finally {
      await server.shutdown(); // waits for the slow handler the client gave up on
    }
  },
});

Deno.test({
  name:
    "backup: the copy is 0600 (what the database holds stays its owner's); a directory it creates is 0700, an existing one is left alone",
  ignore: Deno.build.os === "windows",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-maint-" });
    try {
      const path = `${dir}/app.db`;
      const db = new DatabaseSync(path);
      db.exec("CREATE TABLE secrets (x TEXT); INSERT INTO secrets VALUES ('s3cr3t')");
      db.close();
      await Deno.chmod(path, 0o600);
      // A new directory and its missing parent; an existing one keeps its mode.
      const fresh = `${dir}/vault/backups`;
      await Deno.mkdir(`${dir}/shared`, { mode: 0o755 });
      await Deno.chmod(`${dir}/shared`, 0o755);
      await withExecutor(async (executor) => {
        for (const target of [fresh, `${dir}/shared`]) {
          const backup = await executor.waitFor(
            (await executor.enqueue({ kind: "backup", payload: { path, dir: target } })).id,
          );
          assert.equal(backup.state, "succeeded", backup.lastError?.message);
          const file = JSON.parse(backup.result!).file;
          assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, `${file} is 0600`);
          const copy = new DatabaseSync(file, { readOnly: true });
          assert.equal(copy.prepare("SELECT x FROM secrets").get()!.x, "s3cr3t");
          copy.close();
        }
      });
      assert.equal((await Deno.stat(fresh)).mode! & 0o777, 0o700, "the created directory");
      assert.equal((await Deno.stat(`${dir}/vault`)).mode! & 0o777, 0o700, "and its parent");
      assert.equal((await Deno.stat(`${dir}/shared`)).mode! & 0o777, 0o755, "left as it was");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "sqlite-checkpoint, vacuum and backup (keeping the last N) on a database file",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-maint-" });
    try {
      const path = `${dir}/app.db`;
      const db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT)");
      const insert = db.prepare("INSERT INTO t VALUES (?)");
      for (let i = 0; i < 2_000; i++) insert.run("x".repeat(200));
      db.exec("DELETE FROM t WHERE rowid % 2 = 0");
      await withExecutor(async (executor) => {
        const checkpoint = await executor.waitFor(
          (await executor.enqueue({ kind: "sqlite-checkpoint", payload: { path } })).id,
        );
        assert.equal(checkpoint.state, "succeeded", checkpoint.lastError?.message);
        assert.equal(JSON.parse(checkpoint.result!).busy, false);
        db.close();
        const vacuum = await executor.waitFor(
          (await executor.enqueue({ kind: "vacuum", payload: { path } })).id,
        );
        assert.equal(vacuum.state, "succeeded", vacuum.lastError?.message);
        const sizes = JSON.parse(vacuum.result!);
        assert.ok(
          sizes.bytesAfter < sizes.bytesBefore,
          `vacuum shrank the file: ${JSON.stringify(sizes)}`,
        );
        const files: string[] = [];
        for (let i = 0; i < 3; i++) {
          const backup = await executor.waitFor(
            (await executor.enqueue({
              kind: "backup",
              payload: { path, dir: `${dir}/backups`, keep: 2 },
            })).id,
          );
          assert.equal(backup.state, "succeeded", backup.lastError?.message);
          files.push(JSON.parse(backup.result!).file);
          await new Promise((r) => setTimeout(r, 5));
        }
        const kept = [];
        for await (const entry of Deno.readDir(`${dir}/backups`)) kept.push(entry.name);
        assert.equal(kept.length, 2, `kept the last two: ${kept}`);
        const copy = new DatabaseSync(files.at(-1)!, { readOnly: true });
        assert.equal(
          copy.prepare("SELECT COUNT(*) AS n FROM t").get()!.n,
          1_000,
          "a consistent copy",
        );
        copy.close();
        const missing = await executor.waitFor(
          (await executor.enqueue({
            kind: "backup",
            payload: { path: `${dir}/nope.db`, dir: `${dir}/backups` },
          })).id,
        );
        assert.equal(missing.state, "dead", "a missing source fails for good: dead");
        assert.equal(missing.attempts.length, 1);
        assert.match(missing.lastError!.message, /no database file/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
