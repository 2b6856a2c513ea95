/**
 * Events per second over sliding windows, from one bucket per second: the executor counts
 * completions and failures over the last minute, the router sends and deliveries over the
 * last ten seconds.
 *
 * @module
 */

/** Events per second over the last `windowSeconds`, from one-second buckets. */
export class RateCounter {
  readonly #window: number;
  readonly #stamps: Float64Array;
  readonly #counts: Float64Array;
  readonly #startedAt: number;
  /** The bucket being filled, and the epoch ms its second spans. */
  #index = 0;
  #from = 0;
  #until = Number.NEGATIVE_INFINITY;

  /**
   * @param now epoch ms it starts counting at (rates cover no more than the time since)
   * @param windowSeconds how many seconds back it can tell (one bucket each)
   */
  constructor(now: number, windowSeconds = 60) {
    this.#window = windowSeconds;
    this.#stamps = new Float64Array(windowSeconds).fill(-1);
    this.#counts = new Float64Array(windowSeconds);
    this.#startedAt = now;
  }

  /** How many seconds back it can tell. */
  get windowSeconds(): number {
    return this.#window;
  }

  /** Counts `n` events at `now` (epoch ms). */
  add(now: number, n = 1): void {
    if (now >= this.#until || now < this.#from) {
      const second = Math.floor(now / 1_000);
      this.#index = second % this.#window;
      this.#from = second * 1_000;
      this.#until = this.#from + 1_000;
      if (this.#stamps[this.#index] !== second) {
        this.#stamps[this.#index] = second;
        this.#counts[this.#index] = 0;
      }
    }
    this.#counts[this.#index]! += n;
  }

  /** Events per second over the last `windowSeconds` (1 to the counter's window). */
  rate(windowSeconds: number, now: number): number {
    const second = Math.floor(now / 1_000);
    let sum = 0;
    for (let i = 0; i < this.#window; i++) {
      const stamp = this.#stamps[i]!;
      if (stamp > second - windowSeconds && stamp <= second) sum += this.#counts[i]!;
    }
    const covered = Math.min(
      windowSeconds - 1 + (now % 1_000) / 1_000,
      (now - this.#startedAt) / 1_000,
    );
    return covered <= 0 ? 0 : sum / Math.max(covered, 0.001);
  }

  /** Counts of each second of the window, oldest first (the current second last). */
  series(now: number): number[] {
    const window = this.#window;
    const second = Math.floor(now / 1_000);
    const out = new Array<number>(window).fill(0);
    for (let i = 0; i < window; i++) {
      const stamp = this.#stamps[i]!;
      const age = second - stamp;
      if (stamp >= 0 && age >= 0 && age < window) out[window - 1 - age] = this.#counts[i]!;
    }
    return out;
  }
}

/** A rate rounded to hundredths, as snapshots show it. */
export function roundRate(value: number): number {
  return Math.round(value * 100) / 100;
}
