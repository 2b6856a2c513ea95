/**
 * The ready queue: queued jobs in the order workers take them.
 *
 * One FIFO lane per priority. A job's effective level is its own level raised by one for
 * every aging interval it has waited, never above `critical` (`override` jobs stay
 * `override`). Within a lane the head is the oldest job and therefore also the one aged
 * most, so the best job overall is among the five heads: `take` compares them, highest
 * effective level first; at the same effective level the higher own priority, then the lowest
 * `seq` (the order jobs became ready). Every operation is O(1) whatever the number of queued
 * jobs.
 *
 * A job that cannot start now is parked under what blocks it (a block key: `kind:<name>`
 * when its kind's concurrency limit is reached or no handler is registered, `lease:<resource>`
 * when a lease it needs is held), keeping its order, and competes again as soon as that key
 * opens.
 *
 * @module
 */
import type { ReadyEntry } from "../store/types.ts";
import { CRITICAL_LEVEL, OVERRIDE_LEVEL } from "../shared/priority.ts";
import { RingBuffer } from "../shared/ring_buffer.ts";

const LEVELS = OVERRIDE_LEVEL + 1;

/** An entry of the ready queue, with the monotonic time it became ready in this process. */
export interface QueuedEntry extends ReadyEntry {
  /** `performance.now()` when it became ready, for sub-millisecond wait times. */
  readyMono: number;
}

type Lanes = RingBuffer<QueuedEntry>[];

/**
 * At the same effective level, which goes first: the higher own priority (a job aged up to
 * `critical` does not overtake a job that is `critical` itself, so a large aged backlog cannot
 * hold critical work back), then the one that became ready first.
 */
function before(a: QueuedEntry, b: QueuedEntry): boolean {
  return a.level !== b.level ? a.level > b.level : a.seq < b.seq;
}

function newLanes(): Lanes {
  return Array.from({ length: LEVELS }, () => new RingBuffer<QueuedEntry>());
}

/** Queued jobs by priority with aging; see the module doc. */
export class ReadyQueue {
  readonly #lanes: Lanes = newLanes();
  readonly #parked = new Map<string, Lanes>();
  readonly #agingMs: number;
  #parkedSize = 0;

  /** @param agingMs the aging interval; `Infinity` turns aging off */
  constructor(agingMs: number) {
    this.#agingMs = agingMs > 0 ? agingMs : Number.POSITIVE_INFINITY;
  }

