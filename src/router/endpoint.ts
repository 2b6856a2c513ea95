/**
 * Endpoints and subscriptions: the two kinds of recipient. Each has its own bounded mailbox
 * (one lane per priority) and receives either through a handler or, without one, through
 * `for await`.
 *
 * @module
 */
import type { Priority } from "../shared/priority.ts";
import type { Message, MessageHandler } from "./message.ts";
import type { MailboxLimitOptions } from "./options.ts";

/** Options of `router.register(name, options)`. */
export interface EndpointOptions {
  /** Receives each message. Without it, read the endpoint with `for await`. @default none */
  handler?: MessageHandler;
  /** Messages the handler works on at once. @default 1 */
  concurrency?: number;
  /** This mailbox's bounds per priority, over the router's. @default the router's `mailbox` */
  mailbox?: Partial<Record<Priority, MailboxLimitOptions>>;
}

/** Options of `router.subscribe(pattern, options)`. */
export interface SubscribeOptions extends EndpointOptions {
  /** A name for snapshots and events. @default the pattern and a number, e.g. "jobs.*#1" */
  name?: string;
}

/**
 * A registered recipient. Without a handler it is an async iterable of its messages, in
 * dispatch order (highest effective priority first, FIFO within a level).
 *
 * Breaking out of `for await` closes it, as does {@link Endpoint.close}; the loop also ends
 * when the router has closed.
 *
 * @example
 * ```ts
 * const inbox = router.register("compactor");
 * for await (const message of inbox) {
 *   await compact(message.payload);
 *   message.ack();
 * }
 * ```
 */
export interface Endpoint extends AsyncIterable<Message>, Disposable {
  /** Its name: what senders address for an endpoint; a label for a subscription. */
  readonly name: string;
  /** Whether it has been closed. */
  readonly closed: boolean;
  /**
   * Unregisters it at once. Its queued messages and sends waiting for room are
   * dead-lettered (`no-endpoint`); messages in flight may still be acked until their
   * deadline, and are dead-lettered rather than redelivered when they fail.
   */
  close(): void;
}

/** A subscription to topics matching a pattern; each match gets its own copy. */
export interface Subscription extends Endpoint {
  /** The topic pattern, as given. */
  readonly pattern: string;
}
