/**
 * Territory leases under fake time: TTLs, expiry, preemption rules, waiter order, overlap,
 * persistence.
 */
import assert from "node:assert/strict";
import { overlaps, TerritoryLeases } from "../../src/leases/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { type JobStore, MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import { installFakeTime, settle } from "../_support/fake_time.ts";

async function manager(store: JobStore = new MemoryStore()) {
  await store.open();
  const leases = new TerritoryLeases({ store });
  await leases.start();
  return { leases, store };
}

Deno.test("overlaps: equal names, and a /* pattern with what lies under it", () => {
  assert.ok(overlaps("db/orders", "db/orders"));
  assert.ok(overlaps("files/uploads/*", "files/uploads/a.png"));
  assert.ok(overlaps("files/uploads/a.png", "files/uploads/*"));
  assert.ok(overlaps("files/*", "files/uploads/*"));
  assert.ok(!overlaps("db/orders", "db/orders2"));
  assert.ok(!overlaps("files/uploads/*", "files/other"));
});

Deno.test("acquire, release, TTL limits and errors", async () => {
  using clock = installFakeTime();
  const { leases, store } = await manager();
  const lease = await leases.acquire("db/orders", { holder: "ana" });
  assert.equal(lease.expiresAt - Date.now(), 15 * 60_000, "15 min by default");
  await assert.rejects(
    leases.acquire("db/orders", { holder: "bob" }),
    (e) => isLiminalError(e, "LEASE_HELD") && /held by ana/.test(e.message),
  );
  await assert.rejects(
    leases.acquire("db/x", { holder: "bob", ttl: "2h" }),
    (e) => isLiminalError(e, "INVALID_DURATION") && /over the maximum of 1h/.test(e.message),
  );
  await assert.rejects(
    leases.release("db/orders", "bob"),
    (e) => isLiminalError(e, "LEASE_HELD_BY_OTHER") && /ana does/.test(e.message),
  );
  await assert.rejects(
    leases.release("db/none", "bob"),
    (e) => isLiminalError(e, "LEASE_NOT_HELD"),
  );
  await leases.release("db/orders", "ana");
  assert.deepEqual(leases.snapshot(), []);
  assert.deepEqual(await store.listLeases(), []);
  const renewed = await leases.acquire("db/orders", { holder: "bob", ttl: "1m" });
  await clock.tickAsync(30_000);
  const longer = await leases.renew("db/orders", "bob", "5m");
  assert.ok(longer.expiresAt > renewed.expiresAt);
  leases.stop();
});

Deno.test("expired leases are swept at their TTL", async () => {
  using clock = installFakeTime();
  const { leases, store } = await manager();
  const expired: string[] = [];
  leases.on("lease:expired", ({ lease }) => expired.push(lease.resource));
  await leases.acquire("db/a", { holder: "ana", ttl: "10s" });
  await clock.tickAsync(9_999);
  assert.deepEqual(expired, []);
  await clock.tickAsync(1);
  await settle(clock);
  assert.deepEqual(expired, ["db/a"]);
  assert.deepEqual(await store.listLeases(), []);
  leases.stop();
});

Deno.test("preemption: one level higher takes over unless 60 s or less are left; then it waits", async () => {
  using clock = installFakeTime();
  const { leases } = await manager();
  const preempted: string[] = [];
  leases.on("lease:preempted", ({ lease, by }) => preempted.push(`${lease.holder}→${by.holder}`));
  await leases.acquire("db/orders", {
    holder: "low",
    priority: "info",
    ttl: "10m",
    preemptible: true,
  });
  await assert.rejects(
    leases.acquire("db/orders", { holder: "same", priority: "info" }),
    (e) => isLiminalError(e, "LEASE_HELD"),
  );
  const taken = await leases.acquire("db/orders", {
    holder: "high",
    priority: "coordinate",
    preemptible: true,
  });
  assert.equal(taken.holder, "high");
  assert.deepEqual(preempted, ["low→high"]);
  // The new holder has under a minute left: a higher requester waits rather than preempts.
  await leases.renew("db/orders", "high", "50s");
  await assert.rejects(
    leases.acquire("db/orders", { holder: "urgent", priority: "critical" }),
    (e) => isLiminalError(e, "LEASE_HELD") && /wait rather than preempt/.test(e.message),
  );
  const waiting = leases.acquireOrWait("db/orders", { holder: "urgent", priority: "critical" });
  await clock.tickAsync(50_000);
  await settle(clock);
  assert.equal((await waiting).holder, "urgent");
  leases.stop();
});

