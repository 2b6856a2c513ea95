/**
 * The `UnifiedMessageRouter`: named endpoints and topic subscriptions, one bounded priority
 * mailbox per recipient with aging, a token bucket per sender, acknowledgements with
 * redelivery, and a bounded dead-letter store.
 *
 * ## Where a message goes
 *
 * A send names a destination `to`. Its recipients are the endpoint registered under exactly
 * that name, if any, and every subscription whose pattern matches it (`jobs.*` matches
 * `jobs.succeeded`; `jobs.**` also matches `jobs.a.b`). Each recipient gets its own message,
 * with its own id, state and acknowledgement. With no recipient the message is dead-lettered
 * (`no-endpoint`) and the send fails with `ENDPOINT_NOT_FOUND` — unless the send is
 * `optional` (what {@link UnifiedMessageRouter.publish} does for topics): then no message is
 * made and the send resolves with no ids.
 *
 * ## A message's life
 *
 * ```
 * send ─► throttled ─(sender's tokens)─► [room in the recipient's lane?]
 *           yes ─► queued ─(highest effective priority, FIFO within a level)─► in-flight
 *           no, lane waits  ─► waiting ─(room)─► queued
 *                              waiting ─(wait deadline)─► dead (mailbox-full),
 *                                                         send fails MAILBOX_FULL
 *           no, lane rejects ─► rejected, send fails MAILBOX_FULL
 *           recipient closed ─► dead (no-endpoint), send fails ENDPOINT_NOT_FOUND
 * in-flight ─(handler returned, or yielded to `for await`; no ack asked)─► delivered
 * in-flight ─(acked)─► delivered
 * in-flight ─(ack deadline passed | handler threw)─► queued again at the head of its lane
 *           while it has deliveries left, else dead (ack-timeout | handler-error)
 * throttled | waiting | queued ─(time to live over)─► expired (kept as a dead letter)
 * throttled | waiting ─(the send's signal aborted)─► rejected
 * any non-final ─(close: grace over)─► dead (shutdown)
 * ```
 *
 * A handler still running when its delivery fails (ack deadline passed) has its signal
 * aborted and keeps its concurrency slot until it returns, so with `concurrency: 1` the
 * redelivery waits for it; a late ack or settlement of that delivery is ignored.
 *
 * Every message ends in exactly one of `delivered`, `expired`, `rejected` and `dead`, and
 * `snapshot().totals` counts them: `sent = delivered + expired + rejected + dead + pending`.
 * A send's promise resolves once each of its messages is queued (or expired); it rejects with
 * the first failure of any of them. A redelivery (and a message whose time to live passes
 * while it is in flight) is judged when the delivery fails: an expired message is not
 * redelivered.
 *
 * ## Lifecycle
 *
 * `created` (endpoints may register; sends fail `ROUTER_CLOSED`) → `start()` → `running` →
 * `close({ graceMs })` → `closing` (sends fail `ROUTER_CLOSED`; pending messages are still
 * delivered, redelivered and acked) → grace over or nothing pending → every message left is
 * dead-lettered (`shutdown`), waiting sends fail `ROUTER_CLOSED`, running handlers' signals
 * abort, iterators end, the timer is cleared → `closed`.
 *
 * ## Cost
 *
 * A send to one endpoint is O(1): a cached route, one JSON serialisation, one token check, a
 * push into a ring buffer; one dispatch pass per microtask hands messages over. Deadlines
 * (acks, times to live, waits) share one heap and one timer; only messages that have one pay
 * its O(log n).
 *
 * @module
 */
import { Emitter, type EventSource } from "../shared/emitter.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { MinHeap } from "../shared/heap.ts";
import { serializePayload } from "../shared/json.ts";
import { LatencyHistogram } from "../shared/latency_histogram.ts";
import {
  CRITICAL_LEVEL,
  isPriority,
  parsePriority,
  PRIORITIES,
  type Priority,
  priorityLevel,
} from "../shared/priority.ts";
import {
  type DeadLetterReason,
  type DeadLetterView,
  isDeadLetterReason,
  type MessageView,
  type RouterRate,
  type RouterSnapshot,
  type RouterState,
  type SenderSnapshot,
} from "../shared/router_snapshot.ts";
import { RateCounter, roundRate } from "../shared/rate_counter.ts";
import { type DeadLetter, DeadLetterStore } from "./_dead_letters.ts";
import {
  Delivery,
  type DeliveryPolicy,
  Envelope,
  PendingSend,
  type RouterCore,
  SingleReceipt,
} from "./_envelope.ts";
import { Mailbox } from "./_mailbox.ts";
import { checkName, TopicPattern } from "./_names.ts";
import { SenderBudget } from "./_token_bucket.ts";
import type { Endpoint, EndpointOptions, SubscribeOptions, Subscription } from "./endpoint.ts";
import type { RouterEventMap } from "./events.ts";
import type { Message, MessageHandler, SendOptions, SendReceipt } from "./message.ts";
import {
  positiveDuration,
  type ResolvedRouterOptions,
  resolveMailbox,
  resolveRouterOptions,
  type RouterOptions,
  wholeNumber,
} from "./options.ts";

/** Options of {@link UnifiedMessageRouter.close}. */
export interface CloseOptions {
  /** How long pending messages may still be delivered. @default the router's `closeGrace` */
  graceMs?: number;
}

/** What {@link UnifiedMessageRouter.close} did, for the shutdown report. */
export interface RouterCloseReport {
  /** Messages delivered during the grace. */
  delivered: number;
  /** Messages dead-lettered with `shutdown` at its end. */
  deadLettered: number;
  /** How long the close took. */
  durationMs: number;
}

/** Which dead letters {@link UnifiedMessageRouter.deadLetters} lists. */
export interface DeadLetterQuery {
  /** Only this reason. @default every reason */
  reason?: DeadLetterReason;
  /** At most this many, newest first. @default 100 */
  limit?: number;
}

/** The sender of a send without `from`. */
export const DEFAULT_SENDER = "anonymous";

/** Messages one mailbox is handed per dispatch pass before the others get a turn. */
const DISPATCH_BUDGET = 256;
/** Cached destinations; the cache is emptied beyond it (and on every (un)registration). */
const ROUTE_CACHE_LIMIT = 10_000;
/** Longest delay `setTimeout` takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Hand-overs to `for await` readers between two readings of the clock in one pass. */
const CLOCK_EVERY = 16;
/**
 * Latency is timed for every `critical` and `override` message, for every message while
 * someone listens to the router's events, and for one in this many of the others (reading
 * the monotonic clock is a native call that costs as much as a fifth of a send).
 */
