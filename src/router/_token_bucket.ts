/**
 * Fairness between senders: one token bucket per sender, and the sends waiting on it.
 *
 * A bucket holds up to `capacity` tokens and gains `refillPerMs` a millisecond. A send
 * costs tokens by priority; a sender without enough tokens waits, it is not dropped. Its
 * waiting sends are kept in one FIFO lane per priority and pass highest priority first (an
 * expensive `critical` holds back the same sender's cheaper `info`, never the other way
 * round). A new send goes at once only if the bucket covers it and none of the sender's
 * waiting sends has its priority or higher.
 *
 * @module
 */
import { OVERRIDE_LEVEL } from "../shared/priority.ts";
import type { PendingSend } from "./_envelope.ts";
import { RingBuffer } from "../shared/ring_buffer.ts";

const LEVELS = OVERRIDE_LEVEL + 1;

/** One sender: its tokens, its waiting sends and its counters. */
export class SenderBudget {
  tokens: number;
  #updatedAt: number;
  #waiting: RingBuffer<PendingSend>[] | null = null;
  #waitingCount = 0;
  /** When a token wake-up is pending for this sender (epoch ms), else `Infinity`. */
  wakeAt = Number.POSITIVE_INFINITY;
  /** Sends that had to wait. */
  throttled = 0;
  /** Sends made. */
  sends = 0;
  /** When it last sent (epoch ms). */
  lastUsed: number;

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly refillPerMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.#updatedAt = now;
    this.lastUsed = now;
  }

  /** Sends waiting for tokens. */
  get waiting(): number {
    return this.#waitingCount;
  }

  /** Adds the tokens earned since the last update. */
  refill(now: number): void {
    const elapsed = now - this.#updatedAt;
    if (elapsed <= 0) return;
    this.#updatedAt = now;
    const tokens = this.tokens + elapsed * this.refillPerMs;
    this.tokens = tokens > this.capacity ? this.capacity : tokens;
  }

  /**
   * Takes `cost` tokens for a new send of `level` if the bucket covers it and no waiting
   * send of this sender comes first; returns whether it did.
   */
  tryTake(level: number, cost: number, now: number): boolean {
    if (this.#waitingCount > 0 && this.#highestWaiting() >= level) return false;
    if (cost === 0) return true;
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Queues a send that has to wait. */
  enqueue(send: PendingSend): void {
    this.#waiting ??= Array.from({ length: LEVELS }, () => new RingBuffer<PendingSend>(8));
    this.#waiting[send.level]!.push(send);
    this.#waitingCount++;
    this.throttled++;
  }

  /** The waiting send that passes next, without removing it. */
  peek(): PendingSend | undefined {
    if (this.#waitingCount === 0) return undefined;
    return this.#waiting![this.#highestWaiting()]!.peek();
  }

  /** Removes the waiting send {@link peek} returned. */
  shift(): PendingSend | undefined {
    if (this.#waitingCount === 0) return undefined;
    this.#waitingCount--;
    return this.#waiting![this.#highestWaiting()]!.shift();
  }

  /** Removes and returns every waiting send. */
  drain(): PendingSend[] {
    const all: PendingSend[] = [];
    // One push per send: spreading a lane of 100,000+ sends as arguments overflows the stack.
    for (const lane of this.#waiting ?? []) {
      for (const send of lane.drain()) all.push(send);
    }
    this.#waitingCount = 0;
    return all;
  }

  /** Milliseconds until the bucket holds `cost` tokens (0 if it does). */
  msUntil(cost: number): number {
    return this.tokens >= cost ? 0 : Math.ceil((cost - this.tokens) / this.refillPerMs);
  }

  #highestWaiting(): number {
    const lanes = this.#waiting!;
    for (let level = LEVELS - 1; level > 0; level--) if (lanes[level]!.size > 0) return level;
    return 0;
  }
}
