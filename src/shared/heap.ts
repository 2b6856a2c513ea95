/**
 * A binary min-heap keyed by a number (a time, mostly), with ties coming out in push order.
 * The router keeps its deadlines in one (ack deadlines, times to live, waits for room, token
 * refills: one timer armed for the earliest serves them all); the memory store keeps its
 * scheduled jobs in one by run-at.
 *
 * Entries are never removed from the middle: whoever pops one checks that it still applies.
 * Push and pop are O(log n). The key is read once, at push, and kept beside the item.
 *
 * @module
 */

/** A min-heap of items by a numeric key; equal keys come out in push order. */
export class MinHeap<T> {
  readonly #key: (item: T) => number;
  #items: T[] = [];
  /** Each item's key, parallel to `#items`. */
  #keys: number[] = [];
  /** Push order of each item, parallel to `#items`, to break ties. */
  #order: number[] = [];
  #next = 0;

  /** @param key the item's key (read once, when it is pushed) */
  constructor(key: (item: T) => number) {
    this.#key = key;
  }

  /** How many items it holds (including ones that may no longer apply). */
  get size(): number {
    return this.#items.length;
  }

  /** The item with the smallest key, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Adds an item. */
  push(item: T): void {
    const items = this.#items;
    const keys = this.#keys;
    const order = this.#order;
    const key = this.#key(item);
    const seq = this.#next++;
    let i = items.length;
    items.push(item);
    keys.push(key);
    order.push(seq);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(key, seq, keys[parent]!, order[parent]!)) break;
      items[i] = items[parent]!;
      keys[i] = keys[parent]!;
      order[i] = order[parent]!;
      i = parent;
    }
    items[i] = item;
    keys[i] = key;
    order[i] = seq;
  }

  /** Removes and returns the item with the smallest key. */
  pop(): T | undefined {
    const items = this.#items;
    const keys = this.#keys;
    const order = this.#order;
    const top = items[0];
    if (top === undefined) return undefined;
    const last = items.pop()!;
    const lastKey = keys.pop()!;
    const lastSeq = order.pop()!;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(keys[right]!, order[right]!, keys[left]!, order[left]!)
        ? right
        : left;
      if (!before(keys[child]!, order[child]!, lastKey, lastSeq)) break;
      items[i] = items[child]!;
      keys[i] = keys[child]!;
      order[i] = order[child]!;
      i = child;
    }
    items[i] = last;
    keys[i] = lastKey;
    order[i] = lastSeq;
    return top;
  }

  /** Removes every item. */
  clear(): void {
    this.#items = [];
    this.#keys = [];
    this.#order = [];
  }
}

function before(keyA: number, seqA: number, keyB: number, seqB: number): boolean {
  return keyA < keyB || (keyA === keyB && seqA < seqB);
}
