/**
 * The job kinds the PostgreSQL benchmark's `liminal start` processes run (`--jobs`):
 *
 * - `noop`: does nothing (the throughput rounds).
 * - `probe`: returns the time its handler started, `{ "at": <epoch ms, sub-millisecond> }`,
 *   which the store keeps as the job's result; the driver subtracts the time it called
 *   enqueue. Both sides read `performance.timeOrigin + performance.now()`, the same clock
 *   in every process of this machine (its offset from `Date.now()` stays within a few µs).
 *
 * @module
 */
import { defineJob } from "../mod.ts";

/** A job that does nothing. */
export const noop = defineJob({ kind: "noop", handler: async () => {} });

/** A job that reports when its handler started. */
export const probe = defineJob({
  kind: "probe",
  handler: () => ({ at: performance.timeOrigin + performance.now() }),
});
