/**
 * What a router message is to its recipient, and what a sender passes and gets back.
 *
 * @module
 */
import type { Duration } from "../shared/duration.ts";
import type { JsonValue } from "../shared/json.ts";
import type { Priority } from "../shared/priority.ts";
import type { MessageState } from "../shared/router_snapshot.ts";

/**
 * A message as its recipient receives it: one copy per recipient, each with its own id,
 * state and acknowledgement.
 */
export interface Message {
  /** Its id (UUIDv7); each recipient's copy has its own. */
  readonly id: string;
  /** The sender. */
  readonly from: string;
  /** The name it was sent to: this endpoint's name, or a topic the subscription matched. */
  readonly to: string;
  /** The endpoint or subscription receiving this copy. */
  readonly recipient: string;
  /** What kind of message it is, chosen by the sender. */
  readonly type: string;
  /** Its own priority (aging only changes the order it is handed over in). */
  readonly priority: Priority;
  /** The payload, parsed from its JSON for this copy (so recipients never share objects). */
  readonly payload: JsonValue;
  /** When it was sent (epoch ms). */
  readonly sentAt: number;
  /** When its time to live ends (epoch ms), or `null`. */
  readonly expiresAt: number | null;
  /** Whether it must be acknowledged with {@link Message.ack} before its deadline. */
  readonly requiresAck: boolean;
  /** Hand-overs so far: 1 on the first delivery, 2 on the first redelivery, … */
  readonly deliveries: number;
  /** Its state now. */
  readonly state: MessageState;
  /** The dead letter this message replays, if it is a replay. */
  readonly replayOf: string | null;
  /**
   * Acknowledges the current delivery. Returns whether that settled the message: `false`
   * when it asks for no ack, or when it is no longer in flight (its deadline passed and it
   * went back to the queue, or it was acked already).
   */
  ack(): boolean;
}

/** What a handler gets with each message besides the message itself. */
export interface DeliveryContext {
  /** Which hand-over this is: 1 for the first. */
  readonly attempt: number;
  /**
   * Aborted when this delivery is given up on: its ack deadline passed (the message goes
   * back to the queue or to the dead letters), or the router's close grace ended.
   */
  readonly signal: AbortSignal;
  /** Acknowledges this delivery; see {@link Message.ack}. A late ack returns `false`. */
  ack(): boolean;
  /** Sends a message from this endpoint (its name is the default `from`). */
  send(to: string, type: string, payload?: unknown, options?: SendOptions): Promise<SendReceipt>;
  /** Publishes to a topic from this endpoint; see `UnifiedMessageRouter.publish`. */
  publish(
    topic: string,
    type: string,
    payload?: unknown,
    options?: SendOptions,
  ): Promise<SendReceipt>;
}

/**
 * Receives one message. Returning (or resolving) delivers a message that asks for no ack;
 * one that asks for an ack is delivered when acked. Throwing (or rejecting) fails the
 * delivery: the message is redelivered while it has deliveries left, then dead-lettered
 * with `handler-error` — unless it was acked before the throw.
 */
export type MessageHandler = (message: Message, ctx: DeliveryContext) => unknown;

/** Acknowledgement settings of one message. */
export interface AckOptions {
  /**
   * Time the recipient has to ack each delivery.
   * @default the router's `ackTimeout` of the priority
   */
  timeout?: Duration;
  /** Hand-overs before a failed message is dead-lettered. @default the router's `maxDeliveries` */
  maxDeliveries?: number;
}

/** Options of one send. */
export interface SendOptions {
  /**
   * The sender; its token bucket pays for the send.
   * @default "anonymous" (in a handler's `ctx.send`: the endpoint's name)
   */
  from?: string;
  /**
   * Its priority: the mailbox lane, the dispatch order and the token cost.
   * @default "coordinate" for `send`, "info" for `publish`
   */
  priority?: Priority;
  /** Time to live from the send: not handed over after it (the message `expired`). @default none */
  ttl?: Duration;
  /** Require an acknowledgement; `true` takes the defaults. @default false */
  ack?: boolean | AckOptions;
  /**
   * With nobody to receive `to`, resolve with no message instead of dead-lettering it
   * (`no-endpoint`) and failing with `ENDPOINT_NOT_FOUND`.
   * @default false for `send`, true for `publish`
   */
  optional?: boolean;
  /**
   * Stops waiting (for tokens or mailbox room): the waiting messages are `rejected` and the
   * send fails with the signal's reason. @default none
   */
  signal?: AbortSignal;
}

/** What a send made: one message per recipient. */
export interface SendReceipt {
  /** The first (for a send to one endpoint: the only) message's id; `null` when none was made. */
  readonly id: string | null;
  /** Every message made, one per recipient (the endpoint, then subscriptions). */
  readonly ids: readonly string[];
}
