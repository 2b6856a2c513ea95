/**
 * Property: whatever happens (sends of every kind, handlers that fail or never ack, slow
 * consumers, time passing, replays, endpoints closing, a shutdown with any grace), every
 * message ends in exactly one final state, and the snapshot counters agree with the events.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Endpoint, Message, RouterOptions } from "../../src/router/mod.ts";
import { UnifiedMessageRouter } from "../../src/router/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { PRIORITIES, type Priority } from "../../src/shared/priority.ts";
import { installFakeTime } from "../_support/fake_time.ts";
import { FINAL_EVENTS, record } from "./_harness.ts";

const BEHAVIOURS = ["ok", "throw-once", "throw-always", "no-ack", "slow"] as const;
type Behaviour = typeof BEHAVIOURS[number];
const DESTINATIONS = ["a", "b", "topic.x", "topic.x.y", "ghost"] as const;

type Command =
  | {
    kind: "send";
    from: number;
    to: string;
    priority: Priority;
    ack: boolean;
    ttl: number | null;
    behaviour: Behaviour;
    abortAfter: number | null;
  }
  | { kind: "burst"; to: string; priority: Priority; count: number; behaviour: Behaviour }
  | { kind: "tick"; ms: number }
  | { kind: "replay" }
  | { kind: "reopen" }
  | { kind: "close"; graceMs: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("send" as const),
      from: fc.integer({ min: 0, max: 2 }),
      to: fc.constantFrom(...DESTINATIONS),
      priority: fc.constantFrom(...PRIORITIES),
      ack: fc.boolean(),
      ttl: fc.option(fc.integer({ min: 1, max: 1_500 }), { nil: null }),
      behaviour: fc.constantFrom(...BEHAVIOURS),
      abortAfter: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null, freq: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("burst" as const),
      to: fc.constantFrom(...DESTINATIONS),
      priority: fc.constantFrom(...PRIORITIES),
      count: fc.integer({ min: 2, max: 12 }),
      behaviour: fc.constantFrom<Behaviour>("slow", "slow", "ok", "no-ack"),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("tick" as const),
      ms: fc.integer({ min: 0, max: 700 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "replay" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("close" as const),
      graceMs: fc.integer({ min: 0, max: 1_000 }),
    }),
  },
);

const OPTIONS: RouterOptions = {
  tokens: {
    capacity: 60,
    refillPerSecond: 20,
    costs: { info: 1, coordinate: 2, blocking: 5, critical: 10, override: 0 },
  },
  mailbox: {
    info: { capacity: 3 },
    coordinate: { capacity: 2, waitTimeout: "150ms" },
    blocking: { capacity: 2, waitTimeout: "400ms" },
    critical: { capacity: 1, waitTimeout: "100ms" },
    override: { capacity: 1, waitTimeout: "100ms" },
  },
  ackTimeout: { info: "200ms", coordinate: "200ms", blocking: "200ms", critical: "50ms" },
  maxDeliveries: 3,
  aging: { interval: "100ms" },
  deadLetterCapacity: 10_000,
};

/** Codes a send or replay may fail with (or the abort reason used below). */
const ALLOWED_FAILURES = new Set([
  "MAILBOX_FULL",
  "ENDPOINT_NOT_FOUND",
  "ROUTER_CLOSED",
  "MESSAGE_NOT_FOUND",
  "INVALID_ARGUMENT",
  "aborted",
]);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function behaviourOf(message: Message): Behaviour {
  return (message.payload as { b: Behaviour }).b;
}

async function handle(message: Message, attempt: number, ack: () => boolean): Promise<void> {
  const behaviour = behaviourOf(message);
  if (behaviour === "slow") await sleep(80);
  if (behaviour === "throw-always" || (behaviour === "throw-once" && attempt === 1)) {
    throw new Error(behaviour);
  }
  if (behaviour !== "no-ack") ack();
}

/** Reads an endpoint like a handler would, except that a "throw" is a missing ack. */
async function consume(endpoint: Endpoint): Promise<void> {
  for await (const message of endpoint) {
    await handle(message, message.deliveries, () => message.ack()).catch(() => {});
  }
}