const LATENCY_SAMPLE_EVERY = 16;
/** Senders idle this long with a full bucket are forgotten (a new bucket is the same). */
const SENDER_IDLE_MS = 60_000;
/** Delivery latencies beyond a day are recorded as a day. */
const LATENCY_TRACKABLE_MS = 24 * 3_600 * 1_000;
/** Send and delivery rates are told over the last 1 and 10 seconds. */
const RATE_WINDOW_SECONDS = 10;
const EMPTY_RECEIPT: SendReceipt = Object.freeze({ id: null, ids: Object.freeze([]) });
const DONE: IteratorResult<Message, undefined> = Object.freeze({ done: true, value: undefined });

const PLACED = 0;
const WAITING = 1;

/** What a deadline is for. */
const ACK = 0;
const TTL = 1;
const ROOM = 2;
const TOKENS = 3;

class Timed {
  constructor(
    readonly at: number,
    readonly kind: number,
    readonly envelope: Envelope | null,
    readonly attempt: number,
    readonly sender: SenderBudget | null,
  ) {}
}

/**
 * Routes messages between parts of one runtime; see the module doc.
 *
 * @example
 * ```ts
 * await using router = new UnifiedMessageRouter();
 * router.register("compactor", {
 *   handler: async (message, ctx) => {
 *     await compact(message.payload);
 *     ctx.ack();
 *   },
 * });
 * router.subscribe("jobs.*", (message) => console.log(message.type));
 * router.start();
 * await router.send("compactor", "compact", { table: "events" }, {
 *   priority: "blocking",
 *   ack: true,
 * });
 * await router.publish("jobs.succeeded", "job", { id: "…" });
 * ```
 */
