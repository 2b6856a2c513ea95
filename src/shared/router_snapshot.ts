/**
 * Router snapshot and message view types: plain JSON objects describing the
 * `UnifiedMessageRouter`, for the control API, `liminal router …` (`tail`, `dead --json`) and
 * the dashboard. Times are ISO-8601 text.
 *
 * A message (one per recipient: a send to a topic with three subscribers makes three) is in
 * exactly one {@link MessageState} at a time and ends in exactly one final state:
 *
 * ```
 * throttled ─(sender's tokens)─► waiting ─(room)─► queued ─(handed over)─► in-flight
 *     └──────────(room)──────────────────────────────►┘                       │
 * in-flight ──(handler returned / yielded; or acked when an ack was asked)──► delivered
 *           ──(ack deadline passed, handler threw; deliveries left)──► queued (redelivery)
 *           ──(… no deliveries left)──► dead (ack-timeout | handler-error)
 * throttled | waiting | queued ──(time to live passed)──► expired
 * waiting ──(deadline passed)──► dead (mailbox-full)
 * (mailbox full, policy "reject"; or the send's signal aborted) ──► rejected
 * (no endpoint or subscriber) ──► dead (no-endpoint)
 * any non-final state ──(router closed, grace over)──► dead (shutdown)
 * ```
 *
 * @module
 */
import type { JsonValue } from "./json.ts";
import type { Priority } from "./priority.ts";
import type { LatencySummary } from "./snapshot.ts";

/** Every state of a router message, non-final ones first. */
export const MESSAGE_STATES = [
  "throttled",
  "waiting",
  "queued",
  "in-flight",
  "delivered",
  "expired",
  "rejected",
  "dead",
] as const;

/** A state of a router message; see the module doc. */
export type MessageState = typeof MESSAGE_STATES[number];

/** The states a message never leaves. */
export type FinalMessageState = "delivered" | "expired" | "rejected" | "dead";

/** Whether `state` is final. */
export function isFinalMessageState(state: MessageState): state is FinalMessageState {
  return state === "delivered" || state === "expired" || state === "rejected" ||
    state === "dead";
}

/** Why a message is in the dead-letter store. */
export const DEAD_LETTER_REASONS = [
  "ack-timeout",
  "expired",
  "no-endpoint",
  "mailbox-full",
  "handler-error",
  "shutdown",
] as const;

/** A reason a message was dead-lettered (or, for `expired`, kept after its time to live). */
export type DeadLetterReason = typeof DEAD_LETTER_REASONS[number];

/** Whether `value` names a dead-letter reason. */
export function isDeadLetterReason(value: unknown): value is DeadLetterReason {
  return typeof value === "string" && (DEAD_LETTER_REASONS as readonly string[]).includes(value);
}

/** Lifecycle states of a router. */
export type RouterState = "created" | "running" | "closing" | "closed";

/** One message as `router tail` and the control API show it. */
export interface MessageView {
  id: string;
  /** The sender (its token bucket paid for the send). */
  from: string;
  /** The name it was sent to: an endpoint name or a topic. */
  to: string;
  /** The endpoint or subscription that receives this copy; `null` when nobody did. */
  recipient: string | null;
  type: string;
  priority: Priority;
  payload: JsonValue;
  /** Whether the recipient must acknowledge it. */
  requiresAck: boolean;
  state: MessageState;
  /** Hand-overs so far (1 after the first delivery). */
  deliveries: number;
  sentAt: string;
  /** When its time to live ends, if it has one. */
  expiresAt: string | null;
  /** The dead letter this message replays, if it is a replay. */
  replayOf: string | null;
}

/** A message in the dead-letter store. */
export interface DeadLetterView extends MessageView {
  reason: DeadLetterReason;
  /** When it was dead-lettered. */
  deadAt: string;
  /** The handler's error, or what went wrong, if anything was thrown or refused. */
  error: string | null;
}

/** How one endpoint or subscription receives. */
export type ReceiveMode = "handler" | "iterator";

/** One endpoint's or subscription's mailbox and its counters since it was registered. */
export interface MailboxSnapshot {
  name: string;
  kind: "endpoint" | "subscription";
  /** The topic pattern of a subscription; `null` for an endpoint. */
  pattern: string | null;
  mode: ReceiveMode;
  closed: boolean;
  /** Queued messages per priority (their own priority, before aging). */
  depth: Record<Priority, number>;
  /** Sends waiting for room in this mailbox. */
  waiting: number;
  /** Handed over and not yet settled (handler running, or waiting for an ack). */
  inFlight: number;
  sent: number;
  delivered: number;
  acked: number;
  redelivered: number;
  expired: number;
  rejected: number;
  dead: number;
}

/** One sender's token bucket. */
export interface SenderSnapshot {
  sender: string;
  /** Tokens now; `null` when token buckets are off. */
  tokens: number | null;
  capacity: number | null;
  /** Sends waiting for tokens now. */
  waiting: number;
  /** Sends that had to wait for tokens, since the router started. */
  throttled: number;
  /** Sends made (each may make several messages). */
  sends: number;
}

/** Events per second over the last second and the last ten. */
export interface RouterRate {
  perSecond1s: number;
  perSecond10s: number;
}

/**
 * Running totals. Every message counted in `sent` is in exactly one of `delivered`,
 * `expired`, `rejected`, `dead` or `pending`: `sent = delivered + expired + rejected + dead +
 * pending`.
 */
export interface RouterTotals {
  sent: number;
  delivered: number;
  /** Delivered messages that were acknowledged (a part of `delivered`). */
  acked: number;
  /** Hand-overs after the first (not a final state). */
  redelivered: number;
  expired: number;
  rejected: number;
  dead: number;
  /** Messages not in a final state yet. */
  pending: number;
  /** Optional sends (`publish`) that nobody received: no message was made. */
  unrouted: number;
}

/** The router at one moment. */
export interface RouterSnapshot {
  state: RouterState;
  at: string;
  endpoints: MailboxSnapshot[];
  subscriptions: MailboxSnapshot[];
  /**
   * Time from send to the first hand-over, per priority (the message's own priority). Every
   * `critical` and `override` message is timed; of the others one in 16, or every one while
   * someone listens to the router's events.
   */
  latency: Record<Priority, LatencySummary>;
  senders: SenderSnapshot[];
  aging: {
    /** `null` when aging is off. */
    intervalMs: number | null;
    maxRaises: number;
    /** Messages handed over above their own priority. */
    raisedMessages: number;
    /** Levels raised, summed over those messages. */
    raises: number;
  };
  rates: { sent: RouterRate; delivered: RouterRate };
  totals: RouterTotals;
  deadLetters: {
    /** Dead letters kept now. */
    size: number;
    capacity: number;
    /** The oldest dropped to stay within `capacity`. */
    dropped: number;
    /** Messages dead-lettered (or kept as expired) since the router started, per reason. */
    byReason: Record<DeadLetterReason, number>;
  };
}
