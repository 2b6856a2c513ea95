/**
 * The router's deadlines (ack deadlines, times to live, waits for mailbox room, token
 * refills) in one binary min-heap, so one timer armed for the earliest serves them all.
 *
 * Entries are never removed from the middle: whoever pops one checks that it still applies
 * (the message may have been acked meanwhile). Push and pop are O(log n); only messages with
 * an ack or a time to live, and waiting sends, have entries.
 *
 * @module
 */

/** One deadline: `at` (epoch ms) and whatever its owner needs to act on it. */
export interface Deadline {
  readonly at: number;
}

/** A min-heap of deadlines by `at`; equal times come out in push order. */
export class DeadlineHeap<D extends Deadline> {
  #items: D[] = [];
  /** Push order of each item, parallel to `#items`, to break ties. */
  #order: number[] = [];
  #next = 0;

  /** How many deadlines it holds (including ones that no longer apply). */
  get size(): number {
    return this.#items.length;
  }

  /** The earliest deadline, without removing it. */
  peek(): D | undefined {
    return this.#items[0];
  }

  /** Adds a deadline. */
  push(item: D): void {
    const items = this.#items;
    const order = this.#order;
    const seq = this.#next++;
    let i = items.length;
    items.push(item);
    order.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item.at, seq, items[parent]!.at, order[parent]!)) break;
      items[i] = items[parent]!;
      order[i] = order[parent]!;
      i = parent;
    }
    items[i] = item;
    order[i] = seq;
  }

  /** Removes and returns the earliest deadline. */
  pop(): D | undefined {
    const items = this.#items;
    const order = this.#order;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    const lastSeq = order.pop()!;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n &&
          before(items[right]!.at, order[right]!, items[left]!.at, order[left]!)
        ? right
        : left;
      if (!before(items[child]!.at, order[child]!, last.at, lastSeq)) break;
      items[i] = items[child]!;
      order[i] = order[child]!;
      i = child;
    }
    items[i] = last;
    order[i] = lastSeq;
    return top;
  }

  /** Removes every deadline. */
  clear(): void {
    this.#items = [];
    this.#order = [];
  }
}

function before(atA: number, seqA: number, atB: number, seqB: number): boolean {
  return atA < atB || (atA === atB && seqA < seqB);
}
