/**
 * Retention: finished jobs are kept for a time and up to a count (defaults 7 days and
 * 100,000), then pruned in the background in small batches, yielding between batches so
 * workers are never held up.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Duration, parseDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { JobStore } from "../store/types.ts";

const log = getLogger(["liminal", "retention"]);

/** How long and how many finished jobs to keep. */
export interface RetentionOptions {
  /** Finished jobs older than this are pruned. @default "7d" */
  maxAge?: Duration;
  /** At most this many finished jobs are kept (the newest). @default 100_000 */
  maxCount?: number;
  /** Time between sweeps. @default "1m" */
  interval?: Duration;
  /** Jobs removed per batch. @default 500 */
  batch?: number;
}

/** {@link RetentionOptions} resolved. */
export interface RetentionPolicy {
  maxAgeMs: number;
  maxCount: number;
  intervalMs: number;
  batch: number;
}

/** Applies defaults and checks the options. */
export function resolveRetention(options: RetentionOptions = {}): RetentionPolicy {
  const maxCount = options.maxCount ?? 100_000;
  if (!Number.isInteger(maxCount) || maxCount < 0) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid retention count ${maxCount}: use a whole number of at least 0`,
    );
  }
  const batch = options.batch ?? 500;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid retention batch ${batch}: use a whole number of at least 1`,
    );
  }
  const intervalMs = parseDuration(options.interval ?? "1m", "retention interval");
  if (intervalMs <= 0) {
    throw new LiminalError("INVALID_DURATION", "the retention interval must be longer than 0");
  }
  return {
    maxAgeMs: parseDuration(options.maxAge ?? "7d", "retention age"),
    maxCount,
    intervalMs,
    batch,
  };
}

/** Prunes finished jobs in small batches until none is due; resolves with how many. */
export async function pruneInBatches(
  store: JobStore,
  options: { finishedBefore?: number; keep?: number; batch: number },
  signal?: AbortSignal,
): Promise<number> {
  let total = 0;
  for (;;) {
    if (signal?.aborted) return total;
    const removed = await store.prune({
      ...(options.finishedBefore === undefined ? {} : { finishedBefore: options.finishedBefore }),
      ...(options.keep === undefined ? {} : { keep: options.keep }),
      limit: options.batch,
    });
    total += removed;
    if (removed < options.batch) return total;
    // Let workers and requests run between batches.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Sweeps a store on an interval while the runtime runs. */
export class RetentionSweeper {
  readonly #store: JobStore;
  readonly #policy: RetentionPolicy;
  readonly #clock: () => number;
  readonly #stop = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sweeping: Promise<void> | null = null;

  constructor(store: JobStore, policy: RetentionPolicy, clock: () => number = Date.now) {
    this.#store = store;
    this.#policy = policy;
    this.#clock = clock;
  }

  /** Starts sweeping: the first sweep a few seconds after start, then every interval. */
  start(): void {
    this.#schedule(Math.min(5_000, this.#policy.intervalMs));
  }

  /** One sweep now. Resolves with how many jobs were removed. */
  async sweep(): Promise<number> {
    const removed = await pruneInBatches(this.#store, {
      finishedBefore: this.#clock() - this.#policy.maxAgeMs,
      keep: this.#policy.maxCount,
      batch: this.#policy.batch,
    }, this.#stop.signal);
    if (removed > 0) log.info("retention: pruned {removed} finished job(s)", { removed });
    return removed;
  }

  /** Stops sweeping and waits for a sweep under way. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#sweeping?.catch(() => {});
  }

  #schedule(delay: number): void {
    if (this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sweeping = this.sweep().then(
        () => {},
        (error) => log.warn("retention sweep failed: {error}", { error: errorMessage(error) }),
      ).finally(() => {
        this.#sweeping = null;
        this.#schedule(this.#policy.intervalMs);
      });
    }, delay);
  }
}
