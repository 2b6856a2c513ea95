/**
 * Executor metrics: wait and run time histograms (HDR, microsecond resolution), completion
 * rates over the last 1, 10 and 60 seconds, and running totals.
 *
 * @module
 */
import * as hdr from "hdr-histogram-js";
import type { LatencySummary, ThroughputSummary } from "../shared/snapshot.ts";

interface RecordedValues {
  reset(): void;
  hasNext(): boolean;
  next(): { valueIteratedTo: number; countAtValueIteratedTo: number };
}

const MAX_TRACKABLE_US = 7 * 24 * 3_600 * 1_000_000;

/** A latency histogram in microseconds, summarised in milliseconds. */
export class LatencyHistogram {
  #histogram = hdr.build({
    bitBucketSize: 64,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  /** Records one duration in milliseconds. */
  record(ms: number): void {
    const us = ms <= 0 ? 0 : ms * 1_000;
    this.#histogram.recordValue(us >= MAX_TRACKABLE_US ? MAX_TRACKABLE_US : Math.round(us));
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  /** The value at a percentile, in milliseconds. */
  percentile(p: number): number {
    return this.#histogram.getValueAtPercentile(p) / 1_000;
  }

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

  reset(): void {
    this.#histogram.reset();
  }
}

/** Completions per second over sliding windows, from 60 one-second buckets. */
export class RateCounter {
  #stamps = new Float64Array(60).fill(-1);
  #counts = new Float64Array(60);
  #startedAt: number;

  constructor(now: number) {
    this.#startedAt = now;
  }

  /** Counts `n` events at `now` (epoch ms). */
  add(now: number, n = 1): void {
    const second = Math.floor(now / 1_000);
    const index = second % 60;
    if (this.#stamps[index] !== second) {
      this.#stamps[index] = second;
      this.#counts[index] = 0;
    }
    this.#counts[index]! += n;
  }

  /** Events per second over the last `windowSeconds` (1 to 60). */
  rate(windowSeconds: number, now: number): number {
    const second = Math.floor(now / 1_000);
    let sum = 0;
    for (let i = 0; i < 60; i++) {
      const stamp = this.#stamps[i]!;
      if (stamp > second - windowSeconds && stamp <= second) sum += this.#counts[i]!;
    }
    const covered = Math.min(
      windowSeconds - 1 + (now % 1_000) / 1_000,
      (now - this.#startedAt) / 1_000,
    );
    return covered <= 0 ? 0 : sum / Math.max(covered, 0.001);
  }

  /** Counts of each of the last 60 whole seconds, oldest first (the current second last). */
  series(now: number): number[] {
    const second = Math.floor(now / 1_000);
    const out = new Array<number>(60).fill(0);
    for (let i = 0; i < 60; i++) {
      const stamp = this.#stamps[i]!;
      const age = second - stamp;
      if (stamp >= 0 && age >= 0 && age < 60) out[59 - age] = this.#counts[i]!;
    }
    return out;
  }

  summary(now: number): ThroughputSummary {
    return {
      perSecond1s: round(this.rate(1, now)),
      perSecond10s: round(this.rate(10, now)),
      perSecond60s: round(this.rate(60, now)),
      lastMinute: this.series(now),
    };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
