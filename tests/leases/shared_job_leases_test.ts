/**
 * A job's lease on a store shared by two runtimes (real PostgreSQL): with a 1 s lease TTL, a
 * 3 s job keeps its lease the whole time (renewed through the store with new tokens), so a job
 * needing the same lease never starts on either runtime before it ends. Ignored without
 * PostgreSQL binaries.
 */
import assert from "node:assert/strict";
import { defineJob, type JobKind, MaintenanceExecutor } from "../../src/executor/mod.ts";
import { TerritoryLeases } from "../../src/leases/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import { freshDatabase, POSTGRES_INSTALLED, stopSharedPostgres } from "../_support/postgres.ts";

const runs: { tag: string; start: number; end: number }[] = [];

const hold = defineJob({
  kind: "hold",
  handler: ({ payload, signal }) => {
    const p = payload as { ms: number; tag: string };
    const start = Date.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, p.ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    }).finally(() => runs.push({ tag: p.tag, start, end: Date.now() }));
  },
}) as JobKind;

Deno.test({
  name: "shared store: a 3 s job keeps its lease past a 1 s TTL; the other runtime waits for it",
  ignore: !POSTGRES_INSTALLED,
  async fn() {
    const db = await freshDatabase("jobleases");
    assert.ok(db !== null);
    const nodes: {
      store: PostgresStore;
      leases: TerritoryLeases;
      executor: MaintenanceExecutor;
    }[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const store = new PostgresStore({ url: db.url, maxConnections: 4 });
        await store.open();
        const leases = new TerritoryLeases({ store, defaultTtl: "1s" });
        await leases.start();
        const executor = new MaintenanceExecutor({ store, kinds: [hold], workers: 2, leases });
        leases.on("lease:preempted", ({ lease, by }) => {
          if (lease.jobId) executor.preempt(lease.jobId, `preempted by ${by.holder}`);
        });
        await executor.start();
        nodes.push({ store, leases, executor });
      }
      const [one, two] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
      const a = await one.executor.enqueue({
        kind: "hold",
        payload: { ms: 3_000, tag: "a" },
        leases: ["db/x"],
      });
      const deadline = Date.now() + 5_000;
      while ((await one.store.get(a.id))?.state !== "running") {
        assert.ok(Date.now() < deadline, "a never started");
        await new Promise((r) => setTimeout(r, 20));
      }
      const b = await two.executor.enqueue({
        kind: "hold",
        payload: { ms: 100, tag: "b" },
        leases: ["db/x"],
      });
      const done = await Promise.all([one.executor.waitFor(a.id), two.executor.waitFor(b.id)]);
      assert.deepEqual(done.map((r) => r.state), ["succeeded", "succeeded"]);
      assert.equal(done[0].attempts.length, 1, "a was never interrupted");
      const ra = runs.find((r) => r.tag === "a")!;
      const rb = runs.find((r) => r.tag === "b")!;
      assert.ok(ra.end - ra.start >= 2_900);
      assert.ok(rb.start >= ra.end, `b started ${ra.end - rb.start} ms before a ended`);
      // The executor gives a job's leases back just after its end is committed, without
      // holding up the waiters: wait for that, briefly.
      const givenBackBy = Date.now() + 3_000;
      while ((await one.store.listLeases()).length > 0 && Date.now() < givenBackBy) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(await one.store.listLeases(), [], "both leases given back");
    } finally {
      for (const node of nodes) {
        await node.executor.stop();
        node.leases.stop();
        await node.store.close();
      }
      await stopSharedPostgres();
    }
  },
});
