/**
 * Behaviour of the UnifiedMessageRouter under fake time: priority order, aging, token
 * buckets, acks, redelivery, time to live, mailbox policies, topics, dead letters, replay
 * and close.
 */
import assert from "node:assert/strict";
import type { DeliveryContext, Message } from "../../src/router/mod.ts";
import { UnifiedMessageRouter } from "../../src/router/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { MAX_PAYLOAD_BYTES } from "../../src/shared/json.ts";
import { EPOCH } from "../_support/fake_time.ts";
import { harness, payloadsOf } from "./_harness.ts";

/** Reads the next message of an endpoint read with `for await`. */
async function next(iterator: AsyncIterator<Message>): Promise<Message> {
  const result = await iterator.next();
  assert.equal(result.done, false, "expected a message");
  return result.value as Message;
}

Deno.test("construction starts nothing; sends before start() fail ROUTER_CLOSED", async () => {
  await using h = harness({}, false);
  assert.equal(h.router.state, "created");
  assert.equal(h.clock.countTimers(), 0);
  h.router.register("a", { handler: () => {} });
  await assert.rejects(
    h.router.send("a", "t", 1),
    (e) => isLiminalError(e, "ROUTER_CLOSED") && /start\(\)/.test(e.message),
  );
  h.router.start();
  await h.router.send("a", "t", 1);
  assert.throws(() => h.router.start(), (e) => isLiminalError(e, "INVALID_ARGUMENT"));
});

Deno.test("delivers the highest priority first and FIFO within a level", async () => {
  await using h = harness({ tokens: false });
  const got: unknown[] = [];
  h.router.register("worker", { handler: (m) => void got.push(m.payload) });
  const sends = (
    [
      ["info-1", "info"],
      ["coord-1", "coordinate"],
      ["crit-1", "critical"],
      ["info-2", "info"],
      ["block-1", "blocking"],
      ["crit-2", "critical"],
      ["over-1", "override"],
      ["coord-2", "coordinate"],
    ] as const
  ).map(([name, priority]) => h.router.send("worker", "t", name, { priority }));
  await Promise.all(sends);
  await h.settle();
  assert.deepEqual(got, [
    "over-1",
    "crit-1",
    "crit-2",
    "block-1",
    "coord-1",
    "coord-2",
    "info-1",
    "info-2",
  ]);
});

Deno.test("aging raises a waiting message one level per interval, at most twice, never into override", async () => {
  await using h = harness({ tokens: false, aging: { interval: "500ms", maxRaises: 2 } });
  const inbox = h.router.register("inbox");
  const it = inbox[Symbol.asyncIterator]();

  // One interval: info competes as coordinate, and is older than a fresh coordinate.
  await h.router.send("inbox", "t", "info-aged-once", { priority: "info" });
  await h.clock.tickAsync(500);
  await h.router.send("inbox", "t", "coord-fresh", { priority: "coordinate" });
  await h.router.send("inbox", "t", "block-fresh", { priority: "blocking" });
  assert.equal((await next(it)).payload, "block-fresh");
  assert.equal((await next(it)).payload, "info-aged-once");
  assert.equal((await next(it)).payload, "coord-fresh");

  // Ten intervals: still only two raises (info → blocking), below a fresh critical.
  await h.router.send("inbox", "t", "info-old", { priority: "info" });
  await h.clock.tickAsync(5_000);
  await h.router.send("inbox", "t", "crit-fresh", { priority: "critical" });
  await h.router.send("inbox", "t", "block-fresh-2", { priority: "blocking" });
  assert.equal((await next(it)).payload, "crit-fresh");
  assert.equal((await next(it)).payload, "info-old"); // blocking by aging, and older
  assert.equal((await next(it)).payload, "block-fresh-2");

  // Blocking ages to critical but never to override.
  await h.router.send("inbox", "t", "block-old", { priority: "blocking" });
  await h.clock.tickAsync(5_000);
  await h.router.send("inbox", "t", "crit-fresh-2", { priority: "critical" });
  await h.router.send("inbox", "t", "over-fresh", { priority: "override" });
  assert.equal((await next(it)).payload, "over-fresh");
  assert.equal((await next(it)).payload, "block-old");
  assert.equal((await next(it)).payload, "crit-fresh-2");

  const dispatched = h.log.filter((r) => r.event === "message:dispatched").map((r) => {
    const p = r.payload as { message: { payload: unknown }; raises: number };
    return [p.message.payload, p.raises];
  });
  assert.deepEqual(Object.fromEntries(dispatched), {
    "block-fresh": 0,
    "info-aged-once": 1,
    "coord-fresh": 0,
    "crit-fresh": 0,
    "info-old": 2,
    "block-fresh-2": 0,
    "over-fresh": 0,
    "block-old": 1,
    "crit-fresh-2": 0,
  });
  const aging = h.router.snapshot().aging;
  assert.deepEqual(aging, { intervalMs: 500, maxRaises: 2, raisedMessages: 3, raises: 4 });
});

