/**
 * The router seen from outside: the JSON views of a message and a dead letter (what events,
 * `deadLetters()` and the control API show) and `snapshot()`.
 *
 * @module
 */
import { PRIORITIES } from "../shared/priority.ts";
import { type RateCounter, roundRate } from "../shared/rate_counter.ts";
import type {
  DeadLetterView,
  MessageView,
  RouterRate,
  RouterSnapshot,
} from "../shared/router_snapshot.ts";
import { senderSnapshots } from "./_budgets.ts";
import type { DeadLetter } from "./_dead_letters.ts";
import type { Envelope } from "./_envelope.ts";
import type { RouterInternals } from "./_internals.ts";

/** A message as plain JSON. */
export function messageView(envelope: Envelope): MessageView {
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

/** A dead letter as plain JSON. */
export function deadLetterView(letter: DeadLetter): DeadLetterView {
  return {
    ...messageView(letter.envelope),
    reason: letter.reason,
    deadAt: new Date(letter.at).toISOString(),
    error: letter.error,
  };
}

/** The router now, as plain JSON. */
export function routerSnapshot(s: RouterInternals): RouterSnapshot {
  const now = s.now();
  const senders = senderSnapshots(s, now);
  const latency = Object.fromEntries(
    PRIORITIES.map((p, level) => [p, s.latency[level]!.summary()]),
  ) as RouterSnapshot["latency"];
  const letters = s.deadLetters;
  return {
    state: s.state,
    at: new Date(now).toISOString(),
    endpoints: [...s.endpoints.values()].map((m) => m.snapshot()),
    subscriptions: [...s.subscriptions].map((m) => m.snapshot()),
    latency,
    senders,
    aging: {
      intervalMs: Number.isFinite(s.options.agingMs) ? s.options.agingMs : null,
      maxRaises: s.options.maxRaises,
      raisedMessages: s.raisedMessages,
      raises: s.raises,
    },
    rates: { sent: rateSummary(s.sentRate, now), delivered: rateSummary(s.deliveredRate, now) },
    totals: { ...s.totals, pending: s.pending },
    deadLetters: {
      size: letters.size,
      capacity: letters.capacity,
      dropped: letters.dropped,
      byReason: { ...letters.byReason },
    },
  };
}

/** Both rates, rounded to hundredths. */
function rateSummary(counter: RateCounter, now: number): RouterRate {
  return {
    perSecond1s: roundRate(counter.rate(1, now)),
    perSecond10s: roundRate(counter.rate(10, now)),
  };
}
