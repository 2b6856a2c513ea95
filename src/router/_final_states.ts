/**
 * The final states of a message: `delivered`, `expired`, `rejected` and `dead`. Each takes
 * the message out of whatever held it, counts it, emits its event, settles a send still
 * waiting on it, lets a send waiting for room into the lane it left, and resolves `onIdle()`
 * waiters when it was the last pending message. Expired and dead messages are kept as dead
 * letters.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { DeadLetterReason } from "../shared/router_snapshot.ts";
import type { Envelope } from "./_envelope.ts";
import type { RouterInternals } from "./_internals.ts";
import { admitWaiting, release } from "./_sending.ts";
import { messageView } from "./_snapshot.ts";

/** Takes a message out of whatever holds it in its current (non-final) state. */
function leave(envelope: Envelope): void {
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
export function deliver(
  s: RouterInternals,
  envelope: Envelope,
  acked: boolean,
  now: number,
  untracked = false,
): void {
  const mailbox = envelope.mailbox!;
  if (!untracked) leave(envelope);
  envelope.state = "delivered";
  envelope.delivery = null;
  mailbox.delivered++;
  s.totals.delivered++;
  if (acked) {
    mailbox.acked++;
    s.totals.acked++;
  }
  s.deliveredRate.add(now);
  if (s.watched && s.events.has("message:delivered")) {
    s.events.emit("message:delivered", { message: messageView(envelope), acked });
  }
  settled(s);
}

/** Final: expired (its time to live is over); kept as a dead letter. */
export function expire(s: RouterInternals, envelope: Envelope, now: number): void {
  const mailbox = envelope.mailbox;
  const from = envelope.state;
  leave(envelope);
  envelope.state = "expired";
  envelope.delivery = null;
  if (mailbox !== null) mailbox.expired++;
  s.totals.expired++;
  s.deadLetters.add({ envelope, reason: "expired", at: now, error: null, replaying: false });
  if (s.watched && s.events.has("message:expired")) {
    s.events.emit("message:expired", { message: messageView(envelope) });
  }
  release(envelope);
  if (from === "queued" && mailbox !== null) admitWaiting(s, mailbox, envelope.level, now);
  settled(s);
}

/** Final: dead, kept as a dead letter with its reason; `sendError` fails a waiting send. */
export function dead(
  s: RouterInternals,
  envelope: Envelope,
  reason: DeadLetterReason,
  error: string | null,
  sendError: unknown,
  now: number,
): void {
  const mailbox = envelope.mailbox;
  const from = envelope.state;
  leave(envelope);
  envelope.state = "dead";
  envelope.delivery = null;
  if (mailbox !== null) mailbox.dead++;
  s.totals.dead++;
  s.deadLetters.add({ envelope, reason, at: now, error, replaying: false });
  if (s.watched && s.events.has("message:dead-lettered")) {
    s.events.emit("message:dead-lettered", { message: messageView(envelope), reason, error });
  }
  release(envelope, sendError);
  if (from === "queued" && mailbox !== null) admitWaiting(s, mailbox, envelope.level, now);
  settled(s);
}

/** Final: rejected (a full lane that rejects, or the send's signal aborted). */
export function reject(s: RouterInternals, envelope: Envelope, sendError: unknown): void {
  const mailbox = envelope.mailbox;
  leave(envelope);
  envelope.state = "rejected";
  if (mailbox !== null) mailbox.rejected++;
  s.totals.rejected++;
  if (s.watched && s.events.has("message:rejected")) {
    s.events.emit("message:rejected", {
      message: messageView(envelope),
      code: sendError instanceof LiminalError ? sendError.code : null,
      error: errorMessage(sendError),
    });
  }
  release(envelope, sendError);
  settled(s);
}

function settled(s: RouterInternals): void {
  if (--s.pending === 0 && s.idleWaiters.length > 0) {
    const waiters = s.idleWaiters;
    s.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
