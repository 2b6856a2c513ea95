/**
 * The dead-letter store: a bounded FIFO of messages that were not delivered (with their
 * reason and time), looked up by message id for replay. Beyond its capacity the oldest are
 * dropped and counted.
 *
 * @module
 */
import { DEAD_LETTER_REASONS, type DeadLetterReason } from "../shared/router_snapshot.ts";
import type { Envelope } from "./_envelope.ts";
import { RingBuffer } from "../shared/ring_buffer.ts";

/** One dead letter. */
export interface DeadLetter {
  readonly envelope: Envelope;
  readonly reason: DeadLetterReason;
  /** Epoch ms. */
  readonly at: number;
  readonly error: string | null;
  /** Set while a replay of it is under way. */
  replaying: boolean;
}

/** Dead letters by age, with lookup by message id. */
export class DeadLetterStore {
  readonly #order = new RingBuffer<DeadLetter>(8);
  readonly #byId = new Map<string, DeadLetter>();
  /** Dead letters dropped to stay within capacity. */
  dropped = 0;
  /** Dead letters ever added, per reason. */
  readonly byReason: Record<DeadLetterReason, number> = Object.fromEntries(
    DEAD_LETTER_REASONS.map((reason) => [reason, 0]),
  ) as Record<DeadLetterReason, number>;

  constructor(readonly capacity: number) {}

  /** Dead letters kept now. */
  get size(): number {
    return this.#byId.size;
  }

  /** Keeps a dead letter, dropping the oldest beyond capacity. */
  add(letter: DeadLetter): void {
    this.byReason[letter.reason]++;
    while (this.#byId.size >= this.capacity) {
      const oldest = this.#order.shift();
      if (oldest === undefined) break;
      if (this.#byId.get(oldest.envelope.id) === oldest) {
        this.#byId.delete(oldest.envelope.id);
        this.dropped++;
      }
    }
    this.#order.push(letter);
    this.#byId.set(letter.envelope.id, letter);
    // Removed letters stay in the ring until they reach its head; compact if they pile up.
    if (this.#order.size > 2 * this.capacity) {
      const live = this.#order.drain().filter((l) => this.#byId.get(l.envelope.id) === l);
      for (const l of live) this.#order.push(l);
    }
  }

  /** The dead letter of message `id`. */
  get(id: string): DeadLetter | undefined {
    return this.#byId.get(id);
  }

  /** Forgets the dead letter of message `id` (after a replay). */
  remove(id: string): void {
    this.#byId.delete(id);
  }

  /** Dead letters newest first, optionally of one reason, at most `limit`. */
  list(reason: DeadLetterReason | undefined, limit: number): DeadLetter[] {
    const out: DeadLetter[] = [];
    const all = [...this.#order];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const letter = all[i]!;
      if (this.#byId.get(letter.envelope.id) !== letter) continue;
      if (reason === undefined || letter.reason === reason) out.push(letter);
    }
    return out;
  }

  /** Forgets every dead letter. */
  clear(): void {
    this.#order.drain();
    this.#byId.clear();
  }
}
