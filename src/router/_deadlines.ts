/**
 * The router's deadlines: ack deadlines, times to live, waits for mailbox room and token
 * refills, in one min-heap (`src/shared/heap.ts`) under one timer armed for the earliest.
 * Entries are never removed early: when one fires, it acts only if it still applies (the
 * message may have been acked, delivered or replayed meanwhile).
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { failDelivery } from "./_acks.ts";
import { pumpSender } from "./_budgets.ts";
import type { Envelope } from "./_envelope.ts";
import { dead, expire } from "./_final_states.ts";
import { MAX_TIMER_MS, type RouterInternals } from "./_internals.ts";
import type { SenderBudget } from "./_token_bucket.ts";

/** What a deadline is for: an ack, a time to live, a wait for room, a token refill. */
export const ACK = 0;
export const TTL = 1;
export const ROOM = 2;
export const TOKENS = 3;

/** One deadline: when (epoch ms), what for, and what it concerns. */
export class Timed {
  constructor(
    readonly at: number,
    readonly kind: number,
    readonly envelope: Envelope | null,
    readonly attempt: number,
    readonly sender: SenderBudget | null,
  ) {}
}

/** Adds a deadline, re-arming the timer if it is the earliest. */
export function addDeadline(s: RouterInternals, deadline: Timed): void {
  s.deadlines.push(deadline);
  if (deadline.at < s.timerAt) arm(s, deadline.at);
}

function arm(s: RouterInternals, at: number): void {
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timerAt = at;
  const delay = at - s.now();
  s.timer = setTimeout(s.timerTask, delay > 0 ? Math.min(delay, MAX_TIMER_MS) : 0);
}

/** The timer fired: acts on every deadline that is due, then arms for the next. */
export function onTimer(s: RouterInternals): void {
  s.timer = undefined;
  s.timerAt = Number.POSITIVE_INFINITY;
  if (s.state === "closed") return;
  const now = s.now();
  for (;;) {
    const top = s.deadlines.peek();
    if (top === undefined || top.at > now) break;
    s.deadlines.pop();
    fire(s, top, now);
  }
  const next = s.deadlines.peek();
  if (next !== undefined && next.at < s.timerAt) arm(s, next.at);
}

/** Stops the timer and forgets every deadline (the router closed). */
export function clearDeadlines(s: RouterInternals): void {
  s.deadlines.clear();
  if (s.timer !== undefined) clearTimeout(s.timer);
  s.timer = undefined;
  s.timerAt = Number.POSITIVE_INFINITY;
}

function fire(s: RouterInternals, deadline: Timed, now: number): void {
  const envelope = deadline.envelope;
  switch (deadline.kind) {
    case ACK:
      if (envelope!.state === "in-flight" && envelope!.deliveries === deadline.attempt) {
        failDelivery(s, envelope!, "ack-timeout", undefined, now);
      }
      break;
    case TTL: {
      const state = envelope!.state;
      if (state === "throttled" || state === "waiting" || state === "queued") {
        expire(s, envelope!, now);
      }
      break;
    }
    case ROOM:
      if (envelope!.state === "waiting") {
        const mailbox = envelope!.mailbox!;
        const error = new LiminalError(
          "MAILBOX_FULL",
          `the ${envelope!.priority} mailbox of "${mailbox.name}" stayed full for ${
            mailbox.limits[envelope!.level]!.waitMs
          }ms; message ${envelope!.id} was dead-lettered`,
          { hint: "replay it once the recipient catches up" },
        );
        dead(s, envelope!, "mailbox-full", error.message, error, now);
      }
      break;
    case TOKENS:
      pumpSender(s, deadline.sender!, now);
      break;
  }
}
