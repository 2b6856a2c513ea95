/**
 * The store logic written once above the three stores: the batch of progress and log writes
 * (`_side_writes.ts`), the state × priority counts (`_counts.ts`), the state rules
 * (`_rules.ts`) and the row mapping (`_rows.ts`). The conformance suite checks the stores
 * built on them; these check the pieces alone.
 */
import assert from "node:assert/strict";
import { isLiminalError } from "../../src/shared/errors.ts";
import { StateCounts } from "../../src/store/_counts.ts";
import { jobRecordOf, JSON_PARSED, JSON_TEXT, leasesOf } from "../../src/store/_rows.ts";
import { assertRetryable, cancelAction, uniqueKeyHeld } from "../../src/store/_rules.ts";
import { SIDE_WRITE_DELAY_MS, SideWrites } from "../../src/store/_side_writes.ts";
import { installFakeTime } from "../_support/fake_time.ts";

Deno.test("SideWrites: one timer per batch, due after 100 ms, last progress per job", async () => {
  using clock = installFakeTime();
  let due = 0;
  const writes = new SideWrites(() => due++);
  assert.equal(writes.pending, false);
  writes.progress("a", { done: 1, total: 3, at: 1 });
  writes.log("a", { at: 1, message: "one" });
  writes.progress("b", { done: 1, total: null, at: 2 });
  writes.progress("a", { done: 2, total: 3, at: 3 });
  writes.log("b", { at: 3, message: "two" });
  assert.equal(writes.pending, true);
  await clock.tickAsync(SIDE_WRITE_DELAY_MS - 1);
  assert.equal(due, 0);
  await clock.tickAsync(1);
  assert.equal(due, 1, "one timer for the whole batch");
  const batch = writes.take();
  assert.deepEqual([...batch.progress], [
    ["a", { done: 2, total: 3, at: 3 }],
    ["b", { done: 1, total: null, at: 2 }],
  ]);
  assert.deepEqual(batch.logs, [
    { id: "a", line: { at: 1, message: "one" } },
    { id: "b", line: { at: 3, message: "two" } },
  ]);
  assert.equal(writes.pending, false);
  // Taken before the timer fired (a write flushes first): the timer is gone.
  writes.log("c", { at: 4, message: "three" });
  writes.take();
  await clock.tickAsync(SIDE_WRITE_DELAY_MS * 2);
  assert.equal(due, 1);
});

Deno.test("StateCounts: moves, finished jobs, and the reported counts", () => {
  const counts = StateCounts.fromRows([
    { state: "queued", priority: 1, n: 3 },
    { state: "failed", priority: 0, n: 2 }, // an old row: read as dead
    { state: "succeeded", priority: 4, n: 1 },
  ]);
  counts.move("queued", "running", 1);
  counts.add("scheduled", 2, 1);
  const reported = counts.toJobCounts();
  assert.deepEqual(reported.byState, {
    scheduled: 1,
    queued: 2,
    running: 1,
    succeeded: 1,
    dead: 2,
    cancelled: 0,
  });
  assert.equal(reported.queuedByPriority.coordinate, 2);
  assert.equal(reported.scheduledByPriority.blocking, 1);
  assert.equal(counts.finished(), 3);
  reported.byState.queued = 99;
  assert.equal(counts.toJobCounts().byState.queued, 2, "a fresh object each time");
});

Deno.test("rules: cancel and retry by state, with the messages every store gives", () => {
  assert.equal(cancelAction("j", "scheduled"), "cancel");
  assert.equal(cancelAction("j", "queued"), "cancel");
  assert.equal(cancelAction("j", "running"), "running");
  for (const state of ["succeeded", "dead", "cancelled"] as const) {
    assert.throws(
      () => cancelAction("j", state),
      (e: unknown) =>
        isLiminalError(e) && e.code === "INVALID_JOB_STATE" &&
        e.message ===
          `job j is ${state}; only scheduled, queued or running jobs can be cancelled`,
    );
  }
  assertRetryable("j", "dead");
  assertRetryable("j", "cancelled");
  for (const state of ["scheduled", "queued", "running", "succeeded"] as const) {
    assert.throws(
      () => assertRetryable("j", state),
      (e: unknown) =>
        isLiminalError(e) && e.code === "INVALID_JOB_STATE" &&
        e.message === `job j is ${state}; only dead or cancelled jobs can be retried`,
    );
  }
  assert.equal(uniqueKeyHeld("k1", "u").message, 'job k1 already holds unique key "u"');
  assert.equal(uniqueKeyHeld(null, "u").message, 'another job already holds unique key "u"');
});

Deno.test("rows: JSON columns as text (SQLite) or parsed (Postgres) give one record", () => {
  const base = {
    id: "j1",
    kind: "sleep",
    payload: "{}",
    priority: 2,
    timeout_ms: null,
    max_attempts: 3,
    backoff_base_ms: 10,
    backoff_max_ms: 20,
    unique_key: null,
    state: "failed",
    created_at: 1,
    run_at: 2,
    ready_at: null,
    seq: 5,
    failures: 1,
    interruptions: 0,
    result: null,
    finished_at: 9,
    updated_at: 9,
  };
  const error = { code: "JOB_FAILED", message: "x" };
  const fromText = jobRecordOf(
    {
      ...base,
      leases: '["a","b"]',
      progress: '{"done":1,"total":null,"at":3}',
      last_error: JSON.stringify(error),
    },
    [],
    [],
    JSON_TEXT,
  );
  const fromJsonb = jobRecordOf(
    { ...base, leases: ["a", "b"], progress: { done: 1, total: null, at: 3 }, last_error: error },
    [],
    [],
    JSON_PARSED,
  );
  assert.deepEqual(fromText, fromJsonb);
  assert.equal(fromText.state, "dead");
  assert.equal(fromText.priority, "blocking");
  assert.deepEqual(fromText.leases, ["a", "b"]);
  assert.deepEqual(leasesOf(null, JSON_TEXT), []);
  assert.deepEqual(leasesOf("not json", JSON_TEXT), []);
});
