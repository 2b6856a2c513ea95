/**
 * Router snapshot and message view types: plain JSON objects describing the
 * `UnifiedMessageRouter`, for the control API, `liminal router …` (`tail`, `dead --json`) and
 * the dashboard. Times are ISO-8601 text.
 *
 * A message (one per recipient: a send to a topic with three subscribers makes three) is in
 * exactly one {@link MessageState} at a time and ends in exactly one final state:
 *
 * ```
 * throttled ─(the sender's tokens)─► queued                (room in the recipient's lane)
 *                                  ─► waiting ─(room)─► queued   (lane full, policy "wait")
 *                                  ─► rejected               (lane full, policy "reject")
 * queued ─(highest effective priority first)─► in-flight
 * in-flight ─(handler returned, or yielded to `for await`; acked if asked)─► delivered
 *           ─(ack deadline passed | handler threw; deliveries left)─► queued (redelivery)
 *           ─(… no deliveries left)─► dead (ack-timeout | handler-error)
 * throttled | waiting | queued ─(time to live over)─► expired (also kept as a dead letter)
 * waiting ─(wait deadline passed)─► dead (mailbox-full)
 * throttled | waiting ─(the send's signal aborted)─► rejected
 * (no endpoint or subscriber; or the recipient closed) ─► dead (no-endpoint)
 * any non-final state ─(router closed, grace over)─► dead (shutdown)
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
  /** Its id (UUIDv7); each recipient's copy has its own. */
  id: string;
  /** The sender (its token bucket paid for the send). */
  from: string;
  /** The name it was sent to: an endpoint name or a topic. */
  to: string;
  /** The endpoint or subscription that receives this copy; `null` when nobody did. */
  recipient: string | null;
  /** What kind of message it is, chosen by the sender (`compact`, `job.succeeded`). */
  type: string;
  /** Its own priority (aging raises it only while it waits, not here). */
  priority: Priority;
  /** Its JSON payload. */
  payload: JsonValue;
  /** Whether the recipient must acknowledge it. */
  requiresAck: boolean;
  /** Where it stands; see the module doc. */
  state: MessageState;
  /** Hand-overs so far (1 after the first delivery). */
  deliveries: number;
  /** When it was sent. */
  sentAt: string;
  /** When its time to live ends, if it has one. */
  expiresAt: string | null;
  /** The dead letter this message replays, if it is a replay. */
  replayOf: string | null;
}

/** A publish that reached nobody (no message was made, so it has no id or state). */
export interface UnroutedView
  extends Pick<MessageView, "from" | "to" | "type" | "priority" | "payload" | "sentAt"> {
  /** Always `null`: no message was made. */
  id: null;
  /** Always `null`: nobody received it. */
  recipient: null;
}

/** A message in the dead-letter store. */
export interface DeadLetterView extends MessageView {
  /** Why it is here. */
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
  /** The endpoint's name, or the subscription's (its pattern and a number by default). */
  name: string;
  /** Which kind of recipient it is. */
  kind: "endpoint" | "subscription";
  /** The topic pattern of a subscription; `null` for an endpoint. */
  pattern: string | null;
  /** Whether it receives through a handler or is read with `for await`. */
  mode: ReceiveMode;
  /** Whether it was closed (explicitly, or with the router). */
  closed: boolean;
  /** Queued messages per priority (their own priority, before aging). */
  depth: Record<Priority, number>;
  /** Sends waiting for room in this mailbox. */
  waiting: number;
  /** Handed over and not yet settled (handler running, or waiting for an ack). */
  inFlight: number;
  /** Messages made for it. */
  sent: number;
  /** Messages it received for good (acked where asked). */
  delivered: number;
  /** Of `delivered`, those acknowledged. */
  acked: number;
  /** Hand-overs after the first. */
  redelivered: number;
  /** Messages whose time to live ended before delivery. */
  expired: number;
  /** Messages refused to their sender because its mailbox was full (or the send aborted). */
  rejected: number;
  /** Messages dead-lettered. */
  dead: number;
}

/** One sender's token bucket. */
export interface SenderSnapshot {
  /** The sender's name (a send's `from`). */
  sender: string;
  /** Tokens now; `null` when token buckets are off or the sender is exempt. */
  tokens: number | null;
  /** Tokens the bucket holds when full; `null` when off or exempt. */
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
  /** Per second over the last second. */
  perSecond1s: number;
  /** Per second over the last ten seconds. */
  perSecond10s: number;
}

/**
 * Running totals. Every message counted in `sent` is in exactly one of `delivered`,
 * `expired`, `rejected`, `dead` or `pending`: `sent = delivered + expired + rejected + dead +
 * pending`.
 */
export interface RouterTotals {
  /** Messages made (one per recipient; a send to nobody makes one, dead-lettered). */
  sent: number;
  /** Final: received for good (acked where asked). */
  delivered: number;
  /** Delivered messages that were acknowledged (a part of `delivered`). */
  acked: number;
  /** Hand-overs after the first (not a final state). */
  redelivered: number;
  /** Final: their time to live ended first. */
  expired: number;
  /** Final: refused to the sender. */
  rejected: number;
  /** Final: dead-lettered. */
  dead: number;
  /** Messages not in a final state yet. */
  pending: number;
  /** Optional sends (`publish`) that nobody received: no message was made. */
  unrouted: number;
}

/** The router at one moment. */
export interface RouterSnapshot {
  /** Its lifecycle state. */
  state: RouterState;
  /** When the snapshot was taken. */
  at: string;
  /** The registered endpoints (closed ones too, after the router closed). */
  endpoints: MailboxSnapshot[];
  /** The subscriptions. */
  subscriptions: MailboxSnapshot[];
  /**
   * Time from send to the first hand-over, per priority (the message's own priority). Every
   * `critical` and `override` message is timed; of the others one in 16, or every one while
   * someone listens to the router's events.
   */
  latency: Record<Priority, LatencySummary>;
  /** The senders seen lately, with their token buckets. */
  senders: SenderSnapshot[];
  /** What aging did. */
  aging: {
    /** `null` when aging is off. */
    intervalMs: number | null;
    /** Levels a message can gain by aging. */
    maxRaises: number;
    /** Messages handed over above their own priority. */
    raisedMessages: number;
    /** Levels raised, summed over those messages. */
    raises: number;
  };
  /** Messages made and delivered per second. */
  rates: { sent: RouterRate; delivered: RouterRate };
  /** Running totals; see {@link RouterTotals}. */
  totals: RouterTotals;
  /** The dead-letter store. */
  deadLetters: {
    /** Dead letters kept now. */
    size: number;
    /** The most it keeps. */
    capacity: number;
    /** The oldest dropped to stay within `capacity`. */
    dropped: number;
    /** Messages dead-lettered (or kept as expired) since the router started, per reason. */
    byReason: Record<DeadLetterReason, number>;
  };
}