Deno.test("a sender over budget waits for its tokens (60 a second) and is not dropped", async () => {
  await using h = harness();
  let delivered = 0;
  h.router.register("sink", { handler: () => void delivered++ });
  const flood = Array.from(
    { length: 260 },
    (_, i) => h.router.send("sink", "t", i, { from: "flooder", priority: "info" }),
  );
  let resolved = 0;
  for (const p of flood) p.then(() => resolved++);
  await h.settle();
  // The bucket starts full at 200 tokens; info costs 1.
  assert.equal(resolved, 200);
  assert.equal(delivered, 200);
  let sender = h.router.snapshot().senders.find((s) => s.sender === "flooder")!;
  assert.equal(sender.waiting, 60);
  assert.equal(sender.throttled, 60);
  assert.equal(sender.tokens, 0);

  await h.clock.tickAsync(510); // 30 tokens
  assert.equal(resolved, 230);
  assert.equal(delivered, 230);
  await h.clock.tickAsync(500);
  assert.equal(resolved, 260);
  sender = h.router.snapshot().senders.find((s) => s.sender === "flooder")!;
  assert.equal(sender.waiting, 0);
  assert.equal(sender.sends, 260);

  // Another sender has its own bucket.
  await h.router.send("sink", "t", "calm", { from: "calm", priority: "critical" });
  const calm = h.router.snapshot().senders.find((s) => s.sender === "calm")!;
  assert.equal(calm.tokens, 100);
  assert.equal(calm.throttled, 0);
});

Deno.test("a sender's waiting critical passes before its own waiting info", async () => {
  await using h = harness();
  const order: string[] = [];
  h.router.register("sink", { handler: (m) => void order.push(m.priority) });
  for (let i = 0; i < 230; i++) {
    h.router.send("sink", "t", i, { from: "s", priority: "info" }).catch(() => {});
  }
  await h.settle();
  assert.equal(order.length, 200);
  const critical = h.router.send("sink", "t", "c", { from: "s", priority: "critical" });
  // 100 tokens at 60/s: 1667 ms. The 30 waiting info messages stay behind it.
  await h.clock.tickAsync(1_600);
  assert.equal(order.length, 200);
  await h.clock.tickAsync(100);
  await critical;
  assert.equal(order[200], "critical", "the critical went first, right after the burst");
  await h.clock.tickAsync(1_000);
  assert.equal(order.length, 231);
  assert.deepEqual(new Set(order.slice(201)), new Set(["info"]));
});

Deno.test("a sender can have a budget of its own, or be exempt", async () => {
  await using h = harness({
    tokens: { senders: { executor: false, batch: { capacity: 100, refillPerSecond: 10 } } },
  });
  h.router.register("sink", { handler: () => {} });
  const all = [];
  for (let i = 0; i < 1_000; i++) {
    all.push(h.router.send("sink", "job", i, { from: "executor", priority: "info" }));
  }
  await Promise.all(all); // 1,000 info at once: an exempt sender never waits
  await h.router.send("sink", "job", 0, { from: "batch", priority: "critical" });
  let second = false;
  h.router.send("sink", "job", 1, { from: "batch", priority: "critical" }).then(() =>
    second = true
  );
  await h.clock.tickAsync(9_999);
  assert.equal(second, false, "100 tokens at 10 a second");
  await h.clock.tickAsync(1);
  assert.equal(second, true);
  const senders = Object.fromEntries(h.router.snapshot().senders.map((s) => [s.sender, s]));
  assert.deepEqual([senders.executor!.tokens, senders.executor!.throttled], [null, 0]);
  assert.deepEqual([senders.batch!.capacity, senders.batch!.throttled], [100, 1]);
  assert.throws(
    () => new UnifiedMessageRouter({ tokens: { senders: { tiny: { capacity: 50 } } } }),
    /invalid token capacity of "tiny" 50: use at least the highest cost \(100\)/,
  );
});

