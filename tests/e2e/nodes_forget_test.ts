/**
 * `liminal nodes forget ID` with a real `liminal start --no-tui` and the real CLI: with a store
 * only one runtime uses it is refused (exit 2, the store is not shared); on a Postgres store a
 * dead node leaves `liminal nodes` at once, while an unknown id (exit 2), a live node and the
 * runtime's own node (exit 4) are refused. The dead and live nodes are rows put in the
 * database by the test, their heartbeats set on the database's clock.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";
import { freshDatabase, POSTGRES_INSTALLED, stopSharedPostgres } from "../_support/postgres.ts";

async function startRuntime(dir: string, store: string, extra: string[] = []) {
  const proc = spawnLiminal(["start", "--no-tui", "--store", store, ...extra], { cwd: dir });
  await proc.waitFor(
    (p) => p.stderr.includes("Ctrl-C to stop") || p.child.pid === 0,
    30_000,
    "the runtime to start",
  );
  return proc;
}

/** The one JSON document on stdout of a failed `--json` command. */
function errorDoc(stdout: string): { code: string; message: string; hint: string | null } {
  const doc = JSON.parse(stdout);
  assert.deepEqual(Object.keys(doc), ["error"]);
  return doc.error;
}

Deno.test("nodes forget: a store only one runtime uses is not shared (exit 2)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-forget-" });
  let proc: LiminalProcess | undefined;
  try {
    proc = await startRuntime(dir, ":memory:");
    const human = await runLiminal(["nodes", "forget", "x"], { cwd: dir });
    assert.equal(human.code, 2, human.stderr);
    assert.equal(human.stdout, "");
    assert.match(
      human.stderr,
      /INVALID_ARGUMENT: no node x to forget: this runtime's store is not shared/,
    );
    const json = await runLiminal(["nodes", "forget", "x", "--json"], { cwd: dir });
    assert.equal(json.code, 2);
    const error = errorDoc(json.stdout);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /store is not shared/);
    proc.kill("SIGTERM");
    assert.equal((await proc.done()).code, 0);
  } finally {
    await proc?.[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "nodes forget: on Postgres a dead node leaves liminal nodes at once; unknown, alive, self refused",
  ignore: !POSTGRES_INSTALLED,
  async fn() {
    const db = await freshDatabase("forget_e2e");
    assert.ok(db !== null);
    const dir = await Deno.makeTempDir({ prefix: "liminal-forget-pg-" });
    let proc: LiminalProcess | undefined;
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    const listed = async () => {
      const result = await cli(["nodes", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout).nodes as { id: string }[]).map((n) => n.id).sort();
    };
    try {
      proc = await startRuntime(dir, db.url, ["--node-id", "self-node"]);
      await db.query(
        `INSERT INTO liminal.nodes (id, host, pid, version, heartbeat_at) VALUES
           ('ghost', 'old.example', 4242, '0.0.0', now() - interval '10 minutes'),
           ('beating', 'new.example', 4343, '0.0.0', now() + interval '1 hour')`,
      );
      assert.deepEqual(await listed(), ["beating", "ghost", "self-node"]);

      const forgot = await cli(["nodes", "forget", "ghost"]);
      assert.equal(forgot.code, 0, forgot.stderr);
      assert.equal(forgot.stdout, "forgot node ghost\n");
      assert.deepEqual(await listed(), ["beating", "self-node"]);

      const again = await cli(["nodes", "forget", "ghost", "--json"]);
      assert.equal(again.code, 2);
      assert.equal(errorDoc(again.stdout).code, "NODE_NOT_FOUND");

      const alive = await cli(["nodes", "forget", "beating", "--json"]);
      assert.equal(alive.code, 4);
      const conflict = errorDoc(alive.stdout);
      assert.equal(conflict.code, "CONFLICT");
      assert.match(
        conflict.message,
        /^node beating \(pid 4343 on new\.example\) is alive: last heartbeat/,
      );

      const self = await cli(["nodes", "forget", "self-node"]);
      assert.equal(self.code, 4);
      assert.match(self.stderr, /CONFLICT: node self-node is this runtime/);
      assert.deepEqual(await listed(), ["beating", "self-node"]);

      // One more dead node, forgotten with --json: exactly one document.
      await db.query(
        `INSERT INTO liminal.nodes (id, host, pid, version, heartbeat_at)
         VALUES ('ghost-2', 'old.example', 4444, '0.0.0', now() - interval '10 minutes')`,
      );
      const json = await cli(["nodes", "forget", "ghost-2", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), { forgotten: "ghost-2" });

      proc.kill("SIGTERM");
      assert.equal((await proc.done()).code, 0);
    } finally {
      await proc?.[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
      await stopSharedPostgres();
    }
  },
});