async function run(commands: Command[]): Promise<void> {
  using clock = installFakeTime();
  const router = new UnifiedMessageRouter(OPTIONS);
  const log = record(router);
  const loops: Promise<void>[] = [];
  const outcomes: Promise<string>[] = [];
  const settle = (p: Promise<unknown>) =>
    outcomes.push(p.then(
      () => "ok",
      (e) => (isLiminalError(e) ? e.code : String(e)),
    ));
  router.register("a", { concurrency: 2, handler: (m, ctx) => handle(m, ctx.attempt, ctx.ack) });
  let b = router.register("b");
  loops.push(consume(b));
  router.subscribe("topic.*", (m, ctx) => handle(m, ctx.attempt, ctx.ack));
  loops.push(consume(router.subscribe("topic.**")));
  router.start();

  let n = 0;
  let closing: Promise<unknown> | null = null;
  for (const c of commands) {
    switch (c.kind) {
      case "send": {
        const controller = c.abortAfter === null ? null : new AbortController();
        if (controller !== null) setTimeout(() => controller.abort("aborted"), c.abortAfter!);
        settle(router.send(c.to, "t", { b: c.behaviour, n: n++ }, {
          from: `s${c.from}`,
          priority: c.priority,
          ack: c.ack,
          ...(c.ttl === null ? {} : { ttl: c.ttl }),
          ...(controller === null ? {} : { signal: controller.signal }),
        }));
        break;
      }
      case "burst":
        for (let i = 0; i < c.count; i++) {
          settle(router.send(c.to, "t", { b: c.behaviour, n: n++ }, {
            from: "burster",
            priority: c.priority,
          }));
        }
        break;
      case "tick":
        await clock.tickAsync(c.ms);
        break;
      case "replay": {
        const [letter] = router.deadLetters({ limit: 1 });
        if (letter !== undefined) settle(router.replay(letter.id));
        break;
      }
      case "reopen":
        if (router.state !== "running") break;
        b.close();
        b = router.register("b");
        loops.push(consume(b));
        break;
      case "close":
        closing ??= router.close({ graceMs: c.graceMs });
        break;
    }
  }
  closing ??= router.close({ graceMs: 300 });
  for (let i = 0; i < 100 && router.state !== "closed"; i++) await clock.tickAsync(50);
  await closing;
  await clock.tickAsync(1_000); // let slow handlers and consumers finish
  await Promise.all(loops);
  const results = await Promise.all(outcomes);
  for (const result of results) {
    assert.ok(result === "ok" || ALLOWED_FAILURES.has(result), `unexpected failure ${result}`);
  }

  // Every message: "message:sent" first, exactly one final event, nothing after it.
  const byId = new Map<string, string[]>();
  for (const entry of log) {
    const events = byId.get(entry.id) ?? [];
    events.push(entry.event);
    byId.set(entry.id, events);
  }
  const finalNames = new Set<string>(FINAL_EVENTS);
  for (const [id, events] of byId) {
    assert.equal(events[0], "message:sent", `${id}: ${events}`);
    const finals = events.filter((e) => finalNames.has(e));
    assert.equal(finals.length, 1, `${id}: ${events}`);
    assert.equal(events.at(-1), finals[0], `${id}: nothing after the final event: ${events}`);
  }
  const count = (event: string) => log.filter((r) => r.event === event).length;
  const finalState: Record<string, string> = {
    "message:delivered": "delivered",
    "message:expired": "expired",
    "message:rejected": "rejected",
    "message:dead-lettered": "dead",
  };
  for (const entry of log) {
    const state = finalState[entry.event];
    if (state !== undefined) {
      const message = (entry.payload as { message: { state: string; requiresAck: boolean } })
        .message;
      assert.equal(message.state, state);
      if (entry.event === "message:delivered") {
        assert.equal((entry.payload as { acked: boolean }).acked, message.requiresAck);
      }
    }
  }

  // The snapshot agrees with the events.
  const snapshot = router.snapshot();
  const { totals } = snapshot;
  assert.equal(totals.pending, 0);
  assert.equal(totals.sent, byId.size);
  assert.equal(totals.sent, count("message:sent"));
  assert.equal(totals.delivered, count("message:delivered"));
  assert.equal(totals.acked, count("message:acked"));
  assert.equal(totals.redelivered, count("message:redelivered"));
  assert.equal(totals.expired, count("message:expired"));
  assert.equal(totals.rejected, count("message:rejected"));
  assert.equal(totals.dead, count("message:dead-lettered"));
  assert.equal(
    totals.sent,
    totals.delivered + totals.expired + totals.rejected + totals.dead,
  );
  const { byReason } = snapshot.deadLetters;
  assert.equal(byReason.expired, totals.expired);
  assert.equal(
    byReason["ack-timeout"] + byReason["no-endpoint"] + byReason["mailbox-full"] +
      byReason["handler-error"] + byReason.shutdown,
    totals.dead,
  );
  // Per mailbox, for those never closed and replaced.
  const mailboxes = [
    ...snapshot.endpoints.filter((e) => e.name === "a"),
    ...snapshot.subscriptions,
  ];
  for (const mailbox of mailboxes) {
    const mine = log.filter((r) =>
      (r.payload as { message: { recipient: string | null } }).message.recipient === mailbox.name
    );
    const mineCount = (event: string) => mine.filter((r) => r.event === event).length;
    assert.equal(mailbox.sent, mineCount("message:sent"), mailbox.name);
    assert.equal(mailbox.delivered, mineCount("message:delivered"), mailbox.name);
    assert.equal(mailbox.acked, mineCount("message:acked"), mailbox.name);
    assert.equal(mailbox.redelivered, mineCount("message:redelivered"), mailbox.name);
    assert.equal(mailbox.dead, mineCount("message:dead-lettered"), mailbox.name);
    assert.equal(mailbox.expired, mineCount("message:expired"), mailbox.name);
    assert.equal(mailbox.rejected, mineCount("message:rejected"), mailbox.name);
    assert.equal(mailbox.inFlight, 0);
    assert.deepEqual(Object.values(mailbox.depth), [0, 0, 0, 0, 0]);
    assert.equal(mailbox.waiting, 0);
  }
  assert.equal(clock.countTimers(), 0, "nothing of the router is left on the clock");
}

Deno.test("property: every message ends in exactly one final state and the counters agree", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), run),
    { numRuns: 150 },
  );
});

Deno.test("property: a long busy run with no shutdown until the end", async () => {
  const busy = fc.array(
    fc.oneof(
      { weight: 10, arbitrary: command.filter((c) => c.kind === "send") },
      { weight: 3, arbitrary: command.filter((c) => c.kind === "tick") },
    ),
    { minLength: 50, maxLength: 150 },
  );
  await fc.assert(fc.asyncProperty(busy, run), { numRuns: 20 });
});
