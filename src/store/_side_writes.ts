/**
 * The batching of progress and log writes, written once. No caller waits on them, so the
 * durable stores group-commit them: the first write arms a timer of
 * {@link SIDE_WRITE_DELAY_MS}, and the store writes the whole batch when it fires, or
 * sooner, before its next write (so a settle never overtakes its job's last progress).
 * Progress keeps only the last report per job; log lines keep their order.
 *
 * @module
 */
import type { JobLogLine, JobProgress } from "../shared/job.ts";

/** Progress and log writes wait at most this long to be group-committed. */
export const SIDE_WRITE_DELAY_MS = 100;

/** Timer functions (the Postgres store's own timers may follow real time under a fake clock). */
export interface BatchTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const GLOBAL_TIMERS: BatchTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One batch of progress and log writes. */
export interface SideWriteBatch {
  /** The last progress per job, in the order the jobs first reported. */
  progress: Map<string, JobProgress>;
  /** Log lines in the order they were appended. */
  logs: { id: string; line: JobLogLine }[];
}

/** Pending progress and log writes, and the timer that flushes them. */
export class SideWrites {
  #batch: SideWriteBatch = { progress: new Map(), logs: [] };
  #timer: unknown;
  readonly #onDue: () => void;
  readonly #timers: BatchTimers;

  /** `onDue` runs when the batch is due (the store then {@link take}s and writes it). */
  constructor(onDue: () => void, timers: BatchTimers = GLOBAL_TIMERS) {
    this.#onDue = onDue;
    this.#timers = timers;
  }

  /** Whether writes wait. */
  get pending(): boolean {
    return this.#batch.progress.size > 0 || this.#batch.logs.length > 0;
  }

  /** Records `progress` for job `id` (replacing a pending one) and arms the timer. */
  progress(id: string, progress: JobProgress): void {
    this.#batch.progress.set(id, progress);
    this.#arm();
  }

  /** Queues a log line of job `id` and arms the timer. */
  log(id: string, line: JobLogLine): void {
    this.#batch.logs.push({ id, line });
    this.#arm();
  }

  /** Hands out the pending batch (empty afterwards) and disarms the timer. */
  take(): SideWriteBatch {
    this.disarm();
    const batch = this.#batch;
    this.#batch = { progress: new Map(), logs: [] };
    return batch;
  }

  /** Stops the timer (the batch stays). */
  disarm(): void {
    if (this.#timer === undefined) return;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#onDue();
    }, SIDE_WRITE_DELAY_MS);
  }
}
