/**
 * What every benchmark shares: smoke mode and the sizes it picks.
 *
 * With `LIMINAL_BENCH_SMOKE=1` every benchmark runs once with tiny sizes, so CI proves the
 * benchmarks still run without paying for the numbers.
 *
 * @module
 */

/** Whether the benchmarks run in smoke mode (`LIMINAL_BENCH_SMOKE=1`). */
export const SMOKE: boolean = readSmoke();

function readSmoke(): boolean {
  try {
    const value = Deno.env.get("LIMINAL_BENCH_SMOKE");
    return value !== undefined && value !== "" && value !== "0";
  } catch {
    return false; // no --allow-env: a full run
  }
}

/** `full` normally, `smoke` in smoke mode. */
export function pick<T>(full: T, smoke: T): T {
  return SMOKE ? smoke : full;
}

/** Options for `Deno.bench` that make every case run once in smoke mode. */
export function benchRuns(n: number, warmup = 1): { n: number; warmup: number } {
  return SMOKE ? { n: 1, warmup: 0 } : { n, warmup };
}

/** Concurrency of every queue compared with the executor. */
export const CONCURRENCY = 4;

/** Formats a job count as the report and group names show it: `100,000`. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}
