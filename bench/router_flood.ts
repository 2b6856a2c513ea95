/**
 * Critical delivery latency through the router while one sender floods it with 100,000
 * `info` messages a second, in real time, next to a bare async FIFO channel under the same
 * load. Prints one JSON document.
 *
 * Open loop: the driver wakes on a timer (~2 ms ticks here) and sends every `info` message
 * due by then (~200 a tick), whatever the router made of the earlier ones; sender "flood".
 * Sender "alarm" sends one `critical` message every 5–10 ms (seeded jitter), to the same
 * endpoint as the flood. Timers run one at a time and the microtasks between them drain
 * whatever a tick queued, so a critical message sent from a timer of its own would always
 * find the mailbox empty: the driver sends it in a flood tick, right after that tick's
 * burst, the moment it is due (the worst moment: a burst queued ahead of it).
 *
 * Latency: `performance.now()` just before `send()` → the handler's first line (the
 * router serialises each payload and the handler gets a parsed copy; the channel passes
 * references). Handlers do nothing but count.
 *
 * Three runs, each after a warm-up run of the same kind:
 *
 * - `router-defaults`: the router's defaults (token bucket 200, refill 60/s, `info` costs 1;
 *   `info` mailbox 1,000, rejecting when full). The flood is throttled to its budget: its
 *   sends wait in its bucket's queue (counted as `throttled`, still `waiting` at the end).
 *   The alarm sender is exempt (`tokens.senders.alarm: false`): with the defaults a
 *   `critical` costs 100 tokens, so one sender gets ~0.6 of them a second.
 * - `router-raised`: the flood's bucket raised (capacity 100,000, refill 1,000,000/s; the
 *   check stays on the hot path) and the `info` mailbox to 10,000, so a late tick's burst is
 *   not refused: 100,000 info/s really go through. The alarm sender is exempt.
 * - `channel`: a bare async FIFO channel (array + one pending promise) and one consumer
 *   loop: the critical message waits behind whatever info is queued ahead of it.
 *
 *   deno run --allow-read --allow-env bench/router_flood.ts
 *   deno run --allow-read --allow-env bench/router_flood.ts --runs router-raised --duration-ms 5000
 *   #   --runs channel,router-raised,router-defaults   --warmup-ms 500   --rate 100000
 *
 * @module
 */
import { type RouterOptions, UnifiedMessageRouter } from "../src/router/mod.ts";
import { pick } from "./_config.ts";
import { parseArgs } from "./_proc.ts";
import { Channel } from "./_channel.ts";
import { type LatencySummary, median, random, summarize } from "./_stats.ts";

/** Info messages a second the flood sender sends (`--rate` changes it, for a look by hand). */
export const FLOOD_PER_SEC = 100_000;
/** Gap between two critical messages: uniform in this range, ms. */
export const CRITICAL_GAP_MS: readonly [number, number] = [5, 10];
/** The driver's timer, ms (Deno's timers tick every ~2 ms here whatever is asked below it). */
const TICK_MS = 1;
/** The flood's rate in this process. */
let floodPerSec = FLOOD_PER_SEC;

/** Which run. */
export type FloodRunId = "router-defaults" | "router-raised" | "channel";

/** One run. */
export interface FloodRun {
  id: FloodRunId;
  label: string;
  /** What the fairness (token bucket) and mailbox settings were. */
  settings: string;
  durationMs: number;
  flood: {
    /** `send()` calls made (or items pushed into the channel). */
    sent: number;
    /** Sends that resolved (queued in the mailbox) within the window. */
    admitted: number;
    /** Messages that reached the handler within the window. */
    delivered: number;
    /** Sends that had to wait for tokens (the router's own count for the sender). */
    throttled: number;
    /** Sends still waiting for tokens when the window ended. */
    waitingAtEnd: number;
    /** Sends refused within the window (`MAILBOX_FULL` and the like), by error code. */
    rejected: number;
    rejectedBy: Record<string, number>;
    sentPerSec: number;
    deliveredPerSec: number;
    /** Timer ticks of the driver, and the largest burst one tick sent. */
    ticks: number;
    maxBurst: number;
  };
  critical: {
    sent: number;
    /** Send → handler, ms, of the critical messages handled within the window. */
    latency: LatencySummary;
    /** Info sent but not yet handled when each critical was sent: median and max. */
    infoAheadP50: number;
    infoAheadMax: number;
    /** Critical sends that failed. */
    failed: number;
  };
  /** The router's own histogram for `critical` (send → hand-over), ms; `null` for the channel. */
  routerCritical:
    | { count: number; p50: number | null; p99: number | null; max: number | null }
    | null;
  /** `heapUsed` when the window ended, bytes. */
  heapUsedAtEnd: number;
  /**
   * What `router.close()` threw, if it did. With more than ~130,000 sends waiting for
   * tokens it throws `RangeError: Maximum call stack size exceeded` (`SenderBudget.drain()`
   * spreads every waiting send into one `push` call): the default-budget run leaves ~250,000.
   */
  closeError: string | null;
}

