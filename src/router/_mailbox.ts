/**
 * A mailbox: the queue of one endpoint or subscription, and what the router hands it.
 *
 * One bounded FIFO lane per priority. A message's effective level is its own level raised by
 * one per aging interval it has waited, by at most `maxRaises`, never above `critical`
 * (`override` stays `override`). Within a lane the head is the oldest message and therefore
 * the most aged, so the next message overall is among the five heads: `take` compares them,
 * highest effective level first, then the lowest `seq` (the order messages entered the
 * mailbox). Every operation is O(1) whatever the depth.
 *
 * A lane is full at its `capacity` of queued messages; sends then wait for room in a FIFO of
 * their own per lane, or are refused, by the lane's policy. A redelivered message goes back
 * to the head of its lane even when the lane is full (it was admitted once already).
 * Messages that expire in place stay in their lane as tombstones until they reach its head.
 *
 * @module
 */
import { CRITICAL_LEVEL, OVERRIDE_LEVEL, PRIORITIES } from "../shared/priority.ts";
import type { MailboxSnapshot, ReceiveMode } from "../shared/router_snapshot.ts";
import type { Envelope, RouterCore } from "./_envelope.ts";
import { RingBuffer } from "../shared/ring_buffer.ts";
import type { TopicPattern } from "./_names.ts";
import type { Subscription } from "./endpoint.ts";
import type { Message, MessageHandler } from "./message.ts";
import type { ResolvedMailboxLimit } from "./options.ts";

const LEVELS = OVERRIDE_LEVEL + 1;

type Puller = (result: IteratorResult<Message, undefined>) => void;

/** An endpoint's or subscription's mailbox; handed to users as an `Endpoint`/`Subscription`. */
export class Mailbox implements Subscription {
  readonly lanes: RingBuffer<Envelope>[] = Array.from(
    { length: LEVELS },
    () => new RingBuffer<Envelope>(8),
  );
  /** Queued (live) messages per level. */
  readonly depth: number[] = [0, 0, 0, 0, 0];
  /** Queued messages in all lanes. */
  queued = 0;
  /** Sends waiting for room, per level (their FIFO may hold stale entries). */
  readonly roomWaiters: RingBuffer<Envelope>[] = Array.from(
    { length: LEVELS },
    () => new RingBuffer<Envelope>(8),
  );
  readonly waiting: number[] = [0, 0, 0, 0, 0];
  /** Messages handed over and not settled, beyond a synchronous handler call. */
  readonly inFlight = new Set<Envelope>();
  /** Handler calls under way. */
  running = 0;
  /** Pending `next()` calls of iterators. */
  readonly pullers = new RingBuffer<Puller>(8);
  /** In the router's dispatch list. */
  scheduled = false;
  #closed = false;
  /** The effective level minus the own level of the last message taken. */
  lastRaises = 0;
  // Counters since registration.
  sent = 0;
  delivered = 0;
  acked = 0;
  redelivered = 0;
  expired = 0;
  rejected = 0;
  dead = 0;

  constructor(
    readonly core: RouterCore,
    readonly name: string,
    readonly kind: "endpoint" | "subscription",
    readonly topic: TopicPattern | null,
    readonly handler: MessageHandler | null,
    readonly concurrency: number,
    readonly limits: readonly ResolvedMailboxLimit[],
  ) {}

  get pattern(): string {
    return this.topic?.source ?? this.name;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get mode(): ReceiveMode {
    return this.handler === null ? "iterator" : "handler";
  }

  /** Whether it can be handed a message now. */
  get ready(): boolean {
    return this.queued > 0 &&
      (this.handler === null ? this.pullers.size > 0 : this.running < this.concurrency);
  }

  /** Marks it closed; the router does the rest. */
  markClosed(): void {
    this.#closed = true;
  }

  close(): void {
    this.core.closeMailbox(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message, undefined, undefined> {
    const iterator: AsyncIterableIterator<Message, undefined, undefined> = {
      next: () => this.core.pull(this),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Whether a new message of `level` can be queued now (room, and nobody waits before it). */
  hasRoom(level: number): boolean {
    return this.depth[level]! < this.limits[level]!.capacity && this.waiting[level] === 0;
  }

  /** Queues a message behind the others of its level. */
  push(envelope: Envelope, now: number, seq: number): void {
    envelope.state = "queued";
    envelope.queuedAt = now;
    envelope.seq = seq;
    this.lanes[envelope.level]!.push(envelope);
    this.depth[envelope.level]!++;
    this.queued++;
  }

  /** Puts a message back at the head of its lane, keeping its place and age. */
  requeue(envelope: Envelope): void {
    envelope.state = "queued";
    this.lanes[envelope.level]!.unshift(envelope);
    this.depth[envelope.level]!++;
    this.queued++;
  }

  /** A queued message left its lane in place (expired): count it out of the lane. */
  dropQueued(level: number): void {
    this.depth[level]!--;
    this.queued--;
  }

  /**
   * Removes and returns the message to hand over next, or `undefined`; sets
   * {@link lastRaises}.
   */
  take(now: number, agingMs: number, maxRaises: number): Envelope | undefined {
    let best: Envelope | undefined;
    let bestLane = -1;
    let bestLevel = -1;
    for (let level = LEVELS - 1; level >= 0; level--) {
      if (this.depth[level] === 0) continue;
      const lane = this.lanes[level]!;
      let head = lane.peek();
      while (head !== undefined && head.state !== "queued") {
        lane.shift();
        head = lane.peek();
      }
      if (head === undefined) continue;
      let effective = level;
      if (level < CRITICAL_LEVEL && maxRaises > 0) {
        const raised = Math.floor((now - head.queuedAt) / agingMs);
        if (raised > 0) {
          effective = level + (raised < maxRaises ? raised : maxRaises);
          if (effective > CRITICAL_LEVEL) effective = CRITICAL_LEVEL;
        }
      }
      if (effective > bestLevel || (effective === bestLevel && head.seq < best!.seq)) {
        best = head;
        bestLane = level;
        bestLevel = effective;
      }
    }
    if (best === undefined) return undefined;
    this.lanes[bestLane]!.shift();
    this.depth[bestLane]!--;
    this.queued--;
    this.lastRaises = bestLevel - bestLane;
    return best;
  }

  /**
   * Every queued message, emptying the lanes. The counts stay: the caller moves each
   * message to a final state, which counts it out.
   */
  drainQueued(): Envelope[] {
    const out: Envelope[] = [];
    for (const lane of this.lanes) {
      for (const envelope of lane.drain()) if (envelope.state === "queued") out.push(envelope);
    }
    return out;
  }

  /** Every send waiting for room, emptying the FIFOs; the counts stay, as above. */
  drainWaiting(): Envelope[] {
    const out: Envelope[] = [];
    for (const lane of this.roomWaiters) {
      for (const envelope of lane.drain()) if (envelope.state === "waiting") out.push(envelope);
    }
    return out;
  }

  /** Its part of the router snapshot. */
  snapshot(): MailboxSnapshot {
    const depth = Object.fromEntries(PRIORITIES.map((p, level) => [p, this.depth[level]!]));
    return {
      name: this.name,
      kind: this.kind,
      pattern: this.topic?.source ?? null,
      mode: this.mode,
      closed: this.#closed,
      depth: depth as MailboxSnapshot["depth"],
      waiting: this.waiting.reduce((a, b) => a + b, 0),
      inFlight: this.inFlight.size,
      sent: this.sent,
      delivered: this.delivered,
      acked: this.acked,
      redelivered: this.redelivered,
      expired: this.expired,
      rejected: this.rejected,
      dead: this.dead,
    };
  }
}