Deno.test("override costs no tokens and passes a sender's empty bucket", async () => {
  await using h = harness();
  h.router.register("sink", { handler: () => {} });
  await h.router.send("sink", "t", 1, { from: "op", priority: "critical" });
  await h.router.send("sink", "t", 2, { from: "op", priority: "critical" });
  const third = h.router.send("sink", "t", 3, { from: "op", priority: "critical" });
  let passed = false;
  third.then(() => (passed = true));
  await h.router.send("sink", "t", "stop", { from: "op", priority: "override" });
  await h.settle();
  assert.equal(passed, false);
  await h.clock.tickAsync(1_700);
  assert.equal(passed, true);
});

Deno.test("an ack deadline passes: redelivered up to maxDeliveries, then dead-lettered ack-timeout", async () => {
  await using h = harness({ maxDeliveries: 3 });
  const attempts: [number, number][] = [];
  const signals: AbortSignal[] = [];
  h.router.register("lazy", {
    handler: (m, ctx) => {
      attempts.push([ctx.attempt, Date.now() - EPOCH]);
      signals.push(ctx.signal);
      assert.equal(m.deliveries, ctx.attempt);
    },
  });
  const { id } = await h.router.send("lazy", "t", "x", { ack: true }); // coordinate: 1 s
  await h.settle();
  assert.deepEqual(attempts, [[1, 0]]);
  await h.clock.tickAsync(999);
  assert.equal(attempts.length, 1);
  await h.clock.tickAsync(1);
  assert.deepEqual(attempts, [[1, 0], [2, 1_000]]);
  assert.equal(signals[0]!.aborted, true, "the timed-out delivery's signal aborts");
  await h.clock.tickAsync(2_000);
  assert.deepEqual(attempts, [[1, 0], [2, 1_000], [3, 2_000]]);
  const [letter] = h.router.deadLetters();
  assert.equal(letter!.id, id);
  assert.equal(letter!.reason, "ack-timeout");
  assert.equal(letter!.deliveries, 3);
  assert.match(letter!.error!, /not acknowledged within 1000ms/);
  const { totals, endpoints } = h.router.snapshot();
  assert.equal(totals.redelivered, 2);
  assert.equal(totals.dead, 1);
  assert.equal(totals.pending, 0);
  assert.equal(endpoints[0]!.redelivered, 2);
  assert.equal(endpoints[0]!.dead, 1);
});

Deno.test("critical messages must be acked within 100 ms by default; an ack in time delivers", async () => {
  await using h = harness();
  const held: DeliveryContext[] = [];
  h.router.register("ops", { handler: (_, ctx) => void held.push(ctx) });
  await h.router.send("ops", "t", "late", { priority: "critical", ack: true });
  await h.settle();
  await h.clock.tickAsync(100);
  assert.equal(held.length, 2, "redelivered after 100 ms");
  assert.equal(held[0]!.ack(), false, "a late ack of the first delivery is refused");
  assert.equal(held[1]!.ack(), true);
  assert.equal(held[1]!.ack(), false, "acked already");
  await h.clock.tickAsync(1_000);
  assert.equal(held.length, 2);
  const { totals } = h.router.snapshot();
  assert.deepEqual([totals.delivered, totals.acked, totals.redelivered], [1, 1, 1]);
  assert.deepEqual(h.log.filter((r) => r.event === "message:acked").length, 1);
});

