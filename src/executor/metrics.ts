/**
 * Executor metrics: wait and run time histograms and completion rates over the last 1, 10
 * and 60 seconds, on the shared {@link LatencyHistogram} and rate counter.
 *
 * @module
 */
import { RateCounter as SecondsCounter, roundRate } from "../shared/rate_counter.ts";
import type { ThroughputSummary } from "../shared/snapshot.ts";

export { LatencyHistogram } from "../shared/latency_histogram.ts";

/** Completions per second over the last minute, summarised the way executor snapshots show it. */
export class RateCounter extends SecondsCounter {
  constructor(now: number) {
    super(now, 60);
  }

  /** Rates over 1, 10 and 60 seconds and the last minute's per-second counts. */
  summary(now: number): ThroughputSummary {
    return {
      perSecond1s: roundRate(this.rate(1, now)),
      perSecond10s: roundRate(this.rate(10, now)),
      perSecond60s: roundRate(this.rate(60, now)),
      lastMinute: this.series(now),
    };
  }
}
