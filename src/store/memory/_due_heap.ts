/**
 * A binary min-heap of (run-at, id) pairs: the memory store's index of scheduled jobs.
 * Entries go stale when their job is cancelled or moved; readers check the job's state.
 *
 * @module
 */

/** One scheduled job in the heap. */
export interface DueItem {
  runAt: number;
  id: string;
}

/** A min-heap ordered by `runAt`. */
export class DueHeap {
  #items: DueItem[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: DueItem): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.runAt <= item.runAt) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  peek(): DueItem | undefined {
    return this.#items[0];
  }

  pop(): DueItem | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && items[right]!.runAt < items[left]!.runAt ? right : left;
      if (items[child]!.runAt >= last.runAt) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
