/**
 * The router's internal message object ({@link Envelope}, what recipients see as a
 * `Message`), one hand-over of it to a handler ({@link Delivery}, the handler's context),
 * and a send that could not finish at once ({@link PendingSend}).
 *
 * @module
 */
import type { JsonValue } from "../shared/json.ts";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { MessageState } from "../shared/router_snapshot.ts";
import type { Mailbox } from "./_mailbox.ts";
import type { DeliveryContext, Message, SendOptions, SendReceipt } from "./message.ts";

/** What envelopes, deliveries and mailboxes call back into: the router's insides. */
export interface RouterCore {
  ack(envelope: Envelope, attempt: number): boolean;
  send(to: string, type: string, payload: unknown, options?: SendOptions): Promise<SendReceipt>;
  publish(
    topic: string,
    type: string,
    payload: unknown,
    options?: SendOptions,
  ): Promise<SendReceipt>;
  closeMailbox(mailbox: Mailbox): void;
  pull(mailbox: Mailbox): Promise<IteratorResult<Message, undefined>>;
}

const UNPARSED: unique symbol = Symbol("unparsed");

/** How a message is to be delivered; one shared object per (priority, ack) by default. */
export interface DeliveryPolicy {
  readonly requiresAck: boolean;
  readonly ackTimeoutMs: number;
  /** Hand-overs before a failed message is dead-lettered. */
  readonly maxDeliveries: number;
}

/** One message to one recipient (or to nobody, when dead-lettered `no-endpoint`). */
export class Envelope implements Message {
  /** Where it stands; see the state machine in `src/shared/router_snapshot.ts`. */
  state: MessageState = "throttled";
  deliveries = 0;
  /** Order of entering a mailbox, for FIFO between lanes of equal effective level. */
  seq = 0;
  /** When it (last) entered its mailbox's lane (epoch ms): the base of aging. */
  queuedAt = 0;
  /** The send waiting on this message, while it is throttled or waiting for room. */
  group: PendingSend | null = null;
  /** Its current hand-over to a handler, to abort that delivery's signal. */
  delivery: Delivery | null = null;
  #payload: JsonValue | typeof UNPARSED = UNPARSED;

  constructor(
    readonly id: string,
    readonly from: string,
    readonly to: string,
    readonly mailbox: Mailbox | null,
    readonly type: string,
    readonly level: number,
    readonly payloadText: string,
    readonly sentAt: number,
    /** `performance.now()` at the send if its latency is timed, else -1. */
    readonly sentMono: number,
    readonly ttlMs: number | null,
    readonly policy: DeliveryPolicy,
    readonly replayOf: string | null,
  ) {}

  get priority(): Priority {
    return PRIORITIES[this.level]!;
  }

  get requiresAck(): boolean {
    return this.policy.requiresAck;
  }

  get recipient(): string {
    return this.mailbox === null ? "" : this.mailbox.name;
  }

  get expiresAt(): number | null {
    return this.ttlMs === null ? null : this.sentAt + this.ttlMs;
  }

  get payload(): JsonValue {
    if (this.#payload === UNPARSED) this.#payload = JSON.parse(this.payloadText) as JsonValue;
    return this.#payload;
  }

  ack(): boolean {
    return this.mailbox !== null && this.mailbox.core.ack(this, this.deliveries);
  }
}

const NOT_ABORTED: unique symbol = Symbol("not aborted");

/** One hand-over of an envelope to a handler: the handler's context. */
export class Delivery implements DeliveryContext {
  #controller: AbortController | null = null;
  #abortReason: unknown = NOT_ABORTED;

  constructor(readonly envelope: Envelope, readonly attempt: number) {}

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#abortReason !== NOT_ABORTED) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Aborts this delivery's signal (created only if the handler asked for it). */
  abort(reason: unknown): void {
    if (this.#abortReason !== NOT_ABORTED) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  ack(): boolean {
    return this.#core.ack(this.envelope, this.attempt);
  }

  send(to: string, type: string, payload?: unknown, options?: SendOptions): Promise<SendReceipt> {
    return this.#core.send(to, type, payload, this.#withFrom(options));
  }

  publish(
    topic: string,
    type: string,
    payload?: unknown,
    options?: SendOptions,
  ): Promise<SendReceipt> {
    return this.#core.publish(topic, type, payload, this.#withFrom(options));
  }

  get #core(): RouterCore {
    return this.envelope.mailbox!.core;
  }

  #withFrom(options: SendOptions | undefined): SendOptions {
    return options?.from === undefined
      ? { ...options, from: this.envelope.mailbox!.name }
      : options;
  }
}

/** The receipt of a send to one recipient; `ids` is made when asked for. */
export class SingleReceipt implements SendReceipt {
  constructor(readonly id: string) {}

  get ids(): readonly string[] {
    return [this.id];
  }

  toJSON(): { id: string; ids: string[] } {
    return { id: this.id, ids: [this.id] };
  }
}

/**
 * A send whose promise is still open: its messages wait for the sender's tokens, or some
 * wait for room in a mailbox. It settles once every message was placed or met its fate:
 * resolved when none failed, else rejected with the first failure.
 */
export class PendingSend {
  /** Messages not yet placed in a mailbox nor final. */
  unsettled: number;
  failed = false;
  error: unknown = undefined;
  readonly promise: Promise<SendReceipt>;
  readonly #resolve: (receipt: SendReceipt) => void;
  readonly #reject: (error: unknown) => void;
  #cleanup: (() => void) | null = null;

  constructor(
    readonly copies: readonly Envelope[],
    readonly receipt: SendReceipt,
    readonly level: number,
    readonly cost: number,
    unsettled: number,
  ) {
    this.unsettled = unsettled;
    const { promise, resolve, reject } = Promise.withResolvers<SendReceipt>();
    this.promise = promise;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Whether any of its messages is still waiting for tokens. */
  get throttled(): boolean {
    for (const copy of this.copies) if (copy.state === "throttled") return true;
    return false;
  }

  /** Runs `cleanup` when the send settles (to remove an abort listener). */
  onSettled(cleanup: () => void): void {
    this.#cleanup = cleanup;
  }

  /** Records a failure without settling (the first one is what the send rejects with). */
  fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.error = error;
  }

  /** One message was placed (`error` undefined) or met its fate. */
  settleOne(error?: unknown): void {
    if (error !== undefined) this.fail(error);
    if (--this.unsettled > 0) return;
    this.#cleanup?.();
    this.#cleanup = null;
    if (this.failed) this.#reject(this.error);
    else this.#resolve(this.receipt);
  }
}
