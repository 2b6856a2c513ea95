/**
 * A latency histogram (HDR, microsecond resolution, through `hdr-histogram-js`), recorded and
 * summarised in milliseconds. The executor times waits and runs with it, the router deliveries.
 *
 * @module
 */
import * as hdr from "hdr-histogram-js";
import type { LatencySummary } from "./snapshot.ts";

interface RecordedValues {
  reset(): void;
  hasNext(): boolean;
  next(): { valueIteratedTo: number; countAtValueIteratedTo: number };
}

/** The longest duration a histogram tells apart unless told otherwise: 7 days. */
export const DEFAULT_HIGHEST_TRACKABLE_MS = 7 * 24 * 3_600 * 1_000;

/** A latency histogram in microseconds, summarised in milliseconds. */
export class LatencyHistogram {
  readonly #maxUs: number;
  readonly #histogram;

  /**
   * @param highestTrackableMs longer durations are recorded as this (a smaller range keeps
   *   the histogram smaller)
   */
  constructor(highestTrackableMs: number = DEFAULT_HIGHEST_TRACKABLE_MS) {
    this.#maxUs = highestTrackableMs * 1_000;
    this.#histogram = hdr.build({
      bitBucketSize: 64,
      lowestDiscernibleValue: 1,
      highestTrackableValue: this.#maxUs,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
  }

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    const us = ms <= 0 ? 0 : ms * 1_000;
    this.#histogram.recordValue(us >= this.#maxUs ? this.#maxUs : Math.round(us));
  }

  /** How many durations it holds. */
  get count(): number {
    return this.#histogram.totalCount;
  }

  /** The value at a percentile (0 to 100), in milliseconds. */
  percentile(p: number): number {
    return this.#histogram.getValueAtPercentile(p) / 1_000;
  }

  /** Count, percentiles, max and mean in milliseconds. */
  summary(): LatencySummary {
    const h = this.#histogram;
    if (h.totalCount === 0) {
      return { count: 0, p50: null, p95: null, p99: null, max: null, mean: null };
    }
    return {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50) / 1_000,
      p95: h.getValueAtPercentile(95) / 1_000,
      p99: h.getValueAtPercentile(99) / 1_000,
      max: h.maxValue / 1_000,
      mean: h.mean / 1_000,
    };
  }

  /**
   * Cumulative counts at the given upper bounds (ms), for a Prometheus histogram; the last
   * is the total count.
   */
  cumulative(boundsMs: readonly number[]): number[] {
    const counts = new Array<number>(boundsMs.length).fill(0);
    // hdr-histogram-js keeps this iterator on the JS histogram but leaves it out of its types.
    const iterator = (this.#histogram as unknown as { recordedValuesIterator?: RecordedValues })
      .recordedValuesIterator;
    if (iterator === undefined) return counts;
    iterator.reset();
    while (iterator.hasNext()) {
      const step = iterator.next();
      const ms = step.valueIteratedTo / 1_000;
      for (let i = 0; i < boundsMs.length; i++) {
        if (ms <= boundsMs[i]!) counts[i]! += step.countAtValueIteratedTo;
      }
    }
    return counts;
  }

  /** Forgets every duration. */
  reset(): void {
    this.#histogram.reset();
  }
}