Deno.test("a throwing handler: redelivered, then dead-lettered handler-error; an ack before the throw wins", async () => {
  await using h = harness({ maxDeliveries: 3 });
  const fails = new Map<string, number>([["twice", 2], ["always", 99], ["acked", 99]]);
  const seen: string[] = [];
  h.router.register("flaky", {
    handler: async (m, ctx) => {
      const name = m.payload as string;
      seen.push(`${name}#${ctx.attempt}`);
      if (name === "acked") ctx.ack();
      const left = fails.get(name)!;
      fails.set(name, left - 1);
      if (left > 0) throw new Error(`${name} failed`);
    },
  });
  await h.router.send("flaky", "t", "twice");
  await h.router.send("flaky", "t", "always");
  await h.router.send("flaky", "t", "acked", { ack: true });
  await h.settle(30);
  assert.deepEqual(seen.filter((s) => s.startsWith("twice")), ["twice#1", "twice#2", "twice#3"]);
  assert.deepEqual(seen.filter((s) => s.startsWith("always")), [
    "always#1",
    "always#2",
    "always#3",
  ]);
  assert.deepEqual(seen.filter((s) => s.startsWith("acked")), ["acked#1"]);
  const dead = h.router.deadLetters();
  assert.equal(dead.length, 1);
  assert.equal(dead[0]!.payload, "always");
  assert.equal(dead[0]!.reason, "handler-error");
  assert.equal(dead[0]!.error, "always failed");
  const { totals } = h.router.snapshot();
  assert.deepEqual(
    [totals.sent, totals.delivered, totals.acked, totals.dead, totals.redelivered],
    [3, 2, 1, 1, 4],
  );
});

Deno.test("time to live: a message not handed over in time expires and is kept as a dead letter", async () => {
  await using h = harness();
  const inbox = h.router.register("inbox");
  const { id } = await h.router.send("inbox", "t", "soon", { ttl: "200ms" });
  await h.router.send("inbox", "t", "whenever");
  await h.clock.tickAsync(199);
  assert.equal(h.router.snapshot().endpoints[0]!.depth.coordinate, 2);
  await h.clock.tickAsync(1);
  assert.equal(h.router.snapshot().endpoints[0]!.depth.coordinate, 1);
  const [letter] = h.router.deadLetters({ reason: "expired" });
  assert.equal(letter!.id, id);
  assert.equal(letter!.state, "expired");
  assert.equal(letter!.expiresAt, new Date(Date.now()).toISOString());
  const it = inbox[Symbol.asyncIterator]();
  assert.equal((await next(it)).payload, "whenever", "the expired one is skipped");
  const { totals } = h.router.snapshot();
  assert.deepEqual([totals.expired, totals.dead, totals.delivered], [1, 0, 1]);
  assert.deepEqual(payloadsOf(h.log, "message:expired"), ["soon"]);
});

Deno.test("time to live: a failed delivery past its time to live expires instead of being redelivered", async () => {
  await using h = harness();
  let calls = 0;
  h.router.register("slow", { handler: () => void calls++ });
  await h.router.send("slow", "t", "x", { ttl: "500ms", ack: true });
  await h.clock.tickAsync(1_000);
  assert.equal(calls, 1);
  const { totals } = h.router.snapshot();
  assert.deepEqual([totals.expired, totals.redelivered, totals.dead], [1, 0, 0]);
});

Deno.test("mailbox full with the reject policy: the send fails MAILBOX_FULL at once", async () => {
  await using h = harness({ mailbox: { info: { capacity: 2 } } });
  h.router.register("inbox");
  await h.router.send("inbox", "t", 1, { priority: "info" });
  await h.router.send("inbox", "t", 2, { priority: "info" });
  await assert.rejects(
    h.router.send("inbox", "t", 3, { priority: "info" }),
    (e) => isLiminalError(e, "MAILBOX_FULL") && /info mailbox of "inbox" is full/.test(e.message),
  );
  // Other priorities have lanes of their own.
  await h.router.send("inbox", "t", 4, { priority: "coordinate" });
  const { totals, endpoints } = h.router.snapshot();
  assert.deepEqual([totals.sent, totals.rejected, totals.dead, totals.pending], [4, 1, 0, 3]);
  assert.equal(endpoints[0]!.rejected, 1);
  assert.deepEqual(h.router.deadLetters(), []);
  assert.deepEqual(payloadsOf(h.log, "message:rejected"), [3]);
});

