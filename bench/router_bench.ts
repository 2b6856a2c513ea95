/**
 * The router's throughput and priority latency, each next to a bare async channel (an array
 * and one pending promise, below) as the `baseline` of its group.
 *
 * - one-to-one: one sender, one endpoint (handler, or `for await`); the producer `await`s
 *   each send (the channel's producer yields once per message the same way), or sends all
 *   in one synchronous burst.
 * - many-to-one: ten senders, priorities mixed, one endpoint.
 * - one-to-many: publishes to a topic with ten subscribers (each delivery counted).
 * - critical latency under an info flood: the time from sending a `critical` message to its
 *   handler's first line while 10,000 `info` messages are queued ahead of it (the backlog is
 *   topped up before every sample). The channel, being FIFO, delivers it after the backlog.
 *   `b.start()`/`b.end()` bracket exactly that span, so the table's avg/p75/p99 are the
 *   latency's.
 *
 * Payloads are small objects; the router serialises each one (JSON, ≤ 1 MiB) and every
 * handler reads its copy, while the channel passes references: that is part of what is
 * measured. Token buckets stay on with a budget no sender exhausts (the check is on the hot
 * path); mailboxes are sized to hold a whole round.
 *
 *   deno bench --allow-read --allow-env bench/router_bench.ts
 *   LIMINAL_BENCH_SMOKE=1 deno bench --allow-read --allow-env bench/router_bench.ts
 *   deno run --allow-read --allow-env bench/router_bench.ts   # latency percentiles only
 *
 * @module
 */
import { type RouterOptions, UnifiedMessageRouter } from "../src/router/mod.ts";
import type { Message } from "../src/router/mod.ts";
import { PRIORITIES } from "../src/shared/priority.ts";
import { Channel } from "./_channel.ts";

const SMOKE = readSmoke();
const MESSAGES = SMOKE ? 1_000 : 100_000;
const FAN_OUT = 10;
const BACKLOG = SMOKE ? 100 : 10_000;
const RUNS = SMOKE ? { n: 1, warmup: 0 } : { n: 30, warmup: 5 };
const LATENCY_RUNS = SMOKE ? { n: 5, warmup: 0 } : { n: 5_000, warmup: 200 };

