/**
 * Self-fencing with a real PostgreSQL server and real processes: a runtime whose heartbeat
 * stops succeeding kills its command jobs' process groups before the other nodes may take it
 * for dead, and starts no job until its heartbeat is back. A node timeout with no room for
 * that is refused.
 */
import assert from "node:assert/strict";
import { Runtime } from "../../src/runtime/runtime.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import { groupAlive } from "../../src/jobs/_process_guard.ts";
import { freshDatabase, POSTGRES_INSTALLED, stopSharedPostgres } from "../_support/postgres.ts";

const LINUX = Deno.build.os === "linux";

async function until<T>(
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("a node timeout too short for heartbeat and kill grace is refused", () => {
  const store = () =>
    new PostgresStore({
      url: "postgres://liminal@/jobs?host=/nonexistent",
      heartbeatInterval: "3s",
      nodeTimeout: "12s",
    });
  assert.throws(
    () => new Runtime({ store: store() }),
    (e) =>
      isLiminalError(e, "INVALID_ARGUMENT") &&
      /node timeout \(12s\) is too short .* 3 × heartbeat \+ kill grace = 14s/.test(e.message) &&
      /--node-timeout/.test(e.hint ?? ""),
  );
  // With a shorter kill grace it fits.
  const runtime = new Runtime({ store: store(), killGrace: "1s" });
  assert.equal(runtime.state, "created");
});

Deno.test({
  name:
    "a runtime that loses its heartbeat kills its command's process group before the others may take it for dead, and claims nothing until the heartbeat is back",
  ignore: !POSTGRES_INSTALLED || !LINUX,
  async fn() {
    const db = await freshDatabase("fence");
    assert.ok(db !== null);
    const store = new PostgresStore({
      url: db.url,
      nodeId: "fenced-node",
      heartbeatInterval: "200ms",
      nodeTimeout: "3s",
      maxConnections: 2,
    });
    // Fences after 3s − 500ms − 200ms = 2.3s without a heartbeat; SIGKILL 500 ms later.
    const runtime = new Runtime({ store, killGrace: "500ms", workers: 1 });
    await runtime.start();
    let triggered = false;
    try {
      const { id } = await runtime.executor.enqueue({
        kind: "command",
        // It ignores SIGTERM: only the SIGKILL after the kill grace stops it.
        payload: { cmd: ["sh", "-c", "trap '' TERM; sleep 60"] },
      });
      const pgid = await until(() => runtime.processes.liveGroups[0], 10_000, "the command");
      assert.ok(await groupAlive(pgid));
      // From now on every heartbeat fails (the other writes go through).
      await db.query(`
        CREATE FUNCTION liminal.no_beat() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'heartbeat refused by the test'; END $$;
        CREATE TRIGGER no_beat BEFORE UPDATE ON liminal.nodes FOR EACH ROW
          EXECUTE FUNCTION liminal.no_beat();`);
      triggered = true;
      const blockedAt = performance.now();
      await until(async () => !(await groupAlive(pgid)), 5_000, "the process group to be killed");
      const took = performance.now() - blockedAt;
      assert.ok(took > 1_500, `not before the fence (${took}ms)`);
      // The others would take this node for dead only now + a moment: it is still alive to them.
      const [[alive]] = await db.query(
        `SELECT heartbeat_at > now() - interval '3 seconds' FROM liminal.nodes WHERE id = 'fenced-node'`,
      ) as [[string]];
      assert.equal(alive, "t", `the processes died before the node timeout (${took}ms)`);
      const record = await until(
        async () => {
          const job = await runtime.executor.get(id);
          return job?.state === "queued" ? job : null;
        },
        5_000,
        "the job to be requeued",
      );
      assert.equal(record.attempts[0]?.outcome, "interrupted");
      assert.match(record.lastError?.message ?? "", /heartbeat has failed/);
      assert.equal(store.fenced, true);
      // Fenced: the job is not claimed again here.
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await runtime.executor.get(id))?.state, "queued");
      // The heartbeat comes back: the job runs again.
      await db.query(`DROP TRIGGER no_beat ON liminal.nodes`);
      triggered = false;
      await until(async () => (await runtime.executor.get(id))?.state === "running", 10_000, "run");
      assert.equal(store.fenced, false);
      await runtime.executor.cancel(id);
      assert.equal((await runtime.executor.waitFor(id)).state, "cancelled");
    } finally {
      if (triggered) await db.query(`DROP TRIGGER no_beat ON liminal.nodes`).catch(() => {});
      await runtime.shutdown({ force: true });
      await stopSharedPostgres();
    }
    assert.deepEqual(runtime.processes.liveGroups, []);
    assert.equal(runtime.processes.watching, false);
  },
});
