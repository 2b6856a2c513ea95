/**
 * Backoff between attempts: exponential with full jitter, capped (the "Full Jitter" of
 * AWS's "Exponential Backoff and Jitter"): the delay before retry n is uniform in
 * `[0, min(max, base · 2^(n-1))]`, which spreads a burst of failures out instead of
 * retrying them in lockstep.
 *
 * @module
 */
import type { BackoffPolicy } from "../shared/job.ts";

/**
 * The delay before the retry that follows failure number `failures` (1 for the first).
 *
 * @param random a number in `[0, 1)`; `Math.random` unless a test fixes it
 */
export function backoffDelay(
  policy: BackoffPolicy,
  failures: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 52);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
