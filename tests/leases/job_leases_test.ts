/**
 * Jobs that need territory leases: they wait for them, never share them, and give them back
 * however they end; a higher-priority holder preempts a job.
 */
import assert from "node:assert/strict";
import { defineJob, type JobKind, MaintenanceExecutor } from "../../src/executor/mod.ts";
import { TerritoryLeases } from "../../src/leases/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { MemoryStore } from "../../src/store/mod.ts";
import { type FakeClock, installFakeTime, settle } from "../_support/fake_time.ts";

/** Handlers running now per lease, and the most seen at once: measured inside the handlers. */
const inside = new Map<string, number>();
const mostInside = new Map<string, number>();

const work = defineJob({
  kind: "work",
  handler: ({ payload, signal, job }) => {
    const p = payload as {
      ms?: number;
      fail?: boolean;
      ignore?: boolean;
      tag?: string;
      /** After its signal, it takes this long to stop (its processes winding down). */
      stopMs?: number;
    };
    const tag = p.tag ?? job.id;
    inside.set(tag, (inside.get(tag) ?? 0) + 1);
    mostInside.set(tag, Math.max(mostInside.get(tag) ?? 0, inside.get(tag)!));
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => (p.fail ? reject(new Error("boom")) : resolve({ ok: true })),
        p.ms ?? 1_000,
      );
      if (!p.ignore) {
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          if (p.stopMs === undefined) reject(signal.reason);
          else setTimeout(() => reject(signal.reason), p.stopMs);
        }, { once: true });
      }
    }).finally(() => inside.set(tag, inside.get(tag)! - 1));
  },
}) as JobKind;

async function setup(clock: FakeClock, defaultTtl?: string) {
  const store = new MemoryStore();
  await store.open();
  const leases = new TerritoryLeases({
    store,
    ...(defaultTtl === undefined ? {} : { defaultTtl }),
  });
  await leases.start();
  const executor = new MaintenanceExecutor({
    store,
    kinds: [work],
    workers: 3,
    killAfter: "1s",
    leases,
  });
  leases.on(
    "lease:preempted",
    ({ lease, by }) => lease.jobId && executor.preempt(lease.jobId, `taken by ${by.holder}`),
  );
  await executor.start();
  return {
    store,
    leases,
    executor,
    async close() {
      let stopped = false;
      const stopping = executor.stop().finally(() => (stopped = true));
      for (let i = 0; i < 50 && !stopped; i++) await clock.tickAsync(1_000);
      await stopping;
      leases.stop();
      await store.close();
    },
  };
}

Deno.test("two jobs needing the same lease never run at the same time; others run beside them", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    const a = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 1_000, tag: "orders" },
      leases: ["db/orders"],
    });
    const b = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 1_000, tag: "orders" },
      leases: ["db/orders"],
    });
    const c = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 1_000 },
      leases: ["db/other"],
    });
    await settle(clock);
    assert.equal(t.executor.runningCount, 2, "a and c run; b waits for db/orders");
    assert.equal((await t.executor.get(b.id))?.state, "queued");
    const why = await t.executor.explain(b.id);
    assert.ok(
      why.reasons.some((r) => r.includes(`needs lease db/orders, held by job:${a.id}`)),
      why.reasons.join("\n"),
    );
    assert.equal(
      t.leases.snapshot().find((l) => l.resource === "db/orders")?.holder,
      `job:${a.id}`,
    );
    await clock.tickAsync(1_000);
    await settle(clock);
    assert.equal((await t.executor.get(b.id))?.state, "running", "b got the lease when a ended");
    await clock.tickAsync(1_000);
    await settle(clock);
    for (const id of [a.id, b.id, c.id]) {
      assert.equal((await t.executor.get(id))?.state, "succeeded");
    }
    assert.equal(mostInside.get("orders"), 1, "never two handlers holding db/orders at once");
    assert.deepEqual(t.leases.snapshot(), [], "every lease given back");
  } finally {
    await t.close();
  }
});

