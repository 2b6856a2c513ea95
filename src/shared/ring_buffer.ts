/**
 * A growable double-ended ring buffer: O(1) push, shift, unshift and peek, no
 * `Array.prototype.shift` (O(n) on large arrays) and no holes. The executor's ready queue
 * keeps one per priority lane; the router's mailbox lanes use `unshift` to put a redelivered
 * message back at the head of its lane.
 *
 * @module
 */

/** A deque over a power-of-two ring that doubles when full. */
export class RingBuffer<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #size = 0;

  /** @param initialCapacity slots to start with (rounded up to a power of two) */
  constructor(initialCapacity = 16) {
    let capacity = 1;
    while (capacity < initialCapacity) capacity *= 2;
    this.#items = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  /** How many items it holds. */
  get size(): number {
    return this.#size;
  }

  /** Appends at the tail. */
  push(item: T): void {
    if (this.#size > this.#mask) this.#grow();
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /** Puts an item before the head. */
  unshift(item: T): void {
    if (this.#size > this.#mask) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    this.#items[this.#head] = item;
    this.#size++;
  }

  /** The head, without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** The last item, without removing it. */
  peekLast(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#head + this.#size - 1) & this.#mask];
  }

  /** Removes and returns the head. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  /** Removes every item. */
  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  /** Removes every item and returns them, head first. */
  drain(): T[] {
    const items = [...this];
    this.clear();
    return items;
  }

  /** Iterates head to tail. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const capacity = this.#items.length * 2;
    const items = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.#size; i++) items[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#head = 0;
    this.#mask = capacity - 1;
  }
}
