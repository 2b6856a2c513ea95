/**
 * Token budgets: each sender's bucket (made on its first send, forgotten once idle with a
 * full bucket), sends that wait for tokens, and the wake-up that lets them through when the
 * bucket has refilled enough. The bucket itself is `SenderBudget` (`_token_bucket.ts`).
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { PRIORITIES } from "../shared/priority.ts";
import type { SenderSnapshot } from "../shared/router_snapshot.ts";
import { addDeadline, Timed, TOKENS } from "./_deadlines.ts";
import { type Envelope, PendingSend } from "./_envelope.ts";
import type { RouterInternals } from "./_internals.ts";
import { admit, watchAbort } from "./_sending.ts";
import { SenderBudget } from "./_token_bucket.ts";
import type { SendReceipt } from "./message.ts";

/** Senders idle this long with a full bucket are forgotten (a new bucket is the same). */
const SENDER_IDLE_MS = 60_000;

/** The bucket of the sender `name`, made on its first send. */
export function senderOf(s: RouterInternals, name: string, now: number): SenderBudget {
  let sender = s.senders.get(name);
  if (sender === undefined) {
    if (typeof name !== "string" || name.length === 0 || name.length > 100) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid sender ${JSON.stringify(name)}: use 1 to 100 characters`,
      );
    }
    const tokens = s.options.tokens;
    const own = tokens?.senders.get(name);
    // No buckets, or an exempt sender: a bucket that never runs dry.
    const budget = tokens === null || own === null ? null : own ?? tokens;
    sender = new SenderBudget(
      name,
      budget?.capacity ?? Number.POSITIVE_INFINITY,
      budget?.refillPerMs ?? 0,
      now,
    );
    s.senders.set(name, sender);
  }
  return sender;
}

/** Has a send wait for its sender's tokens; returns the send's promise. */
export function throttle(
  s: RouterInternals,
  sender: SenderBudget,
  copies: readonly Envelope[],
  receipt: SendReceipt,
  level: number,
  cost: number,
  signal: AbortSignal | undefined,
  now: number,
): Promise<SendReceipt> {
  const group = new PendingSend(copies, receipt, level, cost, copies.length);
  for (const envelope of copies) envelope.group = group;
  sender.enqueue(group);
  if (s.watched && s.events.has("sender:throttled")) {
    s.events.emit("sender:throttled", {
      sender: sender.name,
      priority: PRIORITIES[level]!,
      tokens: sender.tokens,
      cost,
    });
  }
  watchAbort(s, group, signal);
  wakeSender(s, sender, now);
  return group.promise;
}

/** Arms a wake-up for when the sender's next waiting send can pay. */
function wakeSender(s: RouterInternals, sender: SenderBudget, now: number): void {
  const head = sender.peek();
  if (head === undefined) return;
  sender.refill(now);
  const at = now + sender.msUntil(head.cost);
  if (at < sender.wakeAt) {
    sender.wakeAt = at;
    addDeadline(s, new Timed(at, TOKENS, null, 0, sender));
  }
}

/** Lets the sender's waiting sends through while its tokens cover them. */
export function pumpSender(s: RouterInternals, sender: SenderBudget, now: number): void {
  sender.wakeAt = Number.POSITIVE_INFINITY;
  sender.refill(now);
  for (;;) {
    const head = sender.peek();
    if (head === undefined) return;
    if (!head.throttled) {
      sender.shift();
      continue;
    }
    if (sender.tokens < head.cost) {
      wakeSender(s, sender, now);
      return;
    }
    sender.tokens -= head.cost;
    sender.shift();
    for (const envelope of head.copies) {
      if (envelope.state === "throttled") admit(s, envelope, now);
    }
  }
}

/** Every sender's bucket for the snapshot; forgets the idle ones with a full bucket. */
export function senderSnapshots(s: RouterInternals, now: number): SenderSnapshot[] {
  const senders: SenderSnapshot[] = [];
  for (const [name, sender] of s.senders) {
    sender.refill(now);
    const idle = sender.waiting === 0 && now - sender.lastUsed >= SENDER_IDLE_MS &&
      sender.tokens >= sender.capacity;
    if (idle) {
      s.senders.delete(name);
      continue;
    }
    const limited = Number.isFinite(sender.capacity);
    senders.push({
      sender: name,
      tokens: limited ? Math.floor(sender.tokens * 100) / 100 : null,
      capacity: limited ? sender.capacity : null,
      waiting: sender.waiting,
      throttled: sender.throttled,
      sends: sender.sends,
    });
  }
  return senders;
}