Deno.test("mailbox full with the wait policy: the send waits for room, then dead-letters mailbox-full", async () => {
  await using h = harness({ mailbox: { coordinate: { capacity: 1, waitTimeout: "300ms" } } });
  const inbox = h.router.register("inbox");
  const it = inbox[Symbol.asyncIterator]();
  await h.router.send("inbox", "t", "first");
  let second = false;
  const secondSend = h.router.send("inbox", "t", "second").then(() => (second = true));
  await h.clock.tickAsync(100);
  assert.equal(second, false);
  assert.equal(h.router.snapshot().endpoints[0]!.waiting, 1);
  assert.equal((await next(it)).payload, "first");
  await secondSend;
  assert.equal(second, true, "room made by the read lets it in");

  const third = h.router.send("inbox", "t", "third");
  const thirdFailed = assert.rejects(third, (e) => isLiminalError(e, "MAILBOX_FULL"));
  await h.clock.tickAsync(300);
  await thirdFailed;
  const [letter] = h.router.deadLetters();
  assert.equal(letter!.reason, "mailbox-full");
  assert.equal(letter!.payload, "third");
  assert.equal((await next(it)).payload, "second");
});

Deno.test("no endpoint: dead-lettered no-endpoint and the send fails ENDPOINT_NOT_FOUND; publish is optional", async () => {
  await using h = harness();
  let error: unknown;
  await h.router.send("ghost", "t", { n: 1 }).catch((e) => (error = e));
  if (!isLiminalError(error, "ENDPOINT_NOT_FOUND")) assert.fail(`unexpected ${error}`);
  const [letter] = h.router.deadLetters({ reason: "no-endpoint" });
  assert.equal(letter!.to, "ghost");
  assert.equal(letter!.recipient, null);
  assert.ok(error.message.includes(letter!.id));

  const receipt = await h.router.publish("jobs.succeeded", "job", { id: "j1" });
  assert.deepEqual(receipt, { id: null, ids: [] });
  await assert.rejects(
    h.router.send("jobs.succeeded", "job", {}, { optional: false }),
    (e) => isLiminalError(e, "ENDPOINT_NOT_FOUND"),
  );
  assert.equal((await h.router.send("ghost", "t", 1, { optional: true })).id, null);
  const { totals } = h.router.snapshot();
  assert.deepEqual([totals.sent, totals.dead, totals.unrouted], [2, 2, 2]);
});

Deno.test("topics: every matching subscriber gets its own copy with its own ack", async () => {
  await using h = harness();
  const got: Record<string, Message[]> = { star: [], tail: [], endpoint: [], other: [] };
  h.router.subscribe("jobs.*", (m) => {
    got.star!.push(m);
    m.ack();
  });
  h.router.subscribe("jobs.**", { name: "all-jobs", handler: (m) => void got.tail!.push(m) });
  h.router.subscribe("other.*", (m) => void got.other!.push(m));
  h.router.register("jobs.succeeded", { handler: (m) => void got.endpoint!.push(m) });
  const receipt = await h.router.send("jobs.succeeded", "job", { id: "j1" }, { ack: true });
  await h.settle();
  assert.equal(receipt.ids.length, 3);
  assert.equal(new Set(receipt.ids).size, 3);
  assert.equal(got.endpoint![0]!.id, receipt.id, "the endpoint's copy comes first");
  assert.deepEqual(got.star!.map((m) => m.recipient), ["jobs.*#1"]);
  assert.deepEqual(got.tail!.map((m) => m.recipient), ["all-jobs"]);
  assert.deepEqual(got.other, []);
  assert.notEqual(got.star![0]!.payload, got.tail![0]!.payload, "each copy has its own payload");
  assert.deepEqual(got.star![0]!.payload, { id: "j1" });

  await h.router.publish("jobs.deep.path", "job", {});
  await h.settle();
  assert.equal(got.tail!.length, 2, "** matches several segments");
  assert.equal(got.star!.length, 1, "* matches exactly one");

  await h.clock.tickAsync(3_000); // the unacked copies are redelivered, then dead
  const dead = h.router.deadLetters({ reason: "ack-timeout" });
  assert.deepEqual(dead.map((d) => d.recipient).sort(), ["all-jobs", "jobs.succeeded"]);
  const subs = h.router.snapshot().subscriptions;
  assert.deepEqual(subs.map((s) => [s.name, s.pattern, s.acked, s.dead]), [
    ["jobs.*#1", "jobs.*", 1, 0],
    ["all-jobs", "jobs.**", 0, 1],
    ["other.*#3", "other.*", 0, 0],
  ]);
});

