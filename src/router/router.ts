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
import { LiminalError } from "../shared/errors.ts";
import type {
  DeadLetterReason,
  DeadLetterView,
  RouterSnapshot,
  RouterState,
} from "../shared/router_snapshot.ts";
import { ack } from "./_acks.ts";
import { onTimer } from "./_deadlines.ts";
import { dispatch } from "./_dispatch.ts";
import { RouterInternals } from "./_internals.ts";
import { assertOpen, closeRouter, setState } from "./_lifecycle.ts";
import { checkName, TopicPattern } from "./_names.ts";
import { closeMailbox, makeMailbox, pull } from "./_recipients.ts";
import { listDeadLetters, replay } from "./_replay.ts";
import { send } from "./_sending.ts";
import { routerSnapshot } from "./_snapshot.ts";
import type { Endpoint, EndpointOptions, SubscribeOptions, Subscription } from "./endpoint.ts";
import type { RouterEventMap } from "./events.ts";
import type { EventSource } from "../shared/emitter.ts";
import type { MessageHandler, SendOptions, SendReceipt } from "./message.ts";
import type { RouterOptions } from "./options.ts";

export { DEFAULT_SENDER } from "./_sending.ts";

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

/**
 * Routes messages between parts of one runtime; see the module doc.
 *
 * The class is the router's public face: its state lives in one `RouterInternals`
 * (`_internals.ts`) that the rooms share: sending (`_sending.ts`), token budgets
 * (`_budgets.ts`), dispatch (`_dispatch.ts`), acks and redelivery (`_acks.ts`), final states
 * and dead letters (`_final_states.ts`, `_replay.ts`), deadlines (`_deadlines.ts`),
 * recipients (`_recipients.ts`), lifecycle (`_lifecycle.ts`) and the snapshot
 * (`_snapshot.ts`).
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
  readonly #s: RouterInternals;

  /** Builds a router; starts nothing (no timer, no task) until {@link start}. */
  constructor(options: RouterOptions = {}) {
    const s = new RouterInternals(options);
    this.#s = s;
    s.dispatchTask = () => dispatch(s);
    s.timerTask = () => onTimer(s);
    s.core = {
      ack: (envelope, attempt) => ack(s, envelope, attempt),
      send: (to, type, payload, options) => this.send(to, type, payload, options),
      publish: (topic, type, payload, options) => this.publish(topic, type, payload, options),
      closeMailbox: (mailbox) => closeMailbox(s, mailbox),
      pull: (mailbox) => pull(s, mailbox),
    };
  }

  // ── Events ────────────────────────────────────────────────────────────────────────────

  on<K extends keyof RouterEventMap>(
    event: K,
    listener: (payload: RouterEventMap[K]) => void,
  ): () => void {
    this.#s.watched = true;
    return this.#s.events.on(event, listener);
  }

  once<K extends keyof RouterEventMap>(
    event: K,
    listener: (payload: RouterEventMap[K]) => void,
  ): () => void {
    this.#s.watched = true;
    return this.#s.events.once(event, listener);
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────────

  /** `created`, `running`, `closing` or `closed`. */
  get state(): RouterState {
    return this.#s.state;
  }

  /** Starts taking sends. */
  start(): void {
    if (this.#s.state !== "created") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `the router was already started (${this.#s.state})`,
      );
    }
    setState(this.#s, "running");
  }

  /**
   * Shutdown phase 4: refuses new sends (`ROUTER_CLOSED`), lets pending messages be
   * delivered while their endpoints still run, up to `graceMs`, then dead-letters the rest
   * (`shutdown`). Afterwards no timer or promise of the router is left. Safe to call twice
   * (the second call gets the first call's promise).
   */
  close(options: CloseOptions = {}): Promise<RouterCloseReport> {
    const s = this.#s;
    if (s.closing === null) {
      const graceMs = options.graceMs ?? s.options.closeGraceMs;
      if (typeof graceMs !== "number" || !(graceMs >= 0)) {
        return Promise.reject(
          new LiminalError("INVALID_ARGUMENT", `invalid graceMs ${graceMs}: use 0 or more`),
        );
      }
      s.closing = closeRouter(s, graceMs);
    }
    return s.closing;
  }

  /** Closes with the default grace. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Resolves when no message is pending (every one sent so far is final). */
  onIdle(): Promise<void> {
    const s = this.#s;
    if (s.pending === 0) return Promise.resolve();
    return new Promise((resolve) => s.idleWaiters.push(resolve));
  }

  // ── Recipients ────────────────────────────────────────────────────────────────────────

  /**
   * Registers an endpoint under `name` (letters, digits, `.`, `_`, `:`, `-`). With
   * `options.handler` it receives through the handler; without, read it with `for await`.
   * A taken name: `ENDPOINT_EXISTS`.
   */
  register(name: string, options: EndpointOptions = {}): Endpoint {
    const s = this.#s;
    assertOpen(s);
    checkName(name, "endpoint name");
    if (s.endpoints.has(name)) {
      throw new LiminalError("ENDPOINT_EXISTS", `endpoint "${name}" is already registered`);
    }
    const mailbox = makeMailbox(s, name, "endpoint", null, options);
    s.endpoints.set(name, mailbox);
    s.routes.clear();
    return mailbox;
  }

  /**
   * Subscribes to every topic matching `pattern` (`*` is one dot-separated segment, a final
   * `**` one or more). Pass a handler, or options (without a handler: read it with
   * `for await`).
   */
  subscribe(pattern: string, handlerOrOptions?: MessageHandler | SubscribeOptions): Subscription {
    const s = this.#s;
    assertOpen(s);
    const topic = TopicPattern.parse(pattern);
    const options: SubscribeOptions = typeof handlerOrOptions === "function"
      ? { handler: handlerOrOptions }
      : handlerOrOptions ?? {};
    const ordinal = ++s.subscriptionCount;
    const name = options.name ?? `${pattern}#${ordinal}`;
    if (typeof name !== "string" || name.length === 0 || name.length > 100) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid subscription name ${JSON.stringify(name)}: use 1 to 100 characters`,
      );
    }
    const mailbox = makeMailbox(s, name, "subscription", topic, options);
    s.subscriptions.add(mailbox);
    s.routes.clear();
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
      return send(this.#s, to, type, payload, options, "coordinate", false);
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
      return send(this.#s, topic, type, payload, options, "info", true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ── Dead letters ──────────────────────────────────────────────────────────────────────

  /** Dead letters, newest first. */
  deadLetters(query: DeadLetterQuery = {}): DeadLetterView[] {
    return listDeadLetters(this.#s, query);
  }

  /**
   * Sends a dead letter again, as a new message (`replayOf` its id) to the same recipient
   * (an endpoint registered again under its name counts; a `no-endpoint` letter is routed
   * afresh). It skips the sender's token bucket. Once the new message is queued the dead
   * letter is forgotten; if the replay fails it stays. Unknown id: `MESSAGE_NOT_FOUND`.
   */
  replay(id: string): Promise<SendReceipt> {
    try {
      return replay(this.#s, id);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ── Snapshot ──────────────────────────────────────────────────────────────────────────

  /** The router now, as plain JSON. */
  snapshot(): RouterSnapshot {
    return routerSnapshot(this.#s);
  }
}
