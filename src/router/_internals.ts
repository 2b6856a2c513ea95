/**
 * The router's one internal state object: what every room of the router (sending, token
 * budgets, dispatch, acks, final states, deadlines, recipients, lifecycle, snapshot) reads
 * and changes. `UnifiedMessageRouter` owns one and hands it to the rooms' functions, the way
 * tokio's runtime parts share one `Handle`. Nothing here acts on its own.
 *
 * @module
 */
import { Emitter } from "../shared/emitter.ts";
import { MinHeap } from "../shared/heap.ts";
import { LatencyHistogram } from "../shared/latency_histogram.ts";
import { CRITICAL_LEVEL, PRIORITIES } from "../shared/priority.ts";
import { RateCounter } from "../shared/rate_counter.ts";
import type { RouterState } from "../shared/router_snapshot.ts";
import { DeadLetterStore } from "./_dead_letters.ts";
import type { Timed } from "./_deadlines.ts";
import type { DeliveryPolicy, RouterCore } from "./_envelope.ts";
import type { Mailbox } from "./_mailbox.ts";
import type { SenderBudget } from "./_token_bucket.ts";
import type { RouterEventMap } from "./events.ts";
import type { Message } from "./message.ts";
import { type ResolvedRouterOptions, resolveRouterOptions, type RouterOptions } from "./options.ts";
import type { RouterCloseReport } from "./router.ts";

/** Longest delay `setTimeout` takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** The end of a `for await` loop. */
export const DONE: IteratorResult<Message, undefined> = Object.freeze({
  done: true,
  value: undefined,
});
/**
 * Latency is timed for every `critical` and `override` message, for every message while
 * someone listens to the router's events, and for one in this many of the others (reading
 * the monotonic clock is a native call that costs as much as a fifth of a send).
 */
const LATENCY_SAMPLE_EVERY = 16;
/** Delivery latencies beyond a day are recorded as a day. */
const LATENCY_TRACKABLE_MS = 24 * 3_600 * 1_000;
/** Send and delivery rates are told over the last 1 and 10 seconds. */
const RATE_WINDOW_SECONDS = 10;

/** Message counts since the router was built. */
export interface Totals {
  sent: number;
  delivered: number;
  acked: number;
  redelivered: number;
  expired: number;
  rejected: number;
  dead: number;
  unrouted: number;
}

/** The router's state, shared by its rooms. */
export class RouterInternals {
  readonly options: ResolvedRouterOptions;
  /** The injected clock; `null` with the default, `Date.now` (read when called). */
  readonly clock: (() => number) | null;
  /** Sends since the last one whose latency was timed. */
  unsampled = 0;
  /** `performance.now()` read once in the current dispatch stretch, or -1. */
  passMono = -1;
  /** Delivery policies by ack (0/1) and level, shared by the messages that take the defaults. */
  readonly policies: DeliveryPolicy[][];
  readonly events: Emitter<RouterEventMap> = new Emitter<RouterEventMap>();
  /** What mailboxes, messages and deliveries call back into (set by the router). */
  core: RouterCore | null = null;
  readonly endpoints: Map<string, Mailbox> = new Map();
  readonly subscriptions: Set<Mailbox> = new Set();
  /** Closed mailboxes that still had messages in flight. */
  readonly retired: Set<Mailbox> = new Set();
  /** Recipients by destination, emptied on every (un)registration. */
  readonly routes: Map<string, Mailbox[]> = new Map();
  readonly senders: Map<string, SenderBudget> = new Map();
  /** Ack deadlines, times to live, waits for room and token refills, earliest first. */
  readonly deadlines: MinHeap<Timed> = new MinHeap<Timed>((deadline) => deadline.at);
  readonly deadLetters: DeadLetterStore;
  /** Delivery latency per priority level. */
  readonly latency: LatencyHistogram[] = PRIORITIES.map(() =>
    new LatencyHistogram(LATENCY_TRACKABLE_MS)
  );
  readonly sentRate: RateCounter;
  readonly deliveredRate: RateCounter;
  readonly totals: Totals = {
    sent: 0,
    delivered: 0,
    acked: 0,
    redelivered: 0,
    expired: 0,
    rejected: 0,
    dead: 0,
    unrouted: 0,
  };
  state: RouterState = "created";
  /** Someone listens to the router's events. */
  watched = false;
  /** Order in which messages entered their mailboxes. */
  seq = 0;
  /** Messages not final yet. */
  pending = 0;
  subscriptionCount = 0;
  raisedMessages = 0;
  raises = 0;
  /** Mailboxes waiting for the next dispatch pass. */
  ready: Mailbox[] = [];
  dispatchQueued = false;
  /** The dispatch pass, queued as a microtask (set by the router). */
  dispatchTask: () => void = () => {};
  /** The deadline timer's callback (set by the router). */
  timerTask: () => void = () => {};
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt = Number.POSITIVE_INFINITY;
  idleWaiters: (() => void)[] = [];
  closing: Promise<RouterCloseReport> | null = null;

  constructor(options: RouterOptions) {
    this.options = resolveRouterOptions(options);
    this.clock = this.options.customClock ? this.options.clock : null;
    this.policies = [false, true].map((requiresAck) =>
      this.options.ackTimeoutMs.map((ackTimeoutMs) => ({
        requiresAck,
        ackTimeoutMs,
        maxDeliveries: this.options.maxDeliveries,
      }))
    );
    this.deadLetters = new DeadLetterStore(this.options.deadLetterCapacity);
    const now = this.now();
    this.sentRate = new RateCounter(now, RATE_WINDOW_SECONDS);
    this.deliveredRate = new RateCounter(now, RATE_WINDOW_SECONDS);
  }

  /** Epoch ms now. */
  now(): number {
    return this.clock === null ? Date.now() : this.clock();
  }

  /** `performance.now()` if this send's latency is to be timed, else -1. */
  sampleMono(level: number): number {
    if (level >= CRITICAL_LEVEL || this.watched || ++this.unsampled >= LATENCY_SAMPLE_EVERY) {
      this.unsampled = 0;
      return performance.now();
    }
    return -1;
  }
}