Deno.test("register: names follow the job kind rules; a taken name fails ENDPOINT_EXISTS", async () => {
  await using h = harness();
  const a = h.router.register("db.compactor:v2");
  assert.throws(
    () => h.router.register("db.compactor:v2"),
    (e) => isLiminalError(e, "ENDPOINT_EXISTS"),
  );
  for (const bad of ["", "-x", "a b", "x".repeat(101), "é"]) {
    assert.throws(
      () => h.router.register(bad),
      (e) => isLiminalError(e, "INVALID_ARGUMENT") && e.message.includes(JSON.stringify(bad)),
    );
  }
  assert.throws(
    () => h.router.subscribe("jobs.**.x"),
    (e) => isLiminalError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => h.router.register("c", { concurrency: 0 }),
    (e) => isLiminalError(e, "INVALID_ARGUMENT") && /concurrency/.test(e.message),
  );
  a.close();
  assert.equal(a.closed, true);
  h.router.register("db.compactor:v2"); // free again
});

Deno.test("replay re-sends a dead letter to its recipient; unknown ids fail MESSAGE_NOT_FOUND", async () => {
  await using h = harness();
  await h.router.send("late", "t", { n: 1 }, { priority: "blocking" }).catch(() => {});
  const [letter] = h.router.deadLetters();
  await assert.rejects(h.router.replay(letter!.id), (e) => isLiminalError(e, "ENDPOINT_NOT_FOUND"));
  assert.equal(h.router.deadLetters().length, 1, "a failed replay keeps the dead letter");

  const got: Message[] = [];
  h.router.register("late", { handler: (m) => void got.push(m) });
  const receipt = await h.router.replay(letter!.id);
  await h.settle();
  assert.equal(got.length, 1);
  assert.equal(got[0]!.id, receipt.id);
  assert.notEqual(receipt.id, letter!.id);
  assert.equal(got[0]!.replayOf, letter!.id);
  assert.equal(got[0]!.priority, "blocking");
  assert.deepEqual(got[0]!.payload, { n: 1 });
  assert.deepEqual(h.router.deadLetters(), [], "a replayed dead letter is forgotten");
  await assert.rejects(h.router.replay(letter!.id), (e) => isLiminalError(e, "MESSAGE_NOT_FOUND"));
  await assert.rejects(h.router.replay("nope"), (e) => isLiminalError(e, "MESSAGE_NOT_FOUND"));
});

Deno.test("the dead-letter store is bounded: the oldest are dropped and counted", async () => {
  await using h = harness({ deadLetterCapacity: 3 });
  for (let i = 0; i < 5; i++) await h.router.send("ghost", "t", i).catch(() => {});
  const letters = h.router.deadLetters();
  assert.deepEqual(letters.map((l) => l.payload), [4, 3, 2]);
  assert.deepEqual(h.router.deadLetters({ limit: 1 }).map((l) => l.payload), [4]);
  const { deadLetters } = h.router.snapshot();
  assert.deepEqual([deadLetters.size, deadLetters.dropped, deadLetters.byReason["no-endpoint"]], [
    3,
    2,
    5,
  ]);
  await assert.rejects(
    h.router.replay(h.log[0]!.id),
    (e) => isLiminalError(e, "MESSAGE_NOT_FOUND"),
  );
});

