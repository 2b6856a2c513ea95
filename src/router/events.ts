/**
 * The router's events, for a live `router tail` and for logs. Payloads are plain objects
 * holding JSON views of the message (times as ISO text); a view is built only when someone
 * listens to the event.
 *
 * Every message gets `message:sent` once, then exactly one of the final events
 * `message:delivered`, `message:expired`, `message:rejected` or `message:dead-lettered`.
 *
 * @module
 */
import type { ErrorCode } from "../shared/errors.ts";
import type { Priority } from "../shared/priority.ts";
import type {
  DeadLetterReason,
  MessageView,
  RouterState,
  UnroutedView,
} from "../shared/router_snapshot.ts";

/** Every event of a `UnifiedMessageRouter`, by name. */
export interface RouterEventMap {
  /** A message was made for one recipient (or for nobody: it is dead-lettered next). */
  "message:sent": { message: MessageView };
  /** A message was handed to its recipient (each delivery, redeliveries included). */
  "message:dispatched": {
    message: MessageView;
    attempt: number;
    /**
     * Milliseconds from the send to the first hand-over; `null` on redeliveries and for a
     * message sent while nobody listened whose latency was not sampled.
     */
    latencyMs: number | null;
    /** Levels aging raised it by. */
    raises: number;
  };
  /** A message was acknowledged (it is delivered next). */
  "message:acked": { message: MessageView; attempt: number };
  /** Final: delivered (its handler returned or it was yielded; or, with an ack asked, acked). */
  "message:delivered": { message: MessageView; acked: boolean };
  /** A delivery failed and the message went back to its mailbox. */
  "message:redelivered": {
    message: MessageView;
    /** The attempt that failed. */
    attempt: number;
    reason: "ack-timeout" | "handler-error";
    error: string | null;
  };
  /** Final: its time to live passed before it was delivered (it is kept as a dead letter). */
  "message:expired": { message: MessageView };
  /** Final: refused to the sender (its mailbox was full and rejects, or the send was aborted). */
  "message:rejected": { message: MessageView; code: ErrorCode | null; error: string };
  /** Final: dead-lettered. */
  "message:dead-lettered": {
    message: MessageView;
    reason: DeadLetterReason;
    error: string | null;
  };
  /**
   * A publish to a topic nobody subscribes to (a `jobs.*` event no one listens for): no
   * message is made, but a tail still sees it.
   */
  "message:unrouted": { message: UnroutedView };
  /** A send has to wait for its sender's tokens. */
  "sender:throttled": { sender: string; priority: Priority; tokens: number; cost: number };
  /** The router's state changed. */
  "router:state": { from: RouterState; to: RouterState };
}
