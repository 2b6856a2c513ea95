/**
 * Batches: the jobs one enqueue call created, kept by the control server under a batch id so
 * that `POST /v1/jobs/wait { "batch": … }` follows them without the client sending every id
 * again (an `enqueue --count 30000 --wait` would not fit in a request body).
 *
 * A batch is followed on its first wait: one executor waiter per job, settled as each job
 * ends (on this node or, with a shared store, on another), so a poll costs nothing per job.
 * Batches live in memory: at most {@link MAX_BATCHES} of them and {@link MAX_BATCH_IDS} ids
 * in all; the oldest go first, and one nobody waited on for {@link BATCH_IDLE_MS} goes at
 * the next enqueue.
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { type JobSnapshot, type JobState, toJobSnapshot } from "../shared/job.ts";
import type { JobRecord } from "../shared/job.ts";

/** The most batches kept. */
export const MAX_BATCHES = 256;
/** The most job ids kept over all batches. */
export const MAX_BATCH_IDS = 1_000_000;
/** A batch nobody waited on for this long is dropped. */
export const BATCH_IDLE_MS = 10 * 60_000;
/** Batches up to this size get their jobs in every wait answer (progress); larger only at the end. */
export const BATCH_JOBS_INLINE = 100;

/** What one wait on a batch answers. */
export interface BatchWaitResult {
  batch: string;
  /** Every job is final (or gone). */
  done: boolean;
  total: number;
  finished: number;
  /** Final jobs by state. */
  states: Partial<Record<JobState, number>>;
  /** Jobs removed from the store (pruned) before they were seen final. */
  missing: number;
  /** The jobs, in enqueue order: at the end, or in every answer for a small batch. */
  jobs: JobSnapshot[] | null;
}

interface Waiter {
  waitFor(id: string, signal?: AbortSignal): Promise<JobRecord>;
}

/** Where the jobs are read: the store, through the control target. */
interface JobReader {
  get(id: string): Promise<JobRecord | null>;
}

class Batch {
  readonly ids: readonly string[];
  readonly pending: Set<string>;
  readonly records = new Map<string, JobRecord>();
  readonly missing = new Set<string>();
  readonly stop = new AbortController();
  usedAt = Date.now();
  #settled: PromiseWithResolvers<void> | null = null;
  #following = false;

  constructor(ids: readonly string[]) {
    this.ids = ids;
    this.pending = new Set(ids);
  }

  follow(waiter: Waiter, live: AbortSignal): void {
    if (this.#following) return;
    this.#following = true;
    const signal = AbortSignal.any([this.stop.signal, live]);
    for (const id of this.pending) {
      waiter.waitFor(id, signal).then((record) => {
        this.records.set(id, record);
        this.#end(id);
      }, (error) => {
        if (error instanceof LiminalError && error.code === "JOB_NOT_FOUND") {
          this.missing.add(id);
          this.#end(id);
        }
        // Aborted (the batch dropped or the server closing): the waits answer "not done".
      });
    }
  }

  /** Resolves when every job has ended or `signal` aborts. */
  settled(signal: AbortSignal): Promise<void> {
    if (this.pending.size === 0 || signal.aborted) return Promise.resolve();
    this.#settled ??= Promise.withResolvers<void>();
    const { promise } = this.#settled;
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      void promise.then(done);
    });
  }

  #end(id: string): void {
    if (!this.pending.delete(id)) return;
    if (this.pending.size === 0) this.#settled?.resolve();
  }
}

/** The batches of one control server. */
export class BatchWatches {
  readonly #batches = new Map<string, Batch>();
  readonly #waiter: Waiter;
  readonly #store: JobReader;
  readonly #live: AbortSignal;
  #ids = 0;

  constructor(waiter: Waiter, store: JobReader, live: AbortSignal) {
    this.#waiter = waiter;
    this.#store = store;
    this.#live = live;
  }

  /** Batches kept now. */
  get size(): number {
    return this.#batches.size;
  }

  /** Keeps the ids of one enqueue; returns the batch id. */
  add(ids: readonly string[]): string {
    const unique = [...new Set(ids)];
    this.#sweep(unique.length);
    const id = newId();
    this.#batches.set(id, new Batch(unique));
    this.#ids += unique.length;
    return id;
  }

  /** Holds until every job of the batch is final, `timeoutMs` passes or the server closes. */
  async wait(batchId: string, timeoutMs: number): Promise<BatchWaitResult> {
    const batch = this.#batches.get(batchId);
    if (batch === undefined) {
      throw new LiminalError(
        "NOT_FOUND",
        `no batch ${batchId} on this runtime (it restarted, or the batch was dropped)`,
        { hint: "follow the jobs by id: POST /v1/jobs/wait { ids }" },
      );
    }
    batch.usedAt = Date.now();
    batch.follow(this.#waiter, this.#live);
    if (batch.pending.size > 0 && timeoutMs > 0 && !this.#live.aborted) {
      const stop = new AbortController();
      const timer = setTimeout(() => stop.abort(), timeoutMs);
      try {
        await batch.settled(AbortSignal.any([stop.signal, this.#live]));
      } finally {
        clearTimeout(timer);
      }
    }
    batch.usedAt = Date.now();
    const done = batch.pending.size === 0;
    const states: Partial<Record<JobState, number>> = {};
    for (const record of batch.records.values()) {
      states[record.state] = (states[record.state] ?? 0) + 1;
    }
    let jobs: JobSnapshot[] | null = null;
    if (done) {
      jobs = batch.ids.flatMap((id) => {
        const record = batch.records.get(id);
        return record === undefined ? [] : [toJobSnapshot(record)];
      });
    } else if (batch.ids.length <= BATCH_JOBS_INLINE) {
      const records = await Promise.all(batch.ids.map((id) => this.#store.get(id)));
      jobs = records.flatMap((r) => (r === null ? [] : [toJobSnapshot(r)]));
    }
    return {
      batch: batchId,
      done,
      total: batch.ids.length,
      finished: batch.ids.length - batch.pending.size,
      states,
      missing: batch.missing.size,
      jobs,
    };
  }

  /** Drops every batch and its waiters. */
  close(): void {
    for (const batch of this.#batches.values()) batch.stop.abort();
    this.#batches.clear();
    this.#ids = 0;
  }

  /** Drops idle batches, then the oldest until `room` more ids fit. */
  #sweep(room: number): void {
    const now = Date.now();
    for (const [id, batch] of this.#batches) {
      const over = this.#batches.size >= MAX_BATCHES || this.#ids + room > MAX_BATCH_IDS;
      if (!over && now - batch.usedAt < BATCH_IDLE_MS) continue;
      batch.stop.abort();
      this.#batches.delete(id);
      this.#ids -= batch.ids.length;
    }
  }
}
