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
    const p = payload as { ms: number; tag: string; stopMs?: number };
    const start = Date.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, p.ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        // A job whose processes take a while to stop once told.
        setTimeout(() => reject(signal.reason), p.stopMs ?? 0);
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

Deno.test({
  name:
    "shared store: preempting a job of another runtime interrupts it there; the lease changes hands once its attempt has ended",
  ignore: !POSTGRES_INSTALLED,
  async fn() {
    const db = await freshDatabase("handover");
    assert.ok(db !== null);
    const stores: PostgresStore[] = [];
    const leaseSets: TerritoryLeases[] = [];
    let executor: MaintenanceExecutor | null = null;
    try {
      for (let i = 0; i < 2; i++) {
        const store = new PostgresStore({ url: db.url, maxConnections: 4 });
        await store.open();
        stores.push(store);
        const leases = new TerritoryLeases({ store });
        await leases.start();
        leaseSets.push(leases);
      }
      const [storeOne] = stores as [PostgresStore];
      const [one, two] = leaseSets as [TerritoryLeases, TerritoryLeases];
      // The job runs on runtime one; an operator of runtime two preempts it.
      const exec = new MaintenanceExecutor({
        store: storeOne,
        kinds: [hold],
        workers: 1,
        killAfter: "5s",
        leases: one,
      });
      executor = exec;
      const told: string[] = [];
      one.on("lease:preempted", ({ lease, by }) => {
        if (lease.jobId) {
          told.push(by.holder);
          exec.preempt(lease.jobId, `preempted by ${by.holder}`);
        }
      });
      await exec.start();
      const job = await exec.enqueue({
        kind: "hold",
        payload: { ms: 60_000, tag: "handover", stopMs: 1_000 },
        leases: ["db/s"],
        priority: "info",
      });
      const deadline = Date.now() + 5_000;
      while ((await storeOne.get(job.id))?.state !== "running") {
        assert.ok(Date.now() < deadline, "the job never started");
        await new Promise((r) => setTimeout(r, 20));
      }
      await two.reload();
      assert.equal(two.holderOf("db/s")?.jobId, job.id);
      const asked = Date.now();
      const lease = await two.acquire("db/s", { holder: "eve", priority: "critical", ttl: "2m" });
      const run = runs.find((r) => r.tag === "handover");
      assert.ok(run !== undefined, "the job's attempt had ended when eve got the lease");
      assert.ok(run.end <= lease.acquiredAt, `eve got it ${run.end - lease.acquiredAt} ms early`);
      assert.ok(lease.acquiredAt - asked >= 900, "the handover waited for the job to stop");
      assert.deepEqual(told, ["a higher-priority holder on another runtime"], "told once");
      const record = await storeOne.get(job.id);
      assert.equal(record?.attempts[0]?.outcome, "interrupted");
      const rows = await storeOne.listLeases();
      assert.deepEqual(rows.map((r) => [r.resource, r.holder]), [["db/s", "eve"]]);
      await two.release("db/s", "eve");
    } finally {
      if (executor !== null) await executor.stop();
      for (const leases of leaseSets) leases.stop();
      for (const store of stores) await store.close();
      await stopSharedPostgres();
    }
  },
});