Deno.test("a job gives its leases back however it ends: success, failure, timeout, cancel, shutdown", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    const held = () => t.leases.snapshot().map((l) => l.resource);
    await t.executor.enqueue({ kind: "work", payload: { ms: 10 }, leases: ["r/success"] });
    await t.executor.enqueue({
      kind: "work",
      payload: { ms: 10, fail: true },
      attempts: 1,
      leases: ["r/failure"],
    });
    await t.executor.enqueue({
      kind: "work",
      payload: { ms: 60_000 },
      timeout: "100ms",
      attempts: 1,
      leases: ["r/timeout"],
    });
    await settle(clock);
    assert.deepEqual(held().sort(), ["r/failure", "r/success", "r/timeout"]);
    await clock.tickAsync(20);
    await settle(clock);
    assert.deepEqual(held(), ["r/timeout"], "success and failure released");
    const cancelled = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 60_000 },
      leases: ["r/cancel"],
    });
    await settle(clock);
    assert.equal((await t.executor.get(cancelled.id))?.state, "running");
    await t.executor.cancel(cancelled.id);
    await clock.tickAsync(200);
    await settle(clock);
    assert.deepEqual(held(), [], "timeout and cancel released");
    await t.executor.enqueue({
      kind: "work",
      payload: { ms: 60_000, ignore: true },
      leases: ["r/shutdown"],
    });
    await settle(clock);
    assert.deepEqual(held(), ["r/shutdown"]);
    t.executor.closeIntake();
    const interrupting = t.executor.interrupt(500);
    await clock.tickAsync(600);
    assert.equal(await interrupting, 1);
    await settle(clock);
    assert.deepEqual(held(), [], "an interrupted job released its lease too");
  } finally {
    await t.close();
  }
});

Deno.test("an operator one level higher preempts a job's lease: the job is interrupted and runs again later", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    const job = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 5_000 },
      leases: ["db/orders"],
      priority: "info",
    });
    await settle(clock);
    assert.equal((await t.executor.get(job.id))?.state, "running");
    await t.leases.acquire("db/orders", { holder: "ops", priority: "blocking", ttl: "2m" });
    await settle(clock);
    const record = await t.executor.get(job.id);
    assert.equal(record?.state, "queued", "interrupted and queued again, not failed");
    assert.equal(record?.attempts[0]?.outcome, "interrupted");
    assert.match(record?.lastError?.message ?? "", /taken by ops/);
    await clock.tickAsync(10_000);
    await settle(clock);
    assert.equal(
      (await t.executor.get(job.id))?.state,
      "queued",
      "still waiting for the operator's lease",
    );
    await t.leases.release("db/orders", "ops");
    await clock.tickAsync(5_000);
    await settle(clock);
    assert.equal((await t.executor.get(job.id))?.state, "succeeded");
  } finally {
    await t.close();
  }
});

Deno.test("a job keeps its lease as long as its attempt runs, past the TTL: renewed, then released", async () => {
  using clock = installFakeTime();
  const t = await setup(clock, "1s");
  try {
    const renewed: number[] = [];
    t.leases.on("lease:renewed", ({ lease }) => renewed.push(lease.expiresAt));
    const a = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 3_000, tag: "x" },
      leases: ["db/x"],
    });
    const b = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 100, tag: "x" },
      leases: ["db/x"],
    });
    await settle(clock);
    const start = Date.now();
    while (Date.now() - start < 2_950) {
      await clock.tickAsync(50);
      assert.equal((await t.executor.get(a.id))?.state, "running", "A runs its 3 s");
      assert.equal(
        (await t.executor.get(b.id))?.state,
        "queued",
        `B waits while A runs (at ${Date.now() - start} ms)`,
      );
      assert.equal(t.leases.holderOf("db/x")?.holder, `job:${a.id}`);
      const stored = await t.store.listLeases();
      assert.equal(stored.length, 1);
      assert.ok(stored[0]!.expiresAt > Date.now(), "the stored lease is live too");
    }
    assert.ok(renewed.length >= 6, `renewed every third of the TTL (${renewed.length} times)`);
    await assert.rejects(
      t.leases.release("db/x", `job:${a.id}`),
      (e) =>
        isLiminalError(e, "LEASE_HELD_BY_OTHER") &&
        /a job's lease ends with its attempt/.test(e.message),
      "nobody releases a running job's lease by naming its holder",
    );
    await clock.tickAsync(100);
    await settle(clock);
    assert.equal((await t.executor.get(a.id))?.state, "succeeded");
    assert.equal(t.leases.holderOf("db/x")?.holder, `job:${b.id}`, "B takes it when A ends");
    await clock.tickAsync(200);
    await settle(clock);
    assert.equal((await t.executor.get(b.id))?.state, "succeeded");
    assert.equal(mostInside.get("x"), 1, "never two handlers holding db/x at once");
    assert.deepEqual(t.leases.snapshot(), [], "released when the attempts ended");
    assert.deepEqual(await t.store.listLeases(), []);
    // Nothing renews a lease nobody runs under: the timers are gone.
    const count = renewed.length;
    await clock.tickAsync(5_000);
    assert.equal(renewed.length, count);
  } finally {
    await t.close();
  }
});

