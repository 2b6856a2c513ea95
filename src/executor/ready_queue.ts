/**
 * The ready queue: queued jobs in the order workers take them.
 *
 * One FIFO lane per priority. A job's effective level is its own level raised by one for
 * every aging interval it has waited, never above `critical` (`override` jobs stay
 * `override`). Within a lane the head is the oldest job and therefore also the one aged
 * most, so the best job overall is among the five heads: `take` compares them, highest
 * effective level first, then the lowest `seq` (the order jobs became ready). Every
 * operation is O(1) whatever the number of queued jobs.
 *
 * A job whose kind cannot run now (its concurrency limit is reached, or no handler is
 * registered) is parked in lanes of its kind, keeping its order, and competes again as soon
 * as its kind can run.
 *
 * @module
 */
import type { ReadyEntry } from "../store/types.ts";
import { CRITICAL_LEVEL, OVERRIDE_LEVEL } from "../shared/priority.ts";
import { RingBuffer } from "./ring_buffer.ts";

const LEVELS = OVERRIDE_LEVEL + 1;

/** An entry of the ready queue, with the monotonic time it became ready in this process. */
export interface QueuedEntry extends ReadyEntry {
  /** `performance.now()` when it became ready, for sub-millisecond wait times. */
  readyMono: number;
}

type Lanes = RingBuffer<QueuedEntry>[];

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

  /** The kinds with parked entries, and how many each. */
  parkedKinds(): Map<string, number> {
    const kinds = new Map<string, number>();
    for (const [kind, lanes] of this.#parked) {
      kinds.set(
        kind,
        lanes.reduce((n, lane) => n + lane.size, 0),
      );
    }
    return kinds;
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
   * Removes and returns the entry to run next, or `undefined`. Entries whose kind fails
   * `canRun` are parked on the way; parked entries of kinds that can run compete as well.
   */
  take(now: number, canRun: (kind: string) => boolean): QueuedEntry | undefined {
    for (;;) {
      let best: QueuedEntry | undefined;
      let bestLane: RingBuffer<QueuedEntry> | undefined;
      let bestLevel = -1;
      let bestParked = false;
      for (let level = 0; level < LEVELS; level++) {
        const lane = this.#lanes[level]!;
        const head = lane.peek();
        if (head === undefined) continue;
        const effective = this.effectiveLevel(head, now);
        if (effective > bestLevel || (effective === bestLevel && head.seq < best!.seq)) {
          best = head;
          bestLane = lane;
          bestLevel = effective;
        }
      }
      if (this.#parkedSize > 0) {
        for (const [kind, lanes] of this.#parked) {
          if (!canRun(kind)) continue;
          for (let level = 0; level < LEVELS; level++) {
            const lane = lanes[level]!;
            const head = lane.peek();
            if (head === undefined) continue;
            const effective = this.effectiveLevel(head, now);
            if (effective > bestLevel || (effective === bestLevel && head.seq < best!.seq)) {
              best = head;
              bestLane = lane;
              bestLevel = effective;
              bestParked = true;
            }
          }
        }
      }
      if (best === undefined || bestLane === undefined) return undefined;
      bestLane.shift();
      if (bestParked) {
        this.#parkedSize--;
        this.#dropEmptyParked(best.kind);
        return best;
      }
      if (canRun(best.kind)) return best;
      this.#park(best);
    }
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
      let bestSeq = Number.POSITIVE_INFINITY;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i]!;
        if (head.done) continue;
        const effective = this.effectiveLevel(head.value, now);
        if (effective > bestLevel || (effective === bestLevel && head.value.seq < bestSeq)) {
          bestIndex = i;
          bestLevel = effective;
          bestSeq = head.value.seq;
        }
      }
      if (bestIndex < 0) return;
      const head = heads[bestIndex]!;
      if (head.done) return;
      yield head.value;
      heads[bestIndex] = iterators[bestIndex]!.next();
    }
  }

  /** Removes every entry. */
  clear(): void {
    for (const lane of this.#lanes) lane.clear();
    this.#parked.clear();
    this.#parkedSize = 0;
  }

  #park(entry: QueuedEntry): void {
    let lanes = this.#parked.get(entry.kind);
    if (lanes === undefined) {
      lanes = newLanes();
      this.#parked.set(entry.kind, lanes);
    }
    lanes[entry.level]!.push(entry);
    this.#parkedSize++;
  }

  #dropEmptyParked(kind: string): void {
    const lanes = this.#parked.get(kind);
    if (lanes !== undefined && lanes.every((lane) => lane.size === 0)) this.#parked.delete(kind);
  }
}
