/**
 * Router metrics: delivery latency histograms (HDR, microsecond resolution) and event rates
 * over the last 1 and 10 seconds.
 *
 * (The executor keeps metrics of its own; a part never imports a sibling's internals.)
 *
 * @module
 */
import * as hdr from "hdr-histogram-js";
import type { LatencySummary } from "../shared/snapshot.ts";
import type { RouterRate } from "../shared/router_snapshot.ts";

const MAX_TRACKABLE_US = 24 * 3_600 * 1_000_000;

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
}

const WINDOW_SECONDS = 10;

/** Events per second over the last 1 and 10 seconds, from ten one-second buckets. */
export class RateCounter {
  #stamps = new Float64Array(WINDOW_SECONDS).fill(-1);
  #counts = new Float64Array(WINDOW_SECONDS);
  #startedAt: number;
  /** The bucket being filled, and the epoch ms its second spans. */
  #index = 0;
  #from = 0;
  #until = Number.NEGATIVE_INFINITY;

  constructor(now: number) {
    this.#startedAt = now;
  }

  /** Counts `n` events at `now` (epoch ms). */
  add(now: number, n = 1): void {
    if (now >= this.#until || now < this.#from) {
      const second = Math.floor(now / 1_000);
      this.#index = second % WINDOW_SECONDS;
      this.#from = second * 1_000;
      this.#until = this.#from + 1_000;
      if (this.#stamps[this.#index] !== second) {
        this.#stamps[this.#index] = second;
        this.#counts[this.#index] = 0;
      }
    }
    this.#counts[this.#index]! += n;
  }

  /** Events per second over the last `windowSeconds` (1 to 10). */
  rate(windowSeconds: number, now: number): number {
    const second = Math.floor(now / 1_000);
    let sum = 0;
    for (let i = 0; i < WINDOW_SECONDS; i++) {
      const stamp = this.#stamps[i]!;
      if (stamp > second - windowSeconds && stamp <= second) sum += this.#counts[i]!;
    }
    const covered = Math.min(
      windowSeconds - 1 + (now % 1_000) / 1_000,
      (now - this.#startedAt) / 1_000,
    );
    return covered <= 0 ? 0 : sum / Math.max(covered, 0.001);
  }

  /** Both rates, rounded to hundredths. */
  summary(now: number): RouterRate {
    return { perSecond1s: round(this.rate(1, now)), perSecond10s: round(this.rate(10, now)) };
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