Deno.test("bad or oversized payloads fail INVALID_PAYLOAD / PAYLOAD_TOO_LARGE and change nothing", async () => {
  await using h = harness();
  h.router.register("inbox");
  const before = h.router.snapshot();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  await assert.rejects(
    h.router.send("inbox", "t", { n: 1n }),
    (e) => isLiminalError(e, "INVALID_PAYLOAD"),
  );
  await assert.rejects(
    h.router.send("inbox", "t", cyclic),
    (e) => isLiminalError(e, "INVALID_PAYLOAD"),
  );
  await assert.rejects(
    h.router.send("inbox", "t", () => 1),
    (e) => isLiminalError(e, "INVALID_PAYLOAD"),
  );
  await assert.rejects(
    h.router.send("inbox", "t", "x".repeat(MAX_PAYLOAD_BYTES)),
    (e) => isLiminalError(e, "PAYLOAD_TOO_LARGE"),
  );
  await assert.rejects(
    h.router.send("inbox", "t", 1, { priority: "urgent" as "info" }),
    (e) => isLiminalError(e, "INVALID_PRIORITY"),
  );
  const after = h.router.snapshot();
  assert.deepEqual(after.totals, before.totals);
  assert.deepEqual(after.senders, before.senders);
  assert.deepEqual(after.endpoints, before.endpoints);
  assert.deepEqual(h.log, []);
  await h.router.send("inbox", "t", "x".repeat(MAX_PAYLOAD_BYTES - 2)); // exactly 1 MiB as JSON
});

Deno.test("for await reads an endpoint in dispatch order; break closes it", async () => {
  await using h = harness({ tokens: false });
  const inbox = h.router.register("inbox");
  await h.router.send("inbox", "t", "a", { priority: "info" });
  await h.router.send("inbox", "t", "b", { priority: "critical", ack: true });
  const got: unknown[] = [];
  for await (const message of inbox) {
    got.push(message.payload);
    if (message.requiresAck) assert.equal(message.ack(), true);
    if (got.length === 2) break;
  }
  assert.deepEqual(got, ["b", "a"]);
  assert.equal(inbox.closed, true);
  await assert.rejects(
    h.router.send("inbox", "t", "c"),
    (e) => isLiminalError(e, "ENDPOINT_NOT_FOUND"),
  );
  const handled = h.router.register("handled", { handler: () => {} });
  await assert.rejects(
    handled[Symbol.asyncIterator]().next(),
    (e) => isLiminalError(e, "INVALID_ARGUMENT"),
  );
});

Deno.test("endpoint.close() dead-letters its queued messages (no-endpoint) and fails waiting sends", async () => {
  await using h = harness({ mailbox: { coordinate: { capacity: 1 } } });
  const inbox = h.router.register("inbox");
  await h.router.send("inbox", "t", "queued");
  const waiting = h.router.send("inbox", "t", "waiting");
  const failed = assert.rejects(waiting, (e) => isLiminalError(e, "ENDPOINT_NOT_FOUND"));
  inbox.close();
  await failed;
  const letters = h.router.deadLetters({ reason: "no-endpoint" });
  assert.deepEqual(letters.map((l) => l.payload).sort(), ["queued", "waiting"]);
  assert.equal(h.router.snapshot().totals.pending, 0);
});

Deno.test("an aborted signal rejects a send still waiting for tokens", async () => {
  await using h = harness({
    tokens: {
      capacity: 10,
      refillPerSecond: 1,
      costs: { coordinate: 10, blocking: 10, critical: 10 },
    },
  });
  h.router.register("sink", { handler: () => {} });
  await h.router.send("sink", "t", 1);
  const controller = new AbortController();
  const pending = h.router.send("sink", "t", 2, { signal: controller.signal });
  const failed = assert.rejects(pending, (e) => e === "gave up");
  await h.settle();
  controller.abort("gave up");
  await failed;
  const { totals } = h.router.snapshot();
  assert.deepEqual([totals.rejected, totals.pending], [1, 0]);
  const aborted = new AbortController();
  aborted.abort("before");
  await assert.rejects(
    h.router.send("sink", "t", 3, { signal: aborted.signal }),
    (e) => e === "before",
  );
  assert.equal(h.router.snapshot().totals.sent, 2, "an already-aborted send makes nothing");
});