Deno.test("an operator's lease is not preempted by a critical job: the job waits, named in why, and runs after the release", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    await t.leases.acquire("db/app", { holder: "alice", ttl: "10m" });
    const job = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 100 },
      leases: ["db/app"],
      priority: "critical",
    });
    await clock.tickAsync(60_000);
    await settle(clock);
    assert.equal((await t.executor.get(job.id))?.state, "queued");
    assert.equal(t.executor.runningCount, 0, "parked: no worker taken");
    assert.equal(t.leases.holderOf("db/app")?.holder, "alice");
    const why = await t.executor.explain(job.id);
    assert.ok(
      why.reasons.some((r) => /needs lease db\/app, held by alice \(coordinate\) for 9m/.test(r)),
      why.reasons.join("\n"),
    );
    await t.leases.release("db/app", "alice");
    await clock.tickAsync(200);
    await settle(clock);
    assert.equal((await t.executor.get(job.id))?.state, "succeeded");
  } finally {
    await t.close();
  }
});

Deno.test("a job preempting a job's lease parks until the preempted attempt has ended, first in line", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    // A takes 800 ms to stop once told (its processes winding down); B preempts it.
    const a = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 60_000, stopMs: 800, tag: "handover" },
      leases: ["db/h"],
      priority: "info",
    });
    await settle(clock);
    assert.equal((await t.executor.get(a.id))?.state, "running");
    const ended: Record<string, number> = {};
    const started: Record<string, number> = {};
    t.executor.on("job:started", ({ id }) => (started[id] ??= Date.now()));
    t.executor.on("job:interrupted", ({ id }) => (ended[id] ??= Date.now()));
    const b = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 1_000, tag: "handover" },
      leases: ["db/h"],
      priority: "critical",
    });
    await settle(clock);
    // A was told at once, and still holds the lease while it stops; B has no worker.
    assert.equal(inside.get("handover"), 1);
    assert.equal((await t.executor.get(b.id))?.state, "queued");
    assert.equal(t.executor.runningCount, 1, "B is parked, not on a worker");
    assert.equal(t.leases.holderOf("db/h")?.holder, `job:${a.id}`);
    assert.deepEqual(
      t.leases.recentPreemptions().map((p) => [p.holder, p.by]),
      [[`job:${a.id}`, `job:${b.id}`]],
    );
    // A lower-priority operator asking meanwhile does not sneak in before B.
    let lowGot = 0;
    const low = t.leases.acquireOrWait("db/h", { holder: "low", priority: "blocking" })
      .then((lease) => (lowGot = Date.now(), lease));
    await clock.tickAsync(1_000);
    await settle(clock);
    assert.equal((await t.executor.get(b.id))?.state, "running", "B runs once A has ended");
    assert.equal(lowGot, 0, "the operator waits for B");
    assert.ok(started[b.id]! >= ended[a.id]!, `B started ${started[b.id]}, A ended ${ended[a.id]}`);
    assert.equal(mostInside.get("handover"), 1, "A and B never ran at once");
    await clock.tickAsync(1_500);
    await settle(clock);
    assert.equal((await t.executor.get(b.id))?.state, "succeeded");
    await low;
    assert.ok(lowGot > 0);
    await t.leases.release("db/h", "low");
  } finally {
    await t.close();
  }
});

Deno.test("an operator's acquire that preempts a job returns once the job's attempt has ended", async () => {
  using clock = installFakeTime();
  const t = await setup(clock);
  try {
    const job = await t.executor.enqueue({
      kind: "work",
      payload: { ms: 60_000, stopMs: 700, tag: "op-handover" },
      leases: ["db/o"],
      priority: "info",
    });
    await settle(clock);
    let got = false;
    const acquiring = t.leases.acquire("db/o", { holder: "eve", priority: "critical", ttl: "3m" })
      .then((lease) => {
        got = true;
        // The job's handler had stopped before the lease changed hands.
        assert.equal(inside.get("op-handover"), 0);
        return lease;
      });
    await clock.tickAsync(300);
    await settle(clock);
    assert.equal(got, false, "not while the job still stops");
    assert.equal(t.leases.holderOf("db/o")?.holder, `job:${job.id}`);
    await clock.tickAsync(1_000);
    const lease = await acquiring;
    assert.equal(lease.holder, "eve");
    const record = await t.executor.get(job.id);
    assert.equal(record?.attempts[0]?.outcome, "interrupted");
    assert.match(record?.lastError?.message ?? "", /taken by eve/);
    await t.leases.release("db/o", "eve");
  } finally {
    await t.close();
  }
});
