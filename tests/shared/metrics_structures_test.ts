/** The shared latency histogram and rate counter, as the executor and the router use them. */
import assert from "node:assert/strict";
import { LatencyHistogram } from "../../src/shared/latency_histogram.ts";
import { RateCounter, roundRate } from "../../src/shared/rate_counter.ts";

Deno.test("LatencyHistogram summarises in ms, clamps at its highest trackable value", () => {
  const h = new LatencyHistogram(1_000);
  assert.deepEqual(h.summary(), {
    count: 0,
    p50: null,
    p95: null,
    p99: null,
    max: null,
    mean: null,
  });
  for (let i = 1; i <= 100; i++) h.record(i);
  h.record(-5);
  h.record(60_000);
  assert.equal(h.count, 102);
  const s = h.summary();
  assert.ok(Math.abs(s.p50! - 50) < 0.1, `p50 ${s.p50}`);
  assert.ok(Math.abs(s.max! - 1_000) < 1, `max ${s.max} clamped to 1000`);
  assert.deepEqual(h.cumulative([0, 10.5, 100.5, 10_000]), [1, 11, 101, 102]);
  h.reset();
  assert.equal(h.count, 0);
});

Deno.test("RateCounter counts per second over its window and forgets what falls out", () => {
  const start = 1_000_000;
  const rate = new RateCounter(start, 10);
  for (let s = 0; s < 20; s++) rate.add(start + s * 1_000, s + 1);
  const now = start + 19_999;
  assert.deepEqual(rate.series(now), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  assert.equal(roundRate(rate.rate(1, now)), 20.02);
  // Ten seconds back: 11 + … + 20 = 155 over 9.999 s.
  assert.equal(roundRate(rate.rate(10, now)), 15.5);
  // A minute counter covers only the time since it started.
  const fresh = new RateCounter(start);
  fresh.add(start + 500, 10);
  assert.equal(fresh.rate(60, start + 1_000), 10);
  assert.equal(fresh.series(start + 1_000).length, 60);
});