Deno.test("waiters get the lease in priority order, then in arrival order", async () => {
  using clock = installFakeTime();
  const { leases } = await manager();
  await leases.acquire("db/orders", { holder: "holder", priority: "critical" });
  const order: string[] = [];
  const wait = (holder: string, priority: "info" | "blocking") =>
    leases.acquireOrWait("db/orders", { holder, priority }).then(async () => {
      order.push(holder);
      await leases.release("db/orders", holder);
    });
  const all = Promise.all([
    wait("info-1", "info"),
    wait("blocking-1", "blocking"),
    wait("info-2", "info"),
    wait("blocking-2", "blocking"),
  ]);
  assert.equal(leases.snapshot()[0]?.waiters.length, 4);
  await leases.release("db/orders", "holder");
  await all;
  assert.deepEqual(order, ["blocking-1", "blocking-2", "info-1", "info-2"]);
  void clock;
  leases.stop();
});

Deno.test("a /* lease excludes the resources under it", async () => {
  using _clock = installFakeTime();
  const { leases } = await manager();
  await leases.acquire("files/uploads/*", { holder: "cleaner" });
  await assert.rejects(
    leases.acquire("files/uploads/a.png", { holder: "writer" }),
    (e) => isLiminalError(e, "LEASE_HELD"),
  );
  await leases.acquire("files/other/b.png", { holder: "writer" });
  assert.equal(
    leases.blockedBy(["files/uploads/x"], { holder: "job:1", priority: "coordinate", jobId: "1" }),
    "files/uploads/x",
  );
  leases.stop();
});

