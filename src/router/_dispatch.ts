/**
 * Delivery: mailboxes with something to hand over are collected and drained in one pass per
 * microtask, each up to a budget before the others get a turn; a message taken from its lane
 * goes to the handler (with its delivery context) or to a waiting `for await` reader, and is
 * delivered at once when no ack is asked (`_acks.ts` has the rest).
 *
 * @module
 */
import { ACK, addDeadline, Timed } from "./_deadlines.ts";
import { failDelivery } from "./_acks.ts";
import { Delivery, type Envelope } from "./_envelope.ts";
import { deliver, expire } from "./_final_states.ts";
import type { RouterInternals } from "./_internals.ts";
import type { Mailbox } from "./_mailbox.ts";
import { admitWaiting } from "./_sending.ts";
import { messageView } from "./_snapshot.ts";

/** Messages one mailbox is handed per dispatch pass before the others get a turn. */
const DISPATCH_BUDGET = 256;
/** Hand-overs to `for await` readers between two readings of the clock in one pass. */
const CLOCK_EVERY = 16;

/** Puts a mailbox that can take a message in the next dispatch pass. */
export function schedule(s: RouterInternals, mailbox: Mailbox): void {
  if (mailbox.scheduled || !mailbox.ready) return;
  mailbox.scheduled = true;
  s.ready.push(mailbox);
  if (!s.dispatchQueued) {
    s.dispatchQueued = true;
    queueMicrotask(s.dispatchTask);
  }
}

/** One dispatch pass: drains every mailbox scheduled since the last. */
export function dispatch(s: RouterInternals): void {
  s.dispatchQueued = false;
  const ready = s.ready;
  s.ready = [];
  for (const mailbox of ready) {
    mailbox.scheduled = false;
    drain(s, mailbox);
  }
}

/** Hands over messages while the mailbox can take them, up to the pass's budget. */
export function drain(s: RouterInternals, mailbox: Mailbox): void {
  const { agingMs, maxRaises } = s.options;
  let now = s.now();
  s.passMono = -1;
  const handlers = mailbox.handler !== null;
  for (let budget = DISPATCH_BUDGET; budget > 0 && mailbox.ready; budget--) {
    // A handler may take any time: read the clocks again after each; iterators only
    // resolve promises: every few hand-overs is enough.
    if (budget !== DISPATCH_BUDGET && (handlers || budget % CLOCK_EVERY === 0)) {
      now = s.now();
      s.passMono = -1;
    }
    const envelope = mailbox.take(now, agingMs, maxRaises);
    if (envelope === undefined) break;
    const raises = mailbox.lastRaises;
    // Taken out of its lane: in flight from here on (or expired just below).
    envelope.state = "in-flight";
    if (mailbox.waiting[envelope.level]! > 0) admitWaiting(s, mailbox, envelope.level, now);
    if (envelope.ttlMs !== null && now >= envelope.sentAt + envelope.ttlMs) {
      expire(s, envelope, now);
      continue;
    }
    handOver(s, mailbox, envelope, raises, now);
  }
  if (mailbox.ready) schedule(s, mailbox);
}

function handOver(
  s: RouterInternals,
  mailbox: Mailbox,
  envelope: Envelope,
  raises: number,
  now: number,
): void {
  const attempt = ++envelope.deliveries;
  let latencyMs: number | null = null;
  if (attempt === 1) {
    if (envelope.sentMono >= 0) {
      if (s.passMono < 0) s.passMono = performance.now();
      latencyMs = s.passMono - envelope.sentMono;
      s.latency[envelope.level]!.record(latencyMs);
    }
    if (raises > 0) {
      s.raisedMessages++;
      s.raises += raises;
    }
  }
  if (s.watched && s.events.has("message:dispatched")) {
    s.events.emit("message:dispatched", {
      message: messageView(envelope),
      attempt,
      latencyMs,
      raises,
    });
  }
  const requiresAck = envelope.policy.requiresAck;
  if (requiresAck) {
    addDeadline(s, new Timed(now + envelope.policy.ackTimeoutMs, ACK, envelope, attempt, null));
  }
  const handler = mailbox.handler;
  if (handler === null) {
    const puller = mailbox.pullers.shift()!;
    if (requiresAck) mailbox.inFlight.add(envelope);
    else deliver(s, envelope, false, now, true);
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
      failDelivery(s, envelope, "handler-error", error, now);
    }
    return;
  }
  if (isThenable(result)) {
    if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
      mailbox.inFlight.add(envelope);
    }
    result.then(
      () => handlerReturned(s, mailbox, envelope, attempt),
      (error: unknown) => handlerThrew(s, mailbox, envelope, attempt, error),
    );
    return;
  }
  mailbox.running--;
  if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
    if (requiresAck) mailbox.inFlight.add(envelope);
    else deliver(s, envelope, false, now, true);
  }
}

function handlerReturned(
  s: RouterInternals,
  mailbox: Mailbox,
  envelope: Envelope,
  attempt: number,
): void {
  mailbox.running--;
  if (envelope.state === "in-flight" && envelope.deliveries === attempt && !envelope.requiresAck) {
    deliver(s, envelope, false, s.now());
  }
  schedule(s, mailbox);
}

function handlerThrew(
  s: RouterInternals,
  mailbox: Mailbox,
  envelope: Envelope,
  attempt: number,
  error: unknown,
): void {
  mailbox.running--;
  if (envelope.state === "in-flight" && envelope.deliveries === attempt) {
    failDelivery(s, envelope, "handler-error", error, s.now());
  }
  schedule(s, mailbox);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}