export class UnifiedMessageRouter implements EventSource<RouterEventMap>, AsyncDisposable {
  readonly #options: ResolvedRouterOptions;
  /** The injected clock; `null` with the default, `Date.now` (read when called). */
  readonly #clock: (() => number) | null;
  /** Sends since the last one whose latency was timed. */
  #unsampled = 0;
  /** `performance.now()` read once in the current dispatch stretch, or -1. */
  #passMono = -1;
  /** Delivery policies by ack (0/1) and level, shared by the messages that take the defaults. */
  readonly #policies: DeliveryPolicy[][];
  readonly #events = new Emitter<RouterEventMap>();
  readonly #core: RouterCore;
  readonly #endpoints = new Map<string, Mailbox>();
  readonly #subscriptions = new Set<Mailbox>();
  /** Closed mailboxes that still had messages in flight. */
  readonly #retired = new Set<Mailbox>();
  readonly #routes = new Map<string, Mailbox[]>();
  readonly #senders = new Map<string, SenderBudget>();
  readonly #deadlines = new MinHeap<Timed>((deadline) => deadline.at);
  readonly #deadLetters: DeadLetterStore;
  readonly #latency: LatencyHistogram[] = PRIORITIES.map(() =>
    new LatencyHistogram(LATENCY_TRACKABLE_MS)
  );
  readonly #sentRate: RateCounter;
  readonly #deliveredRate: RateCounter;
  readonly #totals = {
    sent: 0,
    delivered: 0,
    acked: 0,
    redelivered: 0,
    expired: 0,
    rejected: 0,
    dead: 0,
    unrouted: 0,
  };
  #state: RouterState = "created";
  #watched = false;
  #seq = 0;
  #pending = 0;
  #subscriptionCount = 0;
  #raisedMessages = 0;
  #raises = 0;
  #ready: Mailbox[] = [];
  #dispatchQueued = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #idleWaiters: (() => void)[] = [];
  #closing: Promise<RouterCloseReport> | null = null;

  /** Builds a router; starts nothing (no timer, no task) until {@link start}. */
  constructor(options: RouterOptions = {}) {
    this.#options = resolveRouterOptions(options);
    this.#clock = this.#options.customClock ? this.#options.clock : null;
    this.#policies = [false, true].map((requiresAck) =>
      this.#options.ackTimeoutMs.map((ackTimeoutMs) => ({
        requiresAck,
        ackTimeoutMs,
        maxDeliveries: this.#options.maxDeliveries,
      }))
    );
    this.#deadLetters = new DeadLetterStore(this.#options.deadLetterCapacity);
    const now = this.#now();
    this.#sentRate = new RateCounter(now, RATE_WINDOW_SECONDS);
    this.#deliveredRate = new RateCounter(now, RATE_WINDOW_SECONDS);
    this.#core = {
      ack: (envelope, attempt) => this.#ack(envelope, attempt),
      send: (to, type, payload, options) => this.send(to, type, payload, options),
      publish: (topic, type, payload, options) => this.publish(topic, type, payload, options),
      closeMailbox: (mailbox) => this.#closeMailbox(mailbox),
      pull: (mailbox) => this.#pull(mailbox),
    };
  }

  // ── Events ────────────────────────────────────────────────────────────────────────────

  on<K extends keyof RouterEventMap>(
    event: K,
    listener: (payload: RouterEventMap[K]) => void,
  ): () => void {
    this.#watched = true;
    return this.#events.on(event, listener);
  }

  once<K extends keyof RouterEventMap>(
    event: K,
    listener: (payload: RouterEventMap[K]) => void,
  ): () => void {
    this.#watched = true;
    return this.#events.once(event, listener);
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────────

  /** `created`, `running`, `closing` or `closed`. */
  get state(): RouterState {
    return this.#state;
  }

  /** Starts taking sends. */
  start(): void {
    if (this.#state !== "created") {
      throw new LiminalError("INVALID_ARGUMENT", `the router was already started (${this.#state})`);
    }
    this.#setState("running");
  }

  /**
   * Shutdown phase 4: refuses new sends (`ROUTER_CLOSED`), lets pending messages be
   * delivered while their endpoints still run, up to `graceMs`, then dead-letters the rest
   * (`shutdown`). Afterwards no timer or promise of the router is left. Safe to call twice
   * (the second call gets the first call's promise).
   */
  close(options: CloseOptions = {}): Promise<RouterCloseReport> {
    if (this.#closing === null) {
      const graceMs = options.graceMs ?? this.#options.closeGraceMs;
      if (typeof graceMs !== "number" || !(graceMs >= 0)) {
        return Promise.reject(
          new LiminalError("INVALID_ARGUMENT", `invalid graceMs ${graceMs}: use 0 or more`),
        );
      }
      this.#closing = this.#close(graceMs);
    }
    return this.#closing;
  }

  /** Closes with the default grace. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves when no message is pending (every one sent so far is final). */
  onIdle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  // ── Recipients ────────────────────────────────────────────────────────────────────────

  /**
   * Registers an endpoint under `name` (letters, digits, `.`, `_`, `:`, `-`). With
   * `options.handler` it receives through the handler; without, read it with `for await`.
   * A taken name: `ENDPOINT_EXISTS`.
   */
  register(name: string, options: EndpointOptions = {}): Endpoint {
    this.#assertOpen();
    checkName(name, "endpoint name");
    if (this.#endpoints.has(name)) {
      throw new LiminalError("ENDPOINT_EXISTS", `endpoint "${name}" is already registered`);
    }
    const mailbox = this.#mailbox(name, "endpoint", null, options);
    this.#endpoints.set(name, mailbox);
    this.#routes.clear();
    return mailbox;
  }

  /**
   * Subscribes to every topic matching `pattern` (`*` is one dot-separated segment, a final
   * `**` one or more). Pass a handler, or options (without a handler: read it with
   * `for await`).
   */
  subscribe(pattern: string, handlerOrOptions?: MessageHandler | SubscribeOptions): Subscription {
    this.#assertOpen();
    const topic = TopicPattern.parse(pattern);
    const options: SubscribeOptions = typeof handlerOrOptions === "function"
      ? { handler: handlerOrOptions }
      : handlerOrOptions ?? {};
    const ordinal = ++this.#subscriptionCount;
    const name = options.name ?? `${pattern}#${ordinal}`;
    if (typeof name !== "string" || name.length === 0 || name.length > 100) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid subscription name ${JSON.stringify(name)}: use 1 to 100 characters`,
      );
    }
    const mailbox = this.#mailbox(name, "subscription", topic, options);
    this.#subscriptions.add(mailbox);
    this.#routes.clear();
    return mailbox;
  }

  // ── Sending ───────────────────────────────────────────────────────────────────────────

  /**
   * Sends a message to `to`: an endpoint and/or the subscriptions matching it (see the
   * module doc). Resolves once every message made is queued for its recipient (after
   * waiting for the sender's tokens, or for room, as the policies say). Fails with
   * `INVALID_PAYLOAD`/`PAYLOAD_TOO_LARGE` (nothing changes), `ENDPOINT_NOT_FOUND`,
   * `MAILBOX_FULL`, or `ROUTER_CLOSED`.
   */
  send(to: string, type: string, payload?: unknown, options?: SendOptions): Promise<SendReceipt> {
    try {
      return this.#send(to, type, payload, options, "coordinate", false);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Publishes an event on a topic: a {@link send} that defaults to `info` and is `optional`,
   * so a topic nobody subscribes to is not an error (no message is made). Meant for the
   * executor's `jobs.*` events.
   */
  publish(
    topic: string,
    type: string,
    payload?: unknown,
    options?: SendOptions,
  ): Promise<SendReceipt> {
    try {
      return this.#send(topic, type, payload, options, "info", true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ── Dead letters ──────────────────────────────────────────────────────────────────────

  /** Dead letters, newest first. */
  deadLetters(query: DeadLetterQuery = {}): DeadLetterView[] {
    const { reason, limit = 100 } = query;
    if (reason !== undefined && !isDeadLetterReason(reason)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid dead-letter reason ${JSON.stringify(reason)}`,
      );
    }
    if (limit !== Number.POSITIVE_INFINITY) wholeNumber(limit, "limit", 0);
    return this.#deadLetters.list(reason, limit).map((letter) => this.#deadView(letter));
  }

  /**
   * Sends a dead letter again, as a new message (`replayOf` its id) to the same recipient
   * (an endpoint registered again under its name counts; a `no-endpoint` letter is routed
   * afresh). It skips the sender's token bucket. Once the new message is queued the dead
   * letter is forgotten; if the replay fails it stays. Unknown id: `MESSAGE_NOT_FOUND`.
   */
  replay(id: string): Promise<SendReceipt> {
    try {
      return this.#replay(id);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ── Snapshot ──────────────────────────────────────────────────────────────────────────

  /** The router now, as plain JSON. */
  snapshot(): RouterSnapshot {
    const now = this.#now();
    const senders: SenderSnapshot[] = [];
    for (const [name, sender] of this.#senders) {
      sender.refill(now);
      const idle = sender.waiting === 0 && now - sender.lastUsed >= SENDER_IDLE_MS &&
        sender.tokens >= sender.capacity;
      if (idle) {
        this.#senders.delete(name);
        continue;
      }
      const limited = Number.isFinite(sender.capacity);
      senders.push({
        sender: name,
        tokens: limited ? Math.floor(sender.tokens * 100) / 100 : null,
        capacity: limited ? sender.capacity : null,
        waiting: sender.waiting,
        throttled: sender.throttled,
        sends: sender.sends,
      });
    }
    const latency = Object.fromEntries(
      PRIORITIES.map((p, level) => [p, this.#latency[level]!.summary()]),
    ) as RouterSnapshot["latency"];
    const letters = this.#deadLetters;
    return {
      state: this.#state,
      at: new Date(now).toISOString(),
      endpoints: [...this.#endpoints.values()].map((m) => m.snapshot()),
      subscriptions: [...this.#subscriptions].map((m) => m.snapshot()),
      latency,
      senders,
      aging: {
        intervalMs: Number.isFinite(this.#options.agingMs) ? this.#options.agingMs : null,
        maxRaises: this.#options.maxRaises,
        raisedMessages: this.#raisedMessages,
        raises: this.#raises,
      },
      rates: {
        sent: rateSummary(this.#sentRate, now),
        delivered: rateSummary(this.#deliveredRate, now),
      },
      totals: { ...this.#totals, pending: this.#pending },
      deadLetters: {
        size: letters.size,
        capacity: letters.capacity,
        dropped: letters.dropped,
        byReason: { ...letters.byReason },
      },
    };
  }

  // ── Internals: sending ────────────────────────────────────────────────────────────────

  #send(
    to: string,
    type: string,
    payload: unknown,
    options: SendOptions | undefined,
    defaultPriority: Priority,
    defaultOptional: boolean,
  ): Promise<SendReceipt> {
    if (this.#state !== "running") throw this.#notRunning();
    const route = this.#route(to);
    if (typeof type !== "string" || type.length === 0 || type.length > 200) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid message type ${JSON.stringify(type)}: use 1 to 200 characters`,
      );
    }
    const priority = options?.priority ?? defaultPriority;
    const level = isPriority(priority)
      ? priorityLevel(priority)
      : priorityLevel(parsePriority(priority, "message priority"));
    const text = serializePayload(payload, "message payload");
    const signal = options?.signal;
    if (signal?.aborted) throw signal.reason;
    const ack = options?.ack;
    const policy = ack === undefined || ack === false || ack === true
      ? this.#policies[ack === true ? 1 : 0]![level]!
      : this.#customPolicy(ack, level);
    const ttlMs = options?.ttl === undefined ? null : positiveDuration(options.ttl, "time to live");
    const now = this.#now();
    const mono = this.#sampleMono(level);
    const sender = this.#sender(options?.from ?? DEFAULT_SENDER, now);
    const tokens = this.#options.tokens;
    if (route.length === 1) {
      // The common case, without arrays: one recipient.
      sender.sends++;
      sender.lastUsed = now;
      const envelope = this.#envelope(
        route[0]!,
        sender.name,
        to,
        type,
        level,
        text,
        now,
        mono,
        ttlMs,
        policy,
        null,
      );
      this.#sentRate.add(now);
      const receipt = new SingleReceipt(envelope.id);
      if (tokens !== null) {
        const cost = tokens.costs[level]!;
        if (!sender.tryTake(level, cost, now)) {
          return this.#throttle(sender, [envelope], receipt, level, cost, signal, now);
        }
      }
      const outcome = this.#admit(envelope, now);
      if (outcome === PLACED) return Promise.resolve(receipt);
      if (typeof outcome !== "number") return Promise.reject(outcome);
      const group = new PendingSend([envelope], receipt, level, 0, 1);
      envelope.group = group;
      this.#watchAbort(group, signal);
      return group.promise;
    }
    if (route.length === 0) {
      if (options?.optional ?? defaultOptional) {
        this.#totals.unrouted++;
        if (this.#watched && this.#events.has("message:unrouted")) {
          this.#events.emit("message:unrouted", {
            message: {
              id: null,
              from: sender.name,
              to,
              recipient: null,
              type,
              priority: PRIORITIES[level]!,
              payload: JSON.parse(text),
              sentAt: new Date(now).toISOString(),
            },
          });
        }
        return Promise.resolve(EMPTY_RECEIPT);
      }
      const envelope = this.#envelope(
        null,
        sender.name,
        to,
        type,
        level,
        text,
        now,
        mono,
        ttlMs,
        policy,
        null,
      );
      this.#sentRate.add(now);
      const error = new LiminalError(
        "ENDPOINT_NOT_FOUND",
        `no endpoint or subscriber for "${to}"; message ${envelope.id} was dead-lettered`,
        { hint: "register the endpoint, then replay the message" },
      );
      this.#dead(envelope, "no-endpoint", error.message, undefined, now);
      throw error;
    }
    sender.sends++;
    sender.lastUsed = now;
    const copies: Envelope[] = [];
    for (const mailbox of route) {
      copies.push(
        this.#envelope(
          mailbox,
          sender.name,
          to,
          type,
          level,
          text,
          now,
          mono,
          ttlMs,
          policy,
          null,
        ),
      );
    }
    this.#sentRate.add(now, copies.length);
    const ids = copies.map((c) => c.id);
    const receipt: SendReceipt = { id: ids[0]!, ids };
    if (tokens !== null) {
      const cost = tokens.costs[level]!;
      if (!sender.tryTake(level, cost, now)) {
        return this.#throttle(sender, copies, receipt, level, cost, signal, now);
      }
    }
    return this.#admitAll(copies, receipt, level, signal, now);
  }

  /** The policy of a send with `ack: { timeout?, maxDeliveries? }`. */
  #customPolicy(ack: unknown, level: number): DeliveryPolicy {
    if (typeof ack !== "object" || ack === null) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid ack ${JSON.stringify(ack)}: use true or { timeout, maxDeliveries }`,
      );
    }
    const { timeout, maxDeliveries } = ack as { timeout?: unknown; maxDeliveries?: unknown };
    return {
      requiresAck: true,
      ackTimeoutMs: timeout === undefined
        ? this.#options.ackTimeoutMs[level]!
        : positiveDuration(timeout as number | string, "ack timeout"),
      maxDeliveries: maxDeliveries === undefined
        ? this.#options.maxDeliveries
        : wholeNumber(maxDeliveries, "maxDeliveries", 1),
    };
  }

  #replay(id: string): Promise<SendReceipt> {
    if (this.#state !== "running") throw this.#notRunning();
    const letter = this.#deadLetters.get(id);
    if (letter === undefined) {
      throw new LiminalError("MESSAGE_NOT_FOUND", `no dead letter with id ${JSON.stringify(id)}`);
    }
    if (letter.replaying) {
      throw new LiminalError("INVALID_ARGUMENT", `dead letter ${id} is being replayed already`);
    }
    const original = letter.envelope;
    const previous = original.mailbox;
    let route: Mailbox[];
    if (previous === null) route = this.#route(original.to);
    else if (!previous.closed) route = [previous];
    else {
      const again = previous.kind === "endpoint" ? this.#endpoints.get(previous.name) : undefined;
      route = again === undefined ? [] : [again];
    }
    if (route.length === 0) {
      throw new LiminalError(
        "ENDPOINT_NOT_FOUND",
        `dead letter ${id}: its recipient "${
          previous?.name ?? original.to
        }" is gone; nothing was sent`,
      );
    }
    const now = this.#now();
    const mono = this.#sampleMono(original.level);
    const copies = route.map((mailbox) =>
      this.#envelope(
        mailbox,
        original.from,
        original.to,
        original.type,
        original.level,
        original.payloadText,
        now,
        mono,
        original.ttlMs,
        original.policy,
        id,
      )
    );
    this.#sentRate.add(now, copies.length);
    const ids = copies.map((c) => c.id);
    letter.replaying = true;
    return this.#admitAll(copies, { id: ids[0]!, ids }, original.level, undefined, now).then(
      (receipt) => {
        this.#deadLetters.remove(id);
        return receipt;
      },
      (error: unknown) => {
        letter.replaying = false;
        throw error;
      },
    );
  }

  /** Makes one message for one recipient (or for nobody) and counts it as sent. */
  #envelope(
    mailbox: Mailbox | null,
    from: string,
    to: string,
    type: string,
    level: number,
    text: string,
    now: number,
    mono: number,
    ttlMs: number | null,
    policy: DeliveryPolicy,
    replayOf: string | null,
  ): Envelope {
    const envelope = new Envelope(
      newId(now),
      from,
      to,
      mailbox,
      type,
      level,
      text,
      now,
      mono,
      ttlMs,
      policy,
      replayOf,
    );
    this.#pending++;
    this.#totals.sent++;
    if (mailbox !== null) {
      mailbox.sent++;
      if (ttlMs !== null) this.#deadline(new Timed(now + ttlMs, TTL, envelope, 0, null));
    }
    if (this.#watched && this.#events.has("message:sent")) {
      this.#events.emit("message:sent", { message: this.#view(envelope) });
    }
    return envelope;
  }

  /** Places each message, or has it wait for room; returns the send's promise. */
  #admitAll(
    copies: readonly Envelope[],
    receipt: SendReceipt,
    level: number,
    signal: AbortSignal | undefined,
    now: number,
  ): Promise<SendReceipt> {
    let group: PendingSend | null = null;
    let failure: LiminalError | undefined;
    for (const envelope of copies) {
      const outcome = this.#admit(envelope, now);
      if (outcome === WAITING) {
        group ??= new PendingSend(copies, receipt, level, 0, 0);
        group.unsettled++;
        envelope.group = group;
      } else if (typeof outcome !== "number") {
        failure ??= outcome;
      }
    }
    if (group === null) {
      return failure === undefined ? Promise.resolve(receipt) : Promise.reject(failure);
    }
    if (failure !== undefined) group.fail(failure);
    this.#watchAbort(group, signal);
    return group.promise;
  }

  /** Queues a message in its mailbox, has it wait for room, or fails it, by the lane's policy. */
  #admit(envelope: Envelope, now: number): number | LiminalError {
    const mailbox = envelope.mailbox!;
    const level = envelope.level;
    if (mailbox.closed) {
      const error = new LiminalError(
        "ENDPOINT_NOT_FOUND",
        `${mailbox.kind} "${mailbox.name}" was closed; message ${envelope.id} was dead-lettered`,
      );
      this.#dead(envelope, "no-endpoint", error.message, error, now);
      return error;
    }
    if (mailbox.hasRoom(level)) {
      this.#place(mailbox, envelope, now);
      return PLACED;
    }
    const limit = mailbox.limits[level]!;
    if (limit.whenFull === "reject") {
      const error = new LiminalError(
        "MAILBOX_FULL",
        `the ${envelope.priority} mailbox of "${mailbox.name}" is full (${limit.capacity} queued)`,
        { hint: "send later, or raise its capacity" },
      );
      this.#reject(envelope, error);
      return error;
    }
    envelope.state = "waiting";
    mailbox.roomWaiters[level]!.push(envelope);
    mailbox.waiting[level]!++;
    this.#deadline(new Timed(now + limit.waitMs, ROOM, envelope, 0, null));
    return WAITING;
  }

  #place(mailbox: Mailbox, envelope: Envelope, now: number): void {
    mailbox.push(envelope, now, ++this.#seq);
    this.#release(envelope);
    this.#schedule(mailbox);
  }

  /** Lets sends waiting for room in a lane in, while it has room. */
  #admitWaiting(mailbox: Mailbox, level: number, now: number): void {
    if (mailbox.closed) return;
    const fifo = mailbox.roomWaiters[level]!;
    const capacity = mailbox.limits[level]!.capacity;
    while (mailbox.waiting[level]! > 0 && mailbox.depth[level]! < capacity) {
      const envelope = fifo.shift();
      if (envelope === undefined) break;
      if (envelope.state !== "waiting") continue;
      mailbox.waiting[level]!--;
      this.#place(mailbox, envelope, now);
    }
  }

  #throttle(
    sender: SenderBudget,
    copies: readonly Envelope[],
    receipt: SendReceipt,
    level: number,
    cost: number,
    signal: AbortSignal | undefined,
    now: number,
  ): Promise<SendReceipt> {
    const group = new PendingSend(copies, receipt, level, cost, copies.length);
    for (const envelope of copies) envelope.group = group;
    sender.enqueue(group);
    if (this.#watched && this.#events.has("sender:throttled")) {
      this.#events.emit("sender:throttled", {
        sender: sender.name,
        priority: PRIORITIES[level]!,
        tokens: sender.tokens,
        cost,
      });
    }
    this.#watchAbort(group, signal);
    this.#wakeSender(sender, now);
    return group.promise;
  }

  /** Arms a wake-up for when the sender's next waiting send can pay. */
  #wakeSender(sender: SenderBudget, now: number): void {
    const head = sender.peek();
    if (head === undefined) return;
    sender.refill(now);
    const at = now + sender.msUntil(head.cost);
    if (at < sender.wakeAt) {
      sender.wakeAt = at;
      this.#deadline(new Timed(at, TOKENS, null, 0, sender));
    }
  }

  /** Lets the sender's waiting sends through while its tokens cover them. */
  #pumpSender(sender: SenderBudget, now: number): void {
    sender.wakeAt = Number.POSITIVE_INFINITY;
    sender.refill(now);
    for (;;) {
      const head = sender.peek();
      if (head === undefined) return;
      if (!head.throttled) {
        sender.shift();
        continue;
      }
      if (sender.tokens < head.cost) {
        this.#wakeSender(sender, now);
        return;
      }
      sender.tokens -= head.cost;
      sender.shift();
      for (const envelope of head.copies) {
        if (envelope.state === "throttled") this.#admit(envelope, now);
      }
    }
  }

  #watchAbort(group: PendingSend, signal: AbortSignal | undefined): void {
    if (signal === undefined) return;
    const onAbort = () => {
      for (const envelope of group.copies) {
        if (envelope.state === "throttled" || envelope.state === "waiting") {
          this.#reject(envelope, signal.reason);
        }
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    group.onSettled(() => signal.removeEventListener("abort", onAbort));
  }

  /** Settles the waiting send of a message that left `throttled`/`waiting`. */
  #release(envelope: Envelope, error?: unknown): void {
    const group = envelope.group;
    if (group === null) return;
    envelope.group = null;
    group.settleOne(error);
  }

  // ── Internals: dispatch ───────────────────────────────────────────────────────────────

  #schedule(mailbox: Mailbox): void {
    if (mailbox.scheduled || !mailbox.ready) return;
    mailbox.scheduled = true;
    this.#ready.push(mailbox);
    if (!this.#dispatchQueued) {
      this.#dispatchQueued = true;
      queueMicrotask(this.#dispatch);
    }
  }

  #dispatch = (): void => {
    this.#dispatchQueued = false;
    const ready = this.#ready;
    this.#ready = [];
    for (const mailbox of ready) {
      mailbox.scheduled = false;
      this.#drain(mailbox);
    }
  };

  /** Hands over messages while the mailbox can take them, up to the pass's budget. */
  #drain(mailbox: Mailbox): void {
    const { agingMs, maxRaises } = this.#options;
    let now = this.#now();
    this.#passMono = -1;
    const handlers = mailbox.handler !== null;
    for (let budget = DISPATCH_BUDGET; budget > 0 && mailbox.ready; budget--) {
      // A handler may take any time: read the clocks again after each; iterators only
      // resolve promises: every few hand-overs is enough.
      if (budget !== DISPATCH_BUDGET && (handlers || budget % CLOCK_EVERY === 0)) {
        now = this.#now();
        this.#passMono = -1;
      }
      const envelope = mailbox.take(now, agingMs, maxRaises);
      if (envelope === undefined) break;
      const raises = mailbox.lastRaises;
      // Taken out of its lane: in flight from here on (or expired just below).
      envelope.state = "in-flight";
      if (mailbox.waiting[envelope.level]! > 0) this.#admitWaiting(mailbox, envelope.level, now);
      if (envelope.ttlMs !== null && now >= envelope.sentAt + envelope.ttlMs) {
        this.#expire(envelope, now);
        continue;
      }
      this.#handOver(mailbox, envelope, raises, now);
    }
    if (mailbox.ready) this.#schedule(mailbox);
  }

  #handOver(mailbox: Mailbox, envelope: Envelope, raises: number, now: number): void {
    const attempt = ++envelope.deliveries;
    let latencyMs: number | null = null;
    if (attempt === 1) {
      if (envelope.sentMono >= 0) {
        if (this.#passMono < 0) this.#passMono = performance.now();
        latencyMs = this.#passMono - envelope.sentMono;
        this.#latency[envelope.level]!.record(latencyMs);
      }
      if (raises > 0) {
        this.#raisedMessages++;
        this.#raises += raises;
      }
    }
    if (this.#watched && this.#events.has("message:dispatched")) {
      this.#events.emit("message:dispatched", {
        message: this.#view(envelope),
        attempt,
        latencyMs,
        raises,
      });
    }
    const requiresAck = envelope.policy.requiresAck;
    if (requiresAck) {
      this.#deadline(new Timed(now + envelope.policy.ackTimeoutMs, ACK, envelope, attempt, null));
    }
    const handler = mailbox.handler;
    if (handler === null) {
      const puller = mailbox.pullers.shift()!;
      if (requiresAck) mailbox.inFlight.add(envelope);
      else this.#deliver(envelope, false, now, true);
      puller({ value: envelope, done: false });
      return;
    }
    const delivery = new Delivery(envelope, attempt);
    envelope.delivery = delivery;
    mailbox.running++;
    let result: unknown;
    try {
      result = handler(envelope, delivery);
    } catch (error) {
      mailbox.running--;
      if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
        this.#failDelivery(envelope, "handler-error", error, now);
      }
      return;
    }
    if (isThenable(result)) {
      if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
        mailbox.inFlight.add(envelope);
      }
      result.then(
        () => this.#handlerReturned(mailbox, envelope, attempt),
        (error: unknown) => this.#handlerThrew(mailbox, envelope, attempt, error),
      );
      return;
    }
    mailbox.running--;
    if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
      if (requiresAck) mailbox.inFlight.add(envelope);
      else this.#deliver(envelope, false, now, true);
    }
  }

  #handlerReturned(mailbox: Mailbox, envelope: Envelope, attempt: number): void {
    mailbox.running--;
    if (
      envelope.state === "in-flight" && envelope.deliveries === attempt && !envelope.requiresAck
    ) {
      this.#deliver(envelope, false, this.#now());
    }
    this.#schedule(mailbox);
  }

  #handlerThrew(mailbox: Mailbox, envelope: Envelope, attempt: number, error: unknown): void {
    mailbox.running--;
    if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
      this.#failDelivery(envelope, "handler-error", error, this.#now());
    }
    this.#schedule(mailbox);
  }

  #ack(envelope: Envelope, attempt: number): boolean {
    if (
      !envelope.requiresAck || envelope.state !== "in-flight" || envelope.deliveries !== attempt
    ) {
      return false;
    }
    if (this.#watched && this.#events.has("message:acked")) {
      this.#events.emit("message:acked", { message: this.#view(envelope), attempt });
    }
    this.#deliver(envelope, true, this.#now());
    return true;
  }

  /** A delivery failed: redeliver the message, or dead-letter it (see the module doc). */
  #failDelivery(
    envelope: Envelope,
    reason: "ack-timeout" | "handler-error",
    error: unknown,
    now: number,
  ): void {
    const mailbox = envelope.mailbox!;
    const attempt = envelope.deliveries;
    const text = reason === "ack-timeout"
      ? `not acknowledged within ${envelope.policy.ackTimeoutMs}ms (delivery ${attempt})`
      : errorMessage(error);
    if (reason === "ack-timeout") {
      envelope.delivery?.abort(new LiminalError("INTERNAL", text));
    }
    if (envelope.ttlMs !== null && now >= envelope.sentAt + envelope.ttlMs) {
      this.#expire(envelope, now);
      return;
    }
    if (mailbox.closed || attempt >= envelope.policy.maxDeliveries) {
      this.#dead(envelope, reason, text, undefined, now);
      return;
    }
    mailbox.inFlight.delete(envelope);
    envelope.delivery = null;
    mailbox.requeue(envelope);
    mailbox.redelivered++;
    this.#totals.redelivered++;
    if (this.#watched && this.#events.has("message:redelivered")) {
      this.#events.emit("message:redelivered", {
        message: this.#view(envelope),
        attempt,
        reason,
        error: text,
      });
    }
    this.#schedule(mailbox);
  }

  // ── Internals: final states ───────────────────────────────────────────────────────────

  /** Takes a message out of whatever holds it in its current (non-final) state. */
  #leave(envelope: Envelope): void {
    const mailbox = envelope.mailbox;
    if (mailbox === null) return;
    switch (envelope.state) {
      case "queued":
        mailbox.dropQueued(envelope.level);
        break;
      case "waiting":
        mailbox.waiting[envelope.level]!--;
        break;
      case "in-flight":
        mailbox.inFlight.delete(envelope);
        break;
    }
  }

  /** Final: delivered. `untracked`: it was never put in its mailbox's in-flight set. */
  #deliver(envelope: Envelope, acked: boolean, now: number, untracked = false): void {
    const mailbox = envelope.mailbox!;
    if (!untracked) this.#leave(envelope);
    envelope.state = "delivered";
    envelope.delivery = null;
    mailbox.delivered++;
    this.#totals.delivered++;
    if (acked) {
      mailbox.acked++;
      this.#totals.acked++;
    }
    this.#deliveredRate.add(now);
    if (this.#watched && this.#events.has("message:delivered")) {
      this.#events.emit("message:delivered", { message: this.#view(envelope), acked });
    }
    this.#settled();
  }

  #expire(envelope: Envelope, now: number): void {
    const mailbox = envelope.mailbox;
    const from = envelope.state;
    this.#leave(envelope);
    envelope.state = "expired";
    envelope.delivery = null;
    if (mailbox !== null) mailbox.expired++;
    this.#totals.expired++;
    this.#deadLetters.add({ envelope, reason: "expired", at: now, error: null, replaying: false });
    if (this.#watched && this.#events.has("message:expired")) {
      this.#events.emit("message:expired", { message: this.#view(envelope) });
    }
    this.#release(envelope);
    if (from === "queued" && mailbox !== null) this.#admitWaiting(mailbox, envelope.level, now);
    this.#settled();
  }

  #dead(
    envelope: Envelope,
    reason: DeadLetterReason,
    error: string | null,
    sendError: unknown,
    now: number,
  ): void {
    const mailbox = envelope.mailbox;
    const from = envelope.state;
    this.#leave(envelope);
    envelope.state = "dead";
    envelope.delivery = null;
    if (mailbox !== null) mailbox.dead++;
    this.#totals.dead++;
    this.#deadLetters.add({ envelope, reason, at: now, error, replaying: false });
    if (this.#watched && this.#events.has("message:dead-lettered")) {
      this.#events.emit("message:dead-lettered", { message: this.#view(envelope), reason, error });
    }
    this.#release(envelope, sendError);
    if (from === "queued" && mailbox !== null) this.#admitWaiting(mailbox, envelope.level, now);
    this.#settled();
  }

  #reject(envelope: Envelope, sendError: unknown): void {
    const mailbox = envelope.mailbox;
    this.#leave(envelope);
    envelope.state = "rejected";
    if (mailbox !== null) mailbox.rejected++;
    this.#totals.rejected++;
    if (this.#watched && this.#events.has("message:rejected")) {
      this.#events.emit("message:rejected", {
        message: this.#view(envelope),
        code: sendError instanceof LiminalError ? sendError.code : null,
        error: errorMessage(sendError),
      });
    }
    this.#release(envelope, sendError);
    this.#settled();
  }

  #settled(): void {
    if (--this.#pending === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  // ── Internals: time ───────────────────────────────────────────────────────────────────

  /** Epoch ms now. */
  #now(): number {
    return this.#clock === null ? Date.now() : this.#clock();
  }

  /** `performance.now()` if this send's latency is to be timed, else -1. */
  #sampleMono(level: number): number {
    if (
      level >= CRITICAL_LEVEL || this.#watched || ++this.#unsampled >= LATENCY_SAMPLE_EVERY
    ) {
      this.#unsampled = 0;
      return performance.now();
    }
    return -1;
  }

  // ── Internals: deadlines ──────────────────────────────────────────────────────────────

  #deadline(deadline: Timed): void {
    this.#deadlines.push(deadline);
    if (deadline.at < this.#timerAt) this.#arm(deadline.at);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    const delay = at - this.#now();
    this.#timer = setTimeout(this.#onTimer, delay > 0 ? Math.min(delay, MAX_TIMER_MS) : 0);
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#state === "closed") return;
    const now = this.#now();
    for (;;) {
      const top = this.#deadlines.peek();
      if (top === undefined || top.at > now) break;
      this.#deadlines.pop();
      this.#fire(top, now);
    }
    const next = this.#deadlines.peek();
    if (next !== undefined && next.at < this.#timerAt) this.#arm(next.at);
  };

  #fire(deadline: Timed, now: number): void {
    const envelope = deadline.envelope;
    switch (deadline.kind) {
      case ACK:
        if (envelope!.state === "in-flight" && envelope!.deliveries === deadline.attempt) {
          this.#failDelivery(envelope!, "ack-timeout", undefined, now);
        }
        break;
      case TTL: {
        const state = envelope!.state;
        if (state === "throttled" || state === "waiting" || state === "queued") {
          this.#expire(envelope!, now);
        }
        break;
      }
      case ROOM:
        if (envelope!.state === "waiting") {
          const mailbox = envelope!.mailbox!;
          const error = new LiminalError(
            "MAILBOX_FULL",
            `the ${envelope!.priority} mailbox of "${mailbox.name}" stayed full for ${
              mailbox.limits[envelope!.level]!.waitMs
            }ms; message ${envelope!.id} was dead-lettered`,
            { hint: "replay it once the recipient catches up" },
          );
          this.#dead(envelope!, "mailbox-full", error.message, error, now);
        }
        break;
      case TOKENS:
        this.#pumpSender(deadline.sender!, now);
        break;
    }
  }

  // ── Internals: recipients ─────────────────────────────────────────────────────────────

  #mailbox(
    name: string,
    kind: "endpoint" | "subscription",
    topic: TopicPattern | null,
    options: EndpointOptions,
  ): Mailbox {
    if (typeof options !== "object" || options === null) {
      throw new LiminalError("INVALID_ARGUMENT", `options of ${kind} "${name}" must be an object`);
    }
    const handler = options.handler ?? null;
    if (handler !== null && typeof handler !== "function") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the handler of ${kind} "${name}" must be a function`,
      );
    }
    const concurrency = wholeNumber(options.concurrency ?? 1, `concurrency of "${name}"`, 1);
    const limits = resolveMailbox(options.mailbox, this.#options.mailbox, `mailbox of "${name}"`);
    return new Mailbox(this.#core, name, kind, topic, handler, concurrency, limits);
  }

  /** The recipients of `to`, cached until the next (un)registration. */
  #route(to: string): Mailbox[] {
    let route = this.#routes.get(to);
    if (route !== undefined) return route;
    checkName(to, "destination");
    route = [];
    const endpoint = this.#endpoints.get(to);
    if (endpoint !== undefined) route.push(endpoint);
    for (const subscription of this.#subscriptions) {
      if (subscription.topic!.matches(to)) route.push(subscription);
    }
    if (this.#routes.size >= ROUTE_CACHE_LIMIT) this.#routes.clear();
    this.#routes.set(to, route);
    return route;
  }

  #sender(name: string, now: number): SenderBudget {
    let sender = this.#senders.get(name);
    if (sender === undefined) {
      if (typeof name !== "string" || name.length === 0 || name.length > 100) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `invalid sender ${JSON.stringify(name)}: use 1 to 100 characters`,
        );
      }
      const tokens = this.#options.tokens;
      const own = tokens?.senders.get(name);
      // No buckets, or an exempt sender: a bucket that never runs dry.
      const budget = tokens === null || own === null ? null : own ?? tokens;
      sender = new SenderBudget(
        name,
        budget?.capacity ?? Number.POSITIVE_INFINITY,
        budget?.refillPerMs ?? 0,
        now,
      );
      this.#senders.set(name, sender);
    }
    return sender;
  }

  #closeMailbox(mailbox: Mailbox): void {
    if (mailbox.closed) return;
    mailbox.markClosed();
    if (mailbox.kind === "endpoint") {
      if (this.#endpoints.get(mailbox.name) === mailbox) this.#endpoints.delete(mailbox.name);
    } else {
      this.#subscriptions.delete(mailbox);
    }
    this.#routes.clear();
    const now = this.#now();
    const text = `${mailbox.kind} "${mailbox.name}" was closed`;
    const error = new LiminalError("ENDPOINT_NOT_FOUND", text);
    for (const envelope of mailbox.drainWaiting()) {
      this.#dead(envelope, "no-endpoint", text, error, now);
    }
    for (const envelope of mailbox.drainQueued()) {
      this.#dead(envelope, "no-endpoint", text, undefined, now);
    }
    for (const puller of mailbox.pullers.drain()) puller(DONE);
    if (mailbox.inFlight.size > 0) this.#retired.add(mailbox);
  }

  #pull(mailbox: Mailbox): Promise<IteratorResult<Message, undefined>> {
    if (mailbox.handler !== null) {
      return Promise.reject(
        new LiminalError(
          "INVALID_ARGUMENT",
          `${mailbox.kind} "${mailbox.name}" has a handler; it cannot also be read with for await`,
        ),
      );
    }
    if (mailbox.closed || this.#state === "closed") return Promise.resolve(DONE);
    const { promise, resolve } = Promise.withResolvers<IteratorResult<Message, undefined>>();
    mailbox.pullers.push(resolve);
    if (mailbox.ready && !mailbox.scheduled) this.#drain(mailbox);
    return promise;
  }

  // ── Internals: lifecycle ──────────────────────────────────────────────────────────────

  async #close(graceMs: number): Promise<RouterCloseReport> {
    const started = performance.now();
    const deliveredBefore = this.#totals.delivered;
    const shutdownBefore = this.#deadLetters.byReason.shutdown;
    if (this.#state === "created") {
      // Nothing was sent; this closes the mailboxes and ends `for await` loops begun early.
      this.#shutdown();
      this.#setState("closed");
      return { delivered: 0, deadLettered: 0, durationMs: 0 };
    }
    this.#setState("closing");
    if (this.#pending > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, Math.min(graceMs, MAX_TIMER_MS));
        this.#idleWaiters.push(done);
      });
    }
    this.#shutdown();
    this.#setState("closed");
    return {
      delivered: this.#totals.delivered - deliveredBefore,
      deadLettered: this.#deadLetters.byReason.shutdown - shutdownBefore,
      durationMs: performance.now() - started,
    };
  }

  /** The end of the grace: everything still pending is dead-lettered (`shutdown`). */
  #shutdown(): void {
    const now = this.#now();
    const text = "the router closed before the message was delivered";
    const error = new LiminalError("ROUTER_CLOSED", text);
    for (const sender of this.#senders.values()) {
      for (const group of sender.drain()) {
        for (const envelope of group.copies) {
          if (envelope.state === "throttled") this.#dead(envelope, "shutdown", text, error, now);
        }
      }
    }
    const mailboxes = [...this.#endpoints.values(), ...this.#subscriptions, ...this.#retired];
    for (const mailbox of mailboxes) {
      mailbox.markClosed();
      for (const envelope of mailbox.drainWaiting()) {
        this.#dead(envelope, "shutdown", text, error, now);
      }
      for (const envelope of mailbox.drainQueued()) {
        this.#dead(envelope, "shutdown", text, undefined, now);
      }
      for (const envelope of [...mailbox.inFlight]) {
        envelope.delivery?.abort(error);
        this.#dead(envelope, "shutdown", text, undefined, now);
      }
      for (const puller of mailbox.pullers.drain()) puller(DONE);
    }
    // Endpoints stay listed (closed) so the last snapshot shows their final counters.
    this.#retired.clear();
    this.#routes.clear();
    this.#deadlines.clear();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #setState(to: RouterState): void {
    const from = this.#state;
    this.#state = to;
    this.#events.emit("router:state", { from, to });
  }

  #assertOpen(): void {
    if (this.#state === "closing" || this.#state === "closed") {
      throw new LiminalError("ROUTER_CLOSED", "the router is closed");
    }
  }

  #notRunning(): LiminalError {
    return this.#state === "created"
      ? new LiminalError("ROUTER_CLOSED", "the router has not started; call start() first")
      : new LiminalError("ROUTER_CLOSED", `the router is ${this.#state}`);
  }

  // ── Internals: views ──────────────────────────────────────────────────────────────────

  #view(envelope: Envelope): MessageView {
    const expiresAt = envelope.expiresAt;
    return {
      id: envelope.id,
      from: envelope.from,
      to: envelope.to,
      recipient: envelope.mailbox === null ? null : envelope.mailbox.name,
      type: envelope.type,
      priority: envelope.priority,
      payload: JSON.parse(envelope.payloadText),
      requiresAck: envelope.requiresAck,
      state: envelope.state,
      deliveries: envelope.deliveries,
      sentAt: new Date(envelope.sentAt).toISOString(),
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      replayOf: envelope.replayOf,
    };
  }

  #deadView(letter: DeadLetter): DeadLetterView {
    return {
      ...this.#view(letter.envelope),
      reason: letter.reason,
      deadAt: new Date(letter.at).toISOString(),
      error: letter.error,
    };
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** Both rates, rounded to hundredths. */
function rateSummary(counter: RateCounter, now: number): RouterRate {
  return {
    perSecond1s: roundRate(counter.rate(1, now)),
    perSecond10s: roundRate(counter.rate(10, now)),
  };
}