/** Everything this script measures. */
export interface FloodReport {
  floodPerSec: number;
  criticalGapMs: readonly [number, number];
  durationMs: number;
  warmupMs: number;
  /** Whether flood and critical go to the same endpoint (they do). */
  sameEndpoint: boolean;
  runs: FloodRun[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ── The open-loop driver ────────────────────────────────────────────────────────────────

interface Target {
  /** Sends info message `k` from the flood sender. */
  info(k: number): void;
  /** Sends critical message `seq`; `sentAt[seq]` must be set just before the send call. */
  critical(seq: number): void;
  /** Info handled so far. */
  infoHandled(): number;
}

interface Driven {
  sent: number;
  ticks: number;
  maxBurst: number;
  criticalSent: number;
  infoAhead: number[];
  elapsedMs: number;
}

async function drive(target: Target, durationMs: number): Promise<Driven> {
  const gapMs = 1_000 / floodPerSec;
  const jitter = random(7);
  const [lo, hi] = CRITICAL_GAP_MS;
  const t0 = performance.now();
  const end = t0 + durationMs;
  let nextCritical = t0 + lo + jitter() * (hi - lo);
  let k = 0;
  let ticks = 0;
  let maxBurst = 0;
  let criticalSent = 0;
  const infoAhead: number[] = [];
  for (;;) {
    const now = performance.now();
    const due = Math.floor((Math.min(now, end) - t0) / gapMs);
    if (due - k > maxBurst) maxBurst = due - k;
    for (; k < due; k++) target.info(k);
    ticks++;
    if (now >= end) break;
    if (now >= nextCritical) {
      infoAhead.push(k - target.infoHandled());
      target.critical(criticalSent++);
      nextCritical += lo + jitter() * (hi - lo);
      if (nextCritical < now) nextCritical = now + lo; // after a long stall, no catch-up burst
    }
    await sleep(TICK_MS);
  }
  return { sent: k, ticks, maxBurst, criticalSent, infoAhead, elapsedMs: durationMs };
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === "object" && "code" in error) {
    return String((error as { code: unknown }).code);
  }
  return error instanceof Error ? error.name : "error";
}

// ── Runs ────────────────────────────────────────────────────────────────────────────────

interface RouterConfig {
  id: FloodRunId;
  label: string;
  settings: string;
  options: RouterOptions;
}

const ROUTER_CONFIGS: readonly RouterConfig[] = [
  {
    id: "router-defaults",
    label: "router, default budgets",
    settings:
      "defaults: bucket 200, refill 60/s, info costs 1; info mailbox 1,000 (reject); alarm exempt",
    options: { tokens: { senders: { alarm: false } } },
  },
  {
    id: "router-raised",
    label: "router, flood budget raised",
    settings:
      "flood bucket 100,000, refill 1,000,000/s; info mailbox 10,000 (reject); alarm exempt",
    options: {
      tokens: {
        senders: { alarm: false, flood: { capacity: 100_000, refillPerSecond: 1_000_000 } },
      },
      mailbox: { info: { capacity: 10_000 } },
    },
  },
];

async function runRouter(config: RouterConfig, durationMs: number): Promise<FloodRun> {
  const router = new UnifiedMessageRouter(config.options);
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let infoHandled = 0;
  router.register("worker", {
    handler: (m) => {
      if (m.priority === "critical") {
        const now = performance.now();
        latencies.push(now - sentAt[(m.payload as { seq: number }).seq]!);
      } else {
        infoHandled++;
      }
    },
  });
  router.start();
  let open = true;
  let admitted = 0;
  let rejected = 0;
  let criticalFailed = 0;
  const rejectedBy: Record<string, number> = {};
  const onAdmitted = () => {
    if (open) admitted++;
  };
  const onRejected = (error: unknown) => {
    if (!open) return; // refused by close() after the window
    rejected++;
    const code = errorCode(error);
    rejectedBy[code] = (rejectedBy[code] ?? 0) + 1;
  };
  const driven = await drive({
    info(k) {
      router.send("worker", "event", { n: k }, { from: "flood", priority: "info" }).then(
        onAdmitted,
        onRejected,
      );
    },
    critical(seq) {
      sentAt[seq] = performance.now();
      router.send("worker", "alarm", { seq }, { from: "alarm", priority: "critical" }).catch(
        () => {
          if (open) criticalFailed++;
        },
      );
    },
    infoHandled: () => infoHandled,
  }, durationMs);
  // The last critical was sent at most one tick ago: let it (and its microtasks) through.
  await sleep(5);
  const delivered = infoHandled;
  const handledLatencies = latencies.slice();
  const snapshot = router.snapshot();
  const heapUsedAtEnd = Deno.memoryUsage().heapUsed;
  open = false;
  const flood = snapshot.senders.find((s) => s.sender === "flood");
  const own = snapshot.latency.critical;
  let closeError: string | null = null;
  try {
    await router.close({ graceMs: 0 });
  } catch (error) {
    closeError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  const seen = observed(driven, delivered, handledLatencies, criticalFailed);
  return {
    id: config.id,
    label: config.label,
    settings: config.settings,
    durationMs: driven.elapsedMs,
    flood: {
      sent: driven.sent,
      admitted,
      delivered,
      throttled: flood?.throttled ?? 0,
      waitingAtEnd: flood?.waiting ?? 0,
      rejected,
      rejectedBy,
      ...seen.rates,
    },
    critical: seen.critical,
    routerCritical: { count: own.count, p50: own.p50, p99: own.p99, max: own.max },
    heapUsedAtEnd,
    closeError,
  };
}

/** The figures every run reports the same way, from what the driver saw. */
function observed(
  driven: Driven,
  delivered: number,
  handledLatencies: number[],
  criticalFailed: number,
): { rates: Pick<FloodRun["flood"], RateKey>; critical: FloodRun["critical"] } {
  const seconds = driven.elapsedMs / 1_000;
  return {
    rates: {
      sentPerSec: driven.sent / seconds,
      deliveredPerSec: delivered / seconds,
      ticks: driven.ticks,
      maxBurst: driven.maxBurst,
    },
    critical: {
      sent: driven.criticalSent,
      latency: summarize(handledLatencies),
      infoAheadP50: median(driven.infoAhead),
      infoAheadMax: driven.infoAhead.reduce((max, n) => Math.max(max, n), 0),
      failed: criticalFailed,
    },
  };
}

type RateKey = "sentPerSec" | "deliveredPerSec" | "ticks" | "maxBurst";

async function runChannel(durationMs: number): Promise<FloodRun> {
  type Item = { critical: boolean; n: number };
  const STOP: Item = { critical: false, n: -1 };
  const channel = new Channel<Item>();
  const sentAt: number[] = [];
  const latencies: number[] = [];
  let infoHandled = 0;
  const consumer = (async () => {
    for (;;) {
      const item = await channel.receive();
      if (item === STOP) return;
      if (item.critical) latencies.push(performance.now() - sentAt[item.n]!);
      else infoHandled++;
    }
  })();
  const driven = await drive({
    info(k) {
      channel.send({ critical: false, n: k });
    },
    critical(seq) {
      sentAt[seq] = performance.now();
      channel.send({ critical: true, n: seq });
    },
    infoHandled: () => infoHandled,
  }, durationMs);
  await sleep(5);
  const delivered = infoHandled;
  const handledLatencies = latencies.slice();
  const heapUsedAtEnd = Deno.memoryUsage().heapUsed;
  channel.send(STOP);
  await consumer;
  const seen = observed(driven, delivered, handledLatencies, 0);
  return {
    id: "channel",
    label: "bare async channel (array + promise), FIFO",
    settings: "no fairness, unbounded; critical waits behind the info queued ahead",
    durationMs: driven.elapsedMs,
    flood: {
      sent: driven.sent,
      admitted: driven.sent,
      delivered,
      throttled: 0,
      waitingAtEnd: 0,
      rejected: 0,
      rejectedBy: {},
      ...seen.rates,
    },
    critical: seen.critical,
    routerCritical: null,
    heapUsedAtEnd,
    closeError: null,
  };
}

/** Runs `ids` in order, each after a warm-up run of the same kind. */
export async function measureFlood(
  ids: readonly FloodRunId[],
  durationMs: number,
  warmupMs: number,
  ratePerSec = FLOOD_PER_SEC,
): Promise<FloodReport> {
  floodPerSec = ratePerSec;
  const runs: FloodRun[] = [];
  for (const id of ids) {
    const config = ROUTER_CONFIGS.find((c) => c.id === id);
    const run = (ms: number) => config === undefined ? runChannel(ms) : runRouter(config, ms);
    if (warmupMs > 0) await run(warmupMs);
    await sleep(50);
    runs.push(await run(durationMs));
    await sleep(50);
  }
  return {
    floodPerSec: ratePerSec,
    criticalGapMs: CRITICAL_GAP_MS,
    durationMs,
    warmupMs,
    sameEndpoint: true,
    runs,
  };
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  const all: FloodRunId[] = ["channel", "router-raised", "router-defaults"];
  const ids = (args.get("runs")?.split(",") ?? all) as FloodRunId[];
  for (const id of ids) {
    if (!all.includes(id)) throw new Error(`unknown run ${id}: use ${all.join(", ")}`);
  }
  const durationMs = Number(args.get("duration-ms") ?? pick(2_500, 300));
  const warmupMs = Number(args.get("warmup-ms") ?? pick(500, 0));
  const rate = Number(args.get("rate") ?? FLOOD_PER_SEC);
  console.log(JSON.stringify(await measureFlood(ids, durationMs, warmupMs, rate)));
  // A router whose close() threw (see `closeError`) may still hold a token wake-up timer.
  Deno.exit(0);
}
