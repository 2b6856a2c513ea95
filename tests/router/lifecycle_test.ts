/**
 * Router lifecycle with real timers and Deno's op and resource sanitizers on: after close()
 * no timer or promise of the router is left. Durations are a few milliseconds and nothing
 * asserts on how long anything took.
 */
import assert from "node:assert/strict";
import { UnifiedMessageRouter } from "../../src/router/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const lifecycle = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };

Deno.test({
  name: "new UnifiedMessageRouter() starts nothing; close() before start() leaves nothing",
  ...lifecycle,
  async fn() {
    const router = new UnifiedMessageRouter();
    router.register("a", { handler: () => {} });
    const early = router.subscribe("jobs.*");
    const loop = (async () => {
      for await (const _ of early) assert.fail("nothing was sent");
    })();
    assert.equal(router.state, "created");
    const report = await router.close();
    await loop; // ends with the router
    assert.deepEqual(report, { delivered: 0, deadLettered: 0, durationMs: 0 });
    assert.equal(router.state, "closed");
    assert.throws(() => router.register("b"), (e) => isLiminalError(e, "ROUTER_CLOSED"));
  },
});

Deno.test({
  name: "after acks, times to live, waits and redeliveries, close() leaves no timer",
  ...lifecycle,
  async fn() {
    const router = new UnifiedMessageRouter({
      ackTimeout: { coordinate: "5ms", critical: "5ms" },
      mailbox: { coordinate: { capacity: 1, waitTimeout: "1s" } },
      tokens: { capacity: 100, refillPerSecond: 1, costs: { critical: 60 } },
    });
    const states: string[] = [];
    router.on("router:state", ({ to }) => states.push(to));
    let redelivered = 0;
    let timedOut = 0;
    router.on("message:redelivered", () => redelivered++);
    router.on("message:dead-lettered", ({ reason }) => reason === "ack-timeout" && timedOut++);
    router.register("acker", {
      handler: (m, ctx) => {
        if (m.payload === "ack") ctx.ack();
      },
    });
    router.register("full"); // never read: its lane fills, sends wait
    router.start();
    await router.send("acker", "t", "ack", { ack: true, ttl: "1h" });
    await router.send("acker", "t", "ignore", { ack: true }); // redelivered every 5 ms
    await router.send("full", "t", 1);
    const waiting = router.send("full", "t", 2); // waits for room up to 1 s
    const passes = router.send("acker", "t", "c", { priority: "critical", from: "x" });
    const throttled = router.send("acker", "t", "c", { priority: "critical", from: "x" });
    // Once "ignore" is dead, the earliest deadline left is seconds away: the wait for room,
    // the tokens of "x" and the time to live of "ack" must all be cancelled by close().
    while (timedOut === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(redelivered, 2);
    const report = await router.close({ graceMs: 5 });
    await assert.rejects(waiting, (e) => isLiminalError(e, "ROUTER_CLOSED"));
    await passes;
    await assert.rejects(throttled, (e) => isLiminalError(e, "ROUTER_CLOSED"));
    assert.ok(report.deadLettered >= 3, `dead-lettered ${report.deadLettered}`);
    assert.deepEqual(states, ["running", "closing", "closed"]);
    const { totals } = router.snapshot();
    assert.equal(totals.pending, 0);
    assert.equal(
      totals.sent,
      totals.delivered + totals.expired + totals.rejected + totals.dead,
    );
  },
});

Deno.test({
  name: "close() with 200,000 sends waiting for one sender's tokens rejects every one of them",
  ...lifecycle,
  async fn() {
    const router = new UnifiedMessageRouter({ tokens: { capacity: 200, refillPerSecond: 1 } });
    router.register("sink", { handler: () => {} });
    router.start();
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 200_000; i++) {
      waiting.push(router.send("sink", "t", i, { from: "flood" }).catch((e) => e));
    }
    const report = await router.close({ graceMs: 5 });
    const outcomes = await Promise.all(waiting);
    const closed = outcomes.filter((e) => isLiminalError(e, "ROUTER_CLOSED")).length;
    assert.ok(closed >= 199_900, `${closed} of 200,000 rejected with ROUTER_CLOSED`);
    assert.ok(report.delivered <= 100);
    assert.equal(router.state, "closed");
  },
});

Deno.test({
  name: "a handler that hangs: close() aborts its signal at the end of the grace",
  ...lifecycle,
  async fn() {
    const router = new UnifiedMessageRouter();
    let reason: unknown;
    router.register("stuck", {
      handler: (_, ctx) =>
        new Promise<void>((_, reject) => {
          ctx.signal.addEventListener("abort", () => {
            reason = ctx.signal.reason;
            reject(ctx.signal.reason);
          }, { once: true });
        }),
    });
    router.start();
    await router.send("stuck", "t", 1);
    await router.send("stuck", "t", 2);
    const report = await router.close({ graceMs: 5 });
    assert.ok(isLiminalError(reason, "ROUTER_CLOSED"));
    assert.equal(report.deadLettered, 2);
    assert.deepEqual(router.deadLetters().map((l) => l.reason), ["shutdown", "shutdown"]);
  },
});

Deno.test({
  name: "await using closes the router; a for await loop ends when it closes",
  ...lifecycle,
  async fn() {
    const got: unknown[] = [];
    let loop: Promise<void> = Promise.resolve();
    {
      await using router = new UnifiedMessageRouter({ closeGrace: "20ms" });
      const inbox = router.register("inbox");
      router.start();
      loop = (async () => {
        for await (const message of inbox) got.push(message.payload);
      })();
      await router.send("inbox", "t", "a");
      await router.send("inbox", "t", "b");
    }
    await loop;
    assert.deepEqual(got, ["a", "b"]);
  },
});

Deno.test({
  name: "close() is safe to call twice and concurrently; sends after it fail ROUTER_CLOSED",
  ...lifecycle,
  async fn() {
    const router = new UnifiedMessageRouter();
    router.register("a", {
      handler: () => new Promise<void>((resolve) => setTimeout(resolve, 5)),
    });
    router.start();
    await router.send("a", "t", 1);
    const first = router.close({ graceMs: 1_000 });
    const second = router.close({ graceMs: 0 });
    assert.equal(first, second);
    const report = await first;
    assert.equal(report.delivered, 1, "the grace let the running handler finish");
    await assert.rejects(router.send("a", "t", 2), (e) => isLiminalError(e, "ROUTER_CLOSED"));
    await assert.rejects(router.replay("x"), (e) => isLiminalError(e, "ROUTER_CLOSED"));
    assert.deepEqual(router.snapshot().endpoints.map((e) => [e.name, e.closed, e.delivered]), [
      ["a", true, 1],
    ]);
  },
});