function readSmoke(): boolean {
  try {
    const value = Deno.env.get("LIMINAL_BENCH_SMOKE");
    return value !== undefined && value !== "" && value !== "0";
  } catch {
    return false; // no --allow-env: a full run
  }
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

// ── Router set-up ──────────────────────────────────────────────────────────────────────────

/** Fairness stays on, with a budget no sender of these rounds runs out of. */
const ROUTER_OPTIONS: RouterOptions = {
  tokens: { capacity: 1e12, refillPerSecond: 1e12 },
  mailbox: Object.fromEntries(
    PRIORITIES.map((p) => [p, { capacity: 10 * MESSAGES + BACKLOG + 10 }]),
  ),
};

function startedRouter(): UnifiedMessageRouter {
  const router = new UnifiedMessageRouter(ROUTER_OPTIONS);
  router.start();
  return router;
}

/** Resolves when `counter.n` reaches `target`. */
function until(target: number): { tick(): void; done: Promise<void> } {
  let n = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  return {
    tick() {
      if (++n === target) resolve();
    },
    done: promise,
  };
}

// ── one-to-one ─────────────────────────────────────────────────────────────────────────────

const ONE_TO_ONE = `router one-to-one, ${count(MESSAGES)} messages`;

/**
 * How the producer sends: `await`ing each send (what a caller of `send` does; the channel's
 * producer yields once per message the same way), or all in one synchronous burst (every
 * message is queued at once: a worst case for the garbage collector).
 */
type Producer = "awaits each send" | "one burst";
const PRODUCERS: readonly Producer[] = ["awaits each send", "one burst"];

for (const producer of PRODUCERS) {
  Deno.bench({
    name: `bare async channel (array + promise), for await; producer ${producer}`,
    group: ONE_TO_ONE,
    baseline: producer === "awaits each send",
    ...RUNS,
    async fn(b) {
      const channel = new Channel<{ n: number }>();
      b.start();
      const consumer = (async () => {
        let sum = 0;
        for (let i = 0; i < MESSAGES; i++) sum += (await channel.receive()).n;
        return sum;
      })();
      if (producer === "one burst") {
        for (let i = 0; i < MESSAGES; i++) channel.send({ n: i });
      } else {
        for (let i = 0; i < MESSAGES; i++) {
          channel.send({ n: i });
          await null;
        }
      }
      await consumer;
      b.end();
    },
  });
}

for (const producer of PRODUCERS) {
  Deno.bench({
    name: `liminal router, handler endpoint; producer ${producer}`,
    group: ONE_TO_ONE,
    ...RUNS,
    async fn(b) {
      const router = startedRouter();
      let sum = 0;
      const all = until(MESSAGES);
      router.register("sink", {
        handler: (m) => {
          sum += (m.payload as { n: number }).n;
          all.tick();
        },
      });
      b.start();
      if (producer === "one burst") {
        for (let i = 0; i < MESSAGES; i++) router.send("sink", "tick", { n: i });
      } else {
        for (let i = 0; i < MESSAGES; i++) await router.send("sink", "tick", { n: i });
      }
      await all.done;
      b.end();
      await router.close({ graceMs: 0 });
    },
  });
}

Deno.bench({
  name: "liminal router, for await endpoint; producer awaits each send",
  group: ONE_TO_ONE,
  ...RUNS,
  async fn(b) {
    const router = startedRouter();
    const inbox = router.register("sink");
    b.start();
    const consumer = (async () => {
      let sum = 0;
      let n = 0;
      for await (const m of inbox) {
        sum += (m.payload as { n: number }).n;
        if (++n === MESSAGES) break;
      }
      return sum;
    })();
    for (let i = 0; i < MESSAGES; i++) await router.send("sink", "tick", { n: i });
    await consumer;
    b.end();
    await router.close({ graceMs: 0 });
  },
});

// ── many-to-one ────────────────────────────────────────────────────────────────────────────

const MANY_TO_ONE = `router many-to-one (10 senders, mixed priorities), ${
  count(MESSAGES)
} messages`;
const SENDERS = Array.from({ length: 10 }, (_, i) => `sender-${i}`);
const MIXED = ["info", "coordinate", "blocking", "critical"] as const;

Deno.bench({
  name: "bare async channel (array + promise), for await; producers await each send",
  group: MANY_TO_ONE,
  baseline: true,
  ...RUNS,
  async fn(b) {
    const channel = new Channel<{ n: number; from: string }>();
    b.start();
    const consumer = (async () => {
      let sum = 0;
      for (let i = 0; i < MESSAGES; i++) sum += (await channel.receive()).n;
      return sum;
    })();
    for (let i = 0; i < MESSAGES; i++) {
      channel.send({ n: i, from: SENDERS[i % 10]! });
      await null;
    }
    await consumer;
    b.end();
  },
});

Deno.bench({
  name: "liminal router, handler endpoint; producers await each send",
  group: MANY_TO_ONE,
  ...RUNS,
  async fn(b) {
    const router = startedRouter();
    let sum = 0;
    const all = until(MESSAGES);
    router.register("sink", {
      handler: (m) => {
        sum += (m.payload as { n: number }).n;
        all.tick();
      },
    });
    b.start();
    for (let i = 0; i < MESSAGES; i++) {
      await router.send("sink", "tick", { n: i }, {
        from: SENDERS[i % 10]!,
        priority: MIXED[i & 3]!,
      });
    }
    await all.done;
    b.end();
    await router.close({ graceMs: 0 });
  },
});

// ── one-to-many ────────────────────────────────────────────────────────────────────────────

const ONE_TO_MANY = `router one-to-many (topic, ${FAN_OUT} subscribers), ${
  count(MESSAGES)
} messages delivered`;

Deno.bench({
  name: "bare async channel (array + promise), one per subscriber; producer awaits each",
  group: ONE_TO_MANY,
  baseline: true,
  ...RUNS,
  async fn(b) {
    const channels = Array.from({ length: FAN_OUT }, () => new Channel<{ n: number }>());
    const publishes = MESSAGES / FAN_OUT;
    b.start();
    const consumers = channels.map(async (channel) => {
      let sum = 0;
      for (let i = 0; i < publishes; i++) sum += (await channel.receive()).n;
      return sum;
    });
    for (let i = 0; i < publishes; i++) {
      const item = { n: i };
      for (const channel of channels) channel.send(item);
      await null;
    }
    await Promise.all(consumers);
    b.end();
  },
});

Deno.bench({
  name: "liminal router, publish to a topic, handler subscriptions; producer awaits each",
  group: ONE_TO_MANY,
  ...RUNS,
  async fn(b) {
    const router = startedRouter();
    let sum = 0;
    const all = until(MESSAGES);
    for (let s = 0; s < FAN_OUT; s++) {
      router.subscribe("events.*", (m) => {
        sum += (m.payload as { n: number }).n;
        all.tick();
      });
    }
    b.start();
    for (let i = 0; i < MESSAGES / FAN_OUT; i++) {
      await router.publish("events.tick", "tick", { n: i });
    }
    await all.done;
    b.end();
    await router.close({ graceMs: 0 });
  },
});

// ── critical latency under an info flood ───────────────────────────────────────────────────

const LATENCY = `router critical latency, ${count(BACKLOG)} info queued ahead (send → handler)`;

/** A router whose worker holds a standing backlog of info; `critical()` times one critical. */
export function floodedRouter(): {
  router: UnifiedMessageRouter;
  /** Tops the info backlog up to {@link BACKLOG}. */
  topUp(): void;
  /**
   * Sends one critical; its handler calls `onHandled` first thing, then the promise
   * resolves with the latency (ms).
   */
  critical(onHandled?: () => void): Promise<number>;
} {
  const router = startedRouter();
  let queued = 0;
  let waiting: ((ms: number) => void) | null = null;
  let handled: (() => void) | undefined;
  router.register("worker", {
    handler: (m: Message) => {
      if (m.priority === "critical") {
        handled?.();
        const ms = performance.now() - (m.payload as { t: number }).t;
        waiting?.(ms);
        waiting = null;
      } else {
        queued--;
      }
    },
  });
  return {
    router,
    topUp() {
      for (; queued < BACKLOG; queued++) {
        router.send("worker", "event", { t: 0 }, { from: "flood", priority: "info" });
      }
    },
    critical(onHandled) {
      const { promise, resolve } = Promise.withResolvers<number>();
      waiting = resolve;
      handled = onHandled;
      router.send("worker", "alarm", { t: performance.now() }, {
        from: "alarm",
        priority: "critical",
      });
      return promise;
    },
  };
}

let flooded: ReturnType<typeof floodedRouter> | null = null;
let fifo: { channel: Channel<{ t: number; critical: boolean }>; consumer: Promise<void> } | null =
  null;

Deno.bench({
  name: "bare async channel (array + promise): FIFO, behind the backlog",
  group: LATENCY,
  baseline: true,
  ...LATENCY_RUNS,
  async fn(b) {
    if (fifo === null) {
      const channel = new Channel<{ t: number; critical: boolean }>();
      fifo = { channel, consumer: Promise.resolve() };
    }
    const { channel } = fifo;
    for (let i = channel.size; i < BACKLOG; i++) channel.send({ t: 0, critical: false });
    b.start();
    channel.send({ t: performance.now(), critical: true });
    for (;;) if ((await channel.receive()).critical) break;
    b.end();
  },
});

Deno.bench({
  name: "liminal router: critical first, ahead of the backlog",
  group: LATENCY,
  ...LATENCY_RUNS,
  async fn(b) {
    flooded ??= floodedRouter();
    flooded.topUp();
    b.start();
    await flooded.critical(() => b.end());
  },
});

globalThis.addEventListener("unload", () => {
  if (flooded === null) return;
  const latency = flooded.router.snapshot().latency;
  console.error(
    `router critical latency (its own histogram, send → hand-over, ${
      count(latency.critical.count)
    } samples): p50 ${latency.critical.p50} ms, p99 ${latency.critical.p99} ms, max ${latency.critical.max} ms`,
  );
  flooded.router.close({ graceMs: 0 });
});

/**
 * Runs `samples` critical sends behind a standing info backlog and returns the latency
 * percentiles (ms) measured in the handler, for a report.
 */
export async function measureCriticalLatency(
  samples = SMOKE ? 50 : 10_000,
): Promise<{ samples: number; backlog: number; p50: number; p99: number; max: number }> {
  const run = floodedRouter();
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    run.topUp();
    latencies.push(await run.critical());
  }
  await run.router.close({ graceMs: 0 });
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
  return { samples, backlog: BACKLOG, p50: at(0.5), p99: at(0.99), max: latencies.at(-1)! };
}

// `deno run` (not `deno bench`): print the percentiles as JSON.
if (import.meta.main) {
  const result = await measureCriticalLatency();
  console.log(JSON.stringify(result));
}
