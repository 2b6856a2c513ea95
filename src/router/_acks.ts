/**
 * Acknowledgements and redelivery: an ack of the current delivery delivers the message; a
 * failed delivery (ack deadline passed, handler threw) puts it back at the head of its lane
 * while it has deliveries left, else dead-letters it (`ack-timeout` | `handler-error`). A
 * message whose time to live passed meanwhile expires instead of being redelivered.
 *
 * @module
 */
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { schedule } from "./_dispatch.ts";
import type { Envelope } from "./_envelope.ts";
import { dead, deliver, expire } from "./_final_states.ts";
import type { RouterInternals } from "./_internals.ts";
import { messageView } from "./_snapshot.ts";

/** Acks delivery `attempt` of a message; `false` if it asked for no ack or is not current. */
export function ack(s: RouterInternals, envelope: Envelope, attempt: number): boolean {
  if (!envelope.requiresAck || envelope.state !== "in-flight" || envelope.deliveries !== attempt) {
    return false;
  }
  if (s.watched && s.events.has("message:acked")) {
    s.events.emit("message:acked", { message: messageView(envelope), attempt });
  }
  deliver(s, envelope, true, s.now());
  return true;
}

/** A delivery failed: redeliver the message, or dead-letter it (see the module doc). */
export function failDelivery(
  s: RouterInternals,
  envelope: Envelope,
  reason: "ack-timeout" | "handler-error",
  error: unknown,
  now: number,
): void {
  const mailbox = envelope.mailbox!;
  const attempt = envelope.deliveries;
  const text = reason === "ack-timeout"
    ? `not acknowledged within ${envelope.policy.ackTimeoutMs}ms (delivery ${attempt})`
    : errorMessage(error);
  if (reason === "ack-timeout") {
    envelope.delivery?.abort(new LiminalError("INTERNAL", text));
  }
  if (envelope.ttlMs !== null && now >= envelope.sentAt + envelope.ttlMs) {
    expire(s, envelope, now);
    return;
  }
  if (mailbox.closed || attempt >= envelope.policy.maxDeliveries) {
    dead(s, envelope, reason, text, undefined, now);
    return;
  }
  mailbox.inFlight.delete(envelope);
  envelope.delivery = null;
  mailbox.requeue(envelope);
  mailbox.redelivered++;
  s.totals.redelivered++;
  if (s.watched && s.events.has("message:redelivered")) {
    s.events.emit("message:redelivered", {
      message: messageView(envelope),
      attempt,
      reason,
      error: text,
    });
  }
  schedule(s, mailbox);
}