Deno.test("close() delivers pending messages within the grace, then dead-letters the rest with shutdown", async () => {
  await using h = harness({ tokens: { capacity: 100, refillPerSecond: 1 } });
  const done: unknown[] = [];
  h.router.register("slow", {
    handler: async (m) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      done.push(m.payload);
    },
  });
  for (let i = 0; i < 5; i++) await h.router.send("slow", "t", i, { priority: "info" });
  await h.router.send("slow", "t", "c1", { priority: "critical", from: "rich" });
  const throttled = h.router.send("slow", "t", "c2", { priority: "critical", from: "rich" });
  const throttledFails = assert.rejects(throttled, (e) => isLiminalError(e, "ROUTER_CLOSED"));
  const closing = h.router.close({ graceMs: 250 });
  assert.equal(h.router.state, "closing");
  await assert.rejects(
    h.router.send("slow", "t", "late"),
    (e) => isLiminalError(e, "ROUTER_CLOSED"),
  );
  await h.clock.tickAsync(250);
  const report = await closing;
  await throttledFails;
  assert.equal(h.router.state, "closed");
  assert.deepEqual(done, [0, "c1"]);
  assert.equal(report.delivered, 2);
  assert.equal(report.deadLettered, 5); // 1 in flight, 3 queued, 1 waiting for tokens
  const shutdown = h.router.deadLetters({ reason: "shutdown" }).map((l) => l.payload).sort();
  assert.deepEqual(shutdown, [1, 2, 3, 4, "c2"].sort());
  const { totals } = h.router.snapshot();
  assert.equal(totals.pending, 0);
  assert.equal(totals.sent, totals.delivered + totals.dead);
  assert.equal(h.clock.countTimers(), 1, "only the handler's own sleep is left");
  assert.deepEqual(await h.router.close(), report, "close() twice gives the same report");
  await h.clock.tickAsync(100);
});

Deno.test("close() resolves at once when nothing is pending", async () => {
  await using h = harness();
  h.router.register("a", { handler: () => {} });
  await h.router.send("a", "t", 1);
  await h.settle();
  const report = await h.router.close({ graceMs: 60_000 });
  assert.deepEqual([report.delivered, report.deadLettered], [0, 0]);
  assert.equal(h.clock.countTimers(), 0);
});

Deno.test("options: bad values are refused at once, quoting them", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ aging: { interval: "soon" } }, /invalid aging interval "soon"/],
    [{ aging: { maxRaises: -1 } }, /invalid aging maxRaises -1/],
    [{ tokens: { capacity: 0 } }, /invalid token capacity 0/],
    [{ tokens: { costs: { critical: 500 } } }, /invalid token cost of critical 500/],
    [{ mailbox: { info: { capacity: 0 } } }, /invalid mailbox capacity of info 0/],
    [{ mailbox: { urgent: {} } }, /invalid mailbox priority "urgent"/],
    [{ mailbox: { info: { whenFull: "drop" } } }, /invalid mailbox whenFull of info "drop"/],
    [{ ackTimeout: { critical: "0ms" } }, /ack timeout of critical must be longer than 0/],
    [{ maxDeliveries: 0 }, /invalid maxDeliveries 0/],
    [{ deadLetterCapacity: 1.5 }, /invalid deadLetterCapacity 1.5/],
    [{ closeGrace: "forever" }, /invalid close grace "forever"/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new UnifiedMessageRouter(options),
      (e) => isLiminalError(e) && message.test(e.message),
      JSON.stringify(options),
    );
  }
});

Deno.test("close({ graceMs: 0 }) dead-letters queued and waiting messages and counts them out", async () => {
  await using h = harness({ mailbox: { coordinate: { capacity: 1 } } });
  h.router.register("inbox");
  await h.router.send("inbox", "t", "queued");
  const waiting = h.router.send("inbox", "t", "waiting");
  const failed = assert.rejects(waiting, (e) => isLiminalError(e, "ROUTER_CLOSED"));
  const report = await h.router.close({ graceMs: 0 });
  await failed;
  assert.equal(report.deadLettered, 2);
  const [inbox] = h.router.snapshot().endpoints;
  assert.deepEqual(Object.values(inbox!.depth), [0, 0, 0, 0, 0]);
  assert.equal(inbox!.waiting, 0);
  assert.equal(inbox!.closed, true);
});
