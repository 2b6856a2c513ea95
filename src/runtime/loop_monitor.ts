/**
 * Event-loop lag: how late a 100 ms timer fires, the way tokio-console's "poll time" shows a
 * task blocking its thread. A handler that computes for a second without awaiting delays
 * every other job, the control socket and the dashboard; this makes it visible.
 *
 * @module
 */

/** Timer period. */
const PERIOD_MS = 100;
/** Samples kept: the last 10 s. */
const WINDOW = 100;

/** Measures event-loop lag while started. */
export class LoopMonitor {
  readonly #samples = new Float64Array(WINDOW);
  #index = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #expected = 0;

  /** Starts measuring. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#expected = performance.now() + PERIOD_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#samples[this.#index] = Math.max(0, now - this.#expected);
      this.#index = (this.#index + 1) % WINDOW;
      this.#expected = now + PERIOD_MS;
    }, PERIOD_MS);
  }

  /** Stops measuring. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The last lag and the largest of the last 10 s, in ms. */
  lag(): { lastMs: number; max10sMs: number } {
    const last = this.#samples[(this.#index + WINDOW - 1) % WINDOW]!;
    let max = 0;
    for (const sample of this.#samples) if (sample > max) max = sample;
    return { lastMs: round(last), max10sMs: round(max) };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
