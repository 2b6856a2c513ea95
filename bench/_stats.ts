/**
 * Small statistics over raw samples: percentiles by rank, medians, spreads.
 *
 * @module
 */

/** Sorts a copy ascending. */
export function sorted(values: readonly number[]): number[] {
  return Float64Array.from(values).sort() as unknown as number[];
}

/** The value at percentile `p` (0–100) of ascending `values`, nearest rank; `NaN` if empty. */
export function percentile(ascending: ArrayLike<number>, p: number): number {
  if (ascending.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * ascending.length);
  return ascending[Math.min(ascending.length - 1, Math.max(0, rank - 1))]!;
}

/** The median of unsorted `values`. */
export function median(values: readonly number[]): number {
  const s = sorted(values);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** p50, p99 and max of unsorted samples, with their count. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Summarises latency samples (any unit). */
export function summarize(values: readonly number[]): LatencySummary {
  const s = sorted(values);
  return {
    count: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s.length === 0 ? Number.NaN : s[s.length - 1]!,
  };
}

/** mulberry32: a small seeded PRNG, so every run draws the same numbers. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