Deno.test("leases persist: a restart loads live ones and drops expired ones", async () => {
  using clock = installFakeTime();
  const dir = await Deno.makeTempDir({ prefix: "liminal-leases-" });
  try {
    const path = `${dir}/l.db`;
    const first = await manager(new SqliteStore({ path }));
    await first.leases.acquire("db/short", { holder: "ana", ttl: "1m" });
    await first.leases.acquire("db/long", { holder: "ana", ttl: "1h" });
    first.leases.stop();
    await first.store.close(); // as if the runtime died holding them
    await clock.tickAsync(2 * 60_000);
    const second = await manager(new SqliteStore({ path }));
    assert.deepEqual(second.leases.snapshot().map((l) => l.resource), ["db/long"]);
    await assert.rejects(
      second.leases.acquire("db/long", { holder: "bob" }),
      (e) => isLiminalError(e, "LEASE_HELD"),
    );
    await second.leases.acquire("db/short", { holder: "bob" });
    second.leases.stop();
    await second.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an operator's lease is never preempted unless acquired preemptible; the flag survives a renewal and a restart", async () => {
  using clock = installFakeTime();
  const dir = await Deno.makeTempDir({ prefix: "liminal-leases-" });
  try {
    const path = `${dir}/l.db`;
    const { leases, store } = await manager(new SqliteStore({ path }));
    await leases.acquire("db/app", { holder: "alice", ttl: "10m" });
    await assert.rejects(
      leases.acquire("db/app", { holder: "boss", priority: "override" }),
      (e) =>
        isLiminalError(e, "LEASE_HELD") &&
        /held by alice \(an operator's lease, not preemptible, 10m left\)/.test(e.message),
    );
    assert.equal(
      leases.blockedBy(["db/app"], { holder: "job:1", priority: "override", jobId: "1" }),
      "db/app",
      "a job of the highest priority waits too",
    );
    await leases.acquire("db/soft", { holder: "carol", ttl: "10m", preemptible: true });
    await leases.renew("db/soft", "carol", "20m");
    assert.deepEqual(
      leases.snapshot().map((l) => [l.resource, l.preemptible]),
      [["db/app", false], ["db/soft", true]],
    );
    leases.stop();
    await store.close();
    await clock.tickAsync(1_000);
    const again = await manager(new SqliteStore({ path }));
    await assert.rejects(
      again.leases.acquire("db/app", { holder: "boss", priority: "override" }),
      (e) => isLiminalError(e, "LEASE_HELD"),
    );
    const taken = await again.leases.acquire("db/soft", { holder: "boss", priority: "override" });
    assert.equal(taken.holder, "boss");
    assert.deepEqual(
      again.leases.recentPreemptions().map((p) => `${p.holder}→${p.by} ${p.resource}`),
      ["carol→boss db/soft"],
    );
    again.leases.stop();
    await again.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("acquiring again as the same holder is refused: renewing is explicit and may shorten only as asked", async () => {
  using clock = installFakeTime();
  const { leases } = await manager();
  const first = await leases.acquire("db/app", { holder: "alice", ttl: "10m" });
  await assert.rejects(
    leases.acquire("db/app", { holder: "alice", ttl: "1m" }),
    (e) =>
      isLiminalError(e, "LEASE_HELD") && /already held by alice \(10m left\)/.test(e.message) &&
      /leases renew db\/app --holder alice/.test(e.hint ?? ""),
  );
  await assert.rejects(
    leases.acquireOrWait("db/app", { holder: "alice", ttl: "1m" }),
    (e) => isLiminalError(e, "LEASE_HELD"),
  );
  assert.equal(leases.get("db/app")?.expiresAt, first.expiresAt, "the TTL is unchanged");
  await clock.tickAsync(1_000);
  const shorter = await leases.renew("db/app", "alice", "1m");
  assert.equal(shorter.expiresAt, Date.now() + 60_000, "a renewal sets what it was asked");
  await assert.rejects(
    leases.renew("db/app", "bob", "1h"),
    (e) => isLiminalError(e, "LEASE_HELD_BY_OTHER") && /alice does/.test(e.message),
  );
  await assert.rejects(
    leases.release("db/app", "bob"),
    (e) => isLiminalError(e, "LEASE_HELD_BY_OTHER") && e.exitCode === 4,
  );
  await assert.rejects(
    leases.release("db/none", "bob"),
    (e) => isLiminalError(e, "LEASE_NOT_HELD") && /nobody holds it/.test(e.message),
  );
  leases.stop();
});

Deno.test("shared store: a read that sees a job lease's renewal before its write answers does not count it lost", async () => {
  using clock = installFakeTime();
  /** A shared store whose lease writes commit at once but may answer later. */
  class SlowAnswers extends MemoryStore {
    hold: Promise<void> | null = null;
    onChange(): () => void {
      return () => {};
    }
    override async swapLease(
      ...args: Parameters<MemoryStore["swapLease"]>
    ): Promise<boolean> {
      const written = await super.swapLease(...args);
      if (this.hold !== null) await this.hold;
      return written;
    }
  }
  const store = new SlowAnswers();
  await store.open();
  const leases = new TerritoryLeases({ store, defaultTtl: "3s" });
  await leases.start();
  const lost: string[] = [];
  leases.on("lease:preempted", ({ lease }) => lost.push(lease.holder));
  const request = { holder: "job:1", priority: "coordinate" as const, jobId: "1" };
  assert.equal(await leases.takeForJob(["db/x"], request), true);
  await leases.reload(); // the grant is known: what is read from now on is the store's word
  let answer!: () => void;
  store.hold = new Promise((r) => (answer = r));
  await clock.tickAsync(1_000); // the renewal is written; its answer is held back
  await settle(clock);
  await leases.reload(); // reads the renewed row while the renewal is on its way
  store.hold = null;
  answer();
  await settle(clock);
  assert.deepEqual(lost, [], "not taken for a preemption");
  assert.equal(leases.holderOf("db/x")?.holder, "job:1");
  await clock.tickAsync(5_000);
  await settle(clock);
  assert.equal(leases.holderOf("db/x")?.holder, "job:1", "still renewed afterwards");
  assert.deepEqual(lost, []);
  await leases.releaseJob("1");
  assert.deepEqual(await store.listLeases(), []);
  leases.stop();
});

Deno.test("a waiter that gives up while another waiter's grant is written is never handed the lease", async () => {
  /** A store whose lease writes take a while, as a busy database's do. */
  class SlowLeaseStore extends MemoryStore {
    override async swapLease(...args: Parameters<MemoryStore["swapLease"]>): Promise<boolean> {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return await super.swapLease(...args);
    }
  }
  const { leases, store } = await manager(new SlowLeaseStore());
  try {
    await leases.acquire("files/*", { holder: "h" });
    const v = leases.acquireOrWait("files/a", { holder: "v" });
    const stop = new AbortController();
    const w = leases.acquireOrWait("files/b", { holder: "w" }, stop.signal);
    const wGaveUp = assert.rejects(w);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const released = leases.release("files/*", "h");
    // v's grant is on its way (the release serves the line); w gives up meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort(new Error("gave up"));
    await wGaveUp;
    await released;
    assert.equal((await v).holder, "v");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const held = (await store.listLeases()).map((l) => `${l.resource}=${l.holder}`).sort();
    assert.deepEqual(held, ["files/a=v"], "w, who left, holds nothing");
  } finally {
    await leases.stop();
    await store.close();
  }
});