  /** Entries in the queue, parked ones included. */
  get size(): number {
    let size = this.#parkedSize;
    for (const lane of this.#lanes) size += lane.size;
    return size;
  }

  /** Entries parked because their kind cannot run now. */
  get parkedSize(): number {
    return this.#parkedSize;
  }

  /** Entries of one priority level, parked ones included. */
  sizeAt(level: number): number {
    let size = this.#lanes[level]!.size;
    for (const lanes of this.#parked.values()) size += lanes[level]!.size;
    return size;
  }

  /** The block keys with parked entries, and how many each. */
  parkedKeys(): Map<string, number> {
    const keys = new Map<string, number>();
    for (const [key, lanes] of this.#parked) {
      keys.set(
        key,
        lanes.reduce((n, lane) => n + lane.size, 0),
      );
    }
    return keys;
  }

  /** The entries parked under `key`, best first. */
  parkedUnder(key: string, now: number): QueuedEntry[] {
    const lanes = this.#parked.get(key);
    if (lanes === undefined) return [];
    return lanes.flatMap((lane) => [...lane]).sort((a, b) =>
      this.effectiveLevel(b, now) - this.effectiveLevel(a, now) || a.seq - b.seq
    );
  }

  /** Adds an entry behind every entry of its level. */
  push(entry: QueuedEntry): void {
    this.#lanes[entry.level]!.push(entry);
  }

  /** The level an entry competes at `now`: its own, raised by aging. */
  effectiveLevel(entry: ReadyEntry, now: number): number {
    if (entry.level >= CRITICAL_LEVEL) return entry.level;
    const raised = entry.level + Math.floor((now - entry.readyAt) / this.#agingMs);
    return raised >= CRITICAL_LEVEL ? CRITICAL_LEVEL : raised > entry.level ? raised : entry.level;
  }

  /**
   * Removes and returns the entry to run next, or `undefined`. An entry `blockKey` names a
   * key for is parked under it on the way; parked entries compete again while `isOpen(key,
   * head)` says their key is open for the group's head.
   */
  take(
    now: number,
    blockKey: (entry: QueuedEntry) => string | null,
    isOpen: (key: string, head: QueuedEntry) => boolean,
  ): QueuedEntry | undefined {
    // Keys found closed during this call: a key reported open whose head still blocks on it
    // is not tried again, so the loop always ends.
    let closed: Set<string> | null = null;
    for (;;) {
      let best: QueuedEntry | undefined;
      let bestLane: RingBuffer<QueuedEntry> | undefined;
      let bestLevel = -1;
      let bestKey: string | null = null;
      for (let level = 0; level < LEVELS; level++) {
        const lane = this.#lanes[level]!;
        const head = lane.peek();
        if (head === undefined) continue;
        const effective = this.effectiveLevel(head, now);
        if (effective > bestLevel || (effective === bestLevel && before(head, best!))) {
          best = head;
          bestLane = lane;
          bestLevel = effective;
          bestKey = null;
        }
      }
      if (this.#parkedSize > 0) {
        for (const [key, lanes] of this.#parked) {
          if (closed?.has(key)) continue;
          for (let level = 0; level < LEVELS; level++) {
            const lane = lanes[level]!;
            const head = lane.peek();
            if (head === undefined) continue;
            const effective = this.effectiveLevel(head, now);
            if (effective > bestLevel || (effective === bestLevel && before(head, best!))) {
              if (!isOpen(key, head)) continue;
              best = head;
              bestLane = lane;
              bestLevel = effective;
              bestKey = key;
            }
          }
        }
      }
      if (best === undefined || bestLane === undefined) return undefined;
      bestLane.shift();
      if (bestKey !== null) {
        this.#parkedSize--;
        this.#dropEmptyParked(bestKey);
      }
      const key = blockKey(best);
      if (key === null) return best;
      if (key === bestKey) (closed ??= new Set()).add(key);
      this.#park(key, best);
    }
  }

  /** Removes the entry with `id` wherever it waits (a cancelled job). Returns whether found. */
  remove(id: string): boolean {
    const drop = (lane: RingBuffer<QueuedEntry>): boolean => {
      const kept = [...lane].filter((e) => e.id !== id);
      if (kept.length === lane.size) return false;
      lane.clear();
      for (const e of kept) lane.push(e);
      return true;
    };
    for (const lane of this.#lanes) if (drop(lane)) return true;
    for (const [key, lanes] of this.#parked) {
      for (const lane of lanes) {
        if (drop(lane)) {
          this.#parkedSize--;
          this.#dropEmptyParked(key);
          return true;
        }
      }
    }
    return false;
  }

  /** Where an entry waits: `null` in a lane, the block key when parked, `undefined` if absent. */
  locate(id: string): string | null | undefined {
    for (const lane of this.#lanes) for (const e of lane) if (e.id === id) return null;
    for (const [key, lanes] of this.#parked) {
      for (const lane of lanes) for (const e of lane) if (e.id === id) return key;
    }
    return undefined;
  }

  /** The oldest ready time (epoch ms) of each level, parked entries included. */
  oldestReadyAt(): (number | null)[] {
    const oldest: (number | null)[] = this.#lanes.map((lane) => lane.peek()?.readyAt ?? null);
    for (const lanes of this.#parked.values()) {
      for (let level = 0; level < LEVELS; level++) {
        const head = lanes[level]!.peek();
        if (head !== undefined && (oldest[level] === null || head.readyAt < oldest[level]!)) {
          oldest[level] = head.readyAt;
        }
      }
    }
    return oldest;
  }

  /** The entries in the order they would be taken if every kind could run, at most `limit`. */
  *peekOrder(now: number): IterableIterator<QueuedEntry> {
    const iterators: Iterator<QueuedEntry>[] = [];
    for (const lane of this.#lanes) iterators.push(lane[Symbol.iterator]());
    for (const lanes of this.#parked.values()) {
      for (const lane of lanes) iterators.push(lane[Symbol.iterator]());
    }
    const heads = iterators.map((it) => it.next());
    for (;;) {
      let bestIndex = -1;
      let bestLevel = -1;
      let bestEntry: QueuedEntry | undefined;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i]!;
        if (head.done) continue;
        const effective = this.effectiveLevel(head.value, now);
        if (effective > bestLevel || (effective === bestLevel && before(head.value, bestEntry!))) {
          bestIndex = i;
          bestLevel = effective;
          bestEntry = head.value;
        }
      }
      if (bestIndex < 0) return;
      const head = heads[bestIndex]!;
      if (head.done) return;
      yield head.value;
      heads[bestIndex] = iterators[bestIndex]!.next();
    }
  }

  /** Removes every entry of one priority level, parked ones included; returns how many. */
  clearLevel(level: number): number {
    let removed = this.#lanes[level]!.size;
    this.#lanes[level]!.clear();
    for (const [key, lanes] of [...this.#parked]) {
      const size = lanes[level]!.size;
      if (size === 0) continue;
      lanes[level]!.clear();
      removed += size;
      this.#parkedSize -= size;
      this.#dropEmptyParked(key);
    }
    return removed;
  }

  /** Removes every entry. */
  clear(): void {
    for (const lane of this.#lanes) lane.clear();
    this.#parked.clear();
    this.#parkedSize = 0;
  }

  #park(key: string, entry: QueuedEntry): void {
    let lanes = this.#parked.get(key);
    if (lanes === undefined) {
      lanes = newLanes();
      this.#parked.set(key, lanes);
    }
    lanes[entry.level]!.push(entry);
    this.#parkedSize++;
  }

  #dropEmptyParked(key: string): void {
    const lanes = this.#parked.get(key);
    if (lanes !== undefined && lanes.every((lane) => lane.size === 0)) this.#parked.delete(key);
  }
}
