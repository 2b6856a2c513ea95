/**
 * The baseline the router is measured against (`router_bench.ts`, `router_flood.ts`): a bare
 * async FIFO channel.
 *
 * @module
 */

/** A FIFO channel: an array of items and at most one waiting receiver. */
export class Channel<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ((item: T) => void) | null = null;

  /** Hands `item` to the waiting receiver, or queues it. */
  send(item: T): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter(item);
    } else {
      this.#items.push(item);
    }
  }

  /** The next item, when there is one. */
  receive(): Promise<T> {
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head++]!;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve(item);
    }
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  /** Items queued. */
  get size(): number {
    return this.#items.length - this.#head;
  }
}
