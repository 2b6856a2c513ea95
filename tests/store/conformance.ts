/**
 * The `JobStore` conformance suite: every verb and rule of `src/store/types.ts`, one suite
 * run against every store (memory, SQLite, PostgreSQL; see `conformance_test.ts`), the way
 * tokio's `rt_common.rs` runs one suite over every runtime flavour.
 *
 * Each step opens a fresh store from the target's factory and closes it at the end. Where a
 * rule differs for a store several runtimes share (`target.shared`), the step says so.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isLiminalError } from "../../src/shared/errors.ts";
import { newId } from "../../src/shared/ids.ts";
import { MAX_LOG_LINES } from "../../src/shared/job.ts";
import { PRIORITIES, priorityLevel } from "../../src/shared/priority.ts";
import type {
  ClaimBusy,
  ClaimedJob,
  JobStore,
  LeaseRecord,
  NewJob,
  ScheduleRecord,
  Settlement,
} from "../../src/store/types.ts";
import { DEFAULT_MAX_INTERRUPTIONS } from "../../src/store/_rules.ts";

/** A store implementation under the suite. */
export interface ConformanceTarget {
  name: string;
  /** A fresh, unopened store on empty storage. */
  make(): Promise<JobStore>;
  /**
   * A second, unopened store on the same storage as `store` (which the caller closed
   * first): what a restarted runtime opens.
   */
  reopen(store: JobStore): Promise<JobStore>;
  /** Whether several runtimes share it (it enforces claim limits and lease overlaps). */
  shared: boolean;
  /** Removes what `make` created, once every store on it is closed. */
  cleanup?(store: JobStore): Promise<void>;
}

/** Progress and log lines may be written in a batch of up to 100 ms: wait that out. */
export const SIDE_WRITE_WAIT_MS = 250;

const T0 = 1_700_000_000_000;

function job(extra: Partial<NewJob> = {}): NewJob {
  return {
    id: newId(),
    kind: "sleep",
    payload: '{"ms":1}',
    priority: "coordinate",
    timeoutMs: null,
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 60000 },
    uniqueKey: null,
    leases: [],
    createdAt: T0,
    runAt: T0,
    ...extra,
  };
}

function claimed(result: ClaimedJob | null | ClaimBusy | undefined): ClaimedJob {
  assert.ok(result !== null && result !== undefined && result !== "busy", "expected a claim");
  return result;
}

function settlement(id: string, extra: Partial<Settlement> = {}): Settlement {
  return {
    id,
    attempt: 1,
    endedAt: T0 + 10,
    outcome: "succeeded",
    error: null,
    result: null,
    next: "succeeded",
    ...extra,
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLiminalError(error), `expected a LiminalError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

function schedule(name: string, extra: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    name,
    source: "api",
    timing: { every: 60_000 },
    job: { kind: "sleep", payload: { ms: 1 }, priority: "info" },
    overlap: "skip",
    missed: "skip",
    paused: false,
    nextDueAt: T0 + 60_000,
    lastDueAt: null,
    lastJobId: null,
    lastSkipped: null,
    runs: 0,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

function lease(resource: string, extra: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    resource,
    holder: "alice",
    token: newId(),
    priority: "coordinate",
    jobId: null,
    acquiredAt: T0,
    expiresAt: T0 + 60_000,
    ...extra,
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the whole suite as steps of `t` against `target`.
 *
 * @example
 * ```ts
 * Deno.test("memory store", (t) => runStoreConformance(t, MEMORY_TARGET));
 * ```
 */
export async function runStoreConformance(
  t: Deno.TestContext,
  target: ConformanceTarget,
): Promise<void> {
  /** Opens a fresh store, runs `fn`, closes it (and any reopened one). */
  const withStore = async (fn: (store: JobStore) => Promise<void>) => {
    const store = await target.make();
    await store.open();
    try {
      await fn(store);
    } finally {
      await store.close();
      await target.cleanup?.(store);
    }
  };
  const step = (name: string, fn: (store: JobStore) => Promise<void>) =>
    t.step(name, () => withStore(fn));

  await step("open/close: info, windowHint; close is safe twice", async (store) => {
    assert.equal(store.info.kind, target.name);
    assert.equal(store.info.durable, target.name !== "memory");
    assert.ok(store.windowHint >= 1);
    const other = await target.make();
    await other.close(); // never opened: nothing to do
    await other.close();
    await target.cleanup?.(other);
  });

  await step("insert: now or earlier is queued with an entry; later is scheduled", async (s) => {
    const a = job({ priority: "blocking" });
    const b = job({ runAt: T0 + 5_000 });
    const results = await s.insert([a, b], T0);
    assert.equal(results.length, 2);
    assert.equal(results[0]!.id, a.id);
    assert.equal(results[0]!.created, true);
    assert.equal(results[0]!.state, "queued");
    assert.deepEqual(
      { ...results[0]!.entry!, seq: 0 },
      { id: a.id, kind: "sleep", level: 2, seq: 0, readyAt: T0, leases: [] },
    );
    assert.ok(results[0]!.entry!.seq > 0);
    assert.deepEqual(results[1], { id: b.id, created: true, state: "scheduled", entry: null });
    const record = (await s.get(a.id))!;
    assert.equal(record.state, "queued");
    assert.equal(record.priority, "blocking");
    assert.equal(record.payload, '{"ms":1}');
    assert.equal(record.readyAt, T0);
    assert.deepEqual(record.attempts, []);
    assert.equal((await s.get(b.id))!.state, "scheduled");
    assert.equal((await s.get(b.id))!.readyAt, null);
    assert.deepEqual(await s.insert([], T0), []);
  });

  await step("insert: every field of a job comes back from get", async (s) => {
    const a = job({
      kind: "command",
      payload: '{"argv":["true"]}',
      priority: "override",
      timeoutMs: 1500,
      maxAttempts: 7,
      backoff: { baseMs: 10, maxMs: 20 },
      uniqueKey: "k-all",
      leases: ["files/a", "db"],
      createdAt: T0 - 5,
    });
    await s.insert([a], T0);
    const r = (await s.get(a.id))!;
    assert.deepEqual(
      {
        id: r.id,
        kind: r.kind,
        payload: r.payload,
        priority: r.priority,
        timeoutMs: r.timeoutMs,
        maxAttempts: r.maxAttempts,
        backoff: r.backoff,
        uniqueKey: r.uniqueKey,
        leases: r.leases,
        createdAt: r.createdAt,
        runAt: r.runAt,
        failures: r.failures,
        interruptions: r.interruptions,
        progress: r.progress,
        logs: r.logs,
        result: r.result,
        lastError: r.lastError,
        finishedAt: r.finishedAt,
        updatedAt: r.updatedAt,
      },
      {
        id: a.id,
        kind: "command",
        payload: '{"argv":["true"]}',
        priority: "override",
        timeoutMs: 1500,
        maxAttempts: 7,
        backoff: { baseMs: 10, maxMs: 20 },
        uniqueKey: "k-all",
        leases: ["files/a", "db"],
        createdAt: T0 - 5,
        runAt: T0,
        failures: 0,
        interruptions: 0,
        progress: null,
        logs: [],
        result: null,
        lastError: null,
        finishedAt: null,
        updatedAt: T0,
      },
    );
    assert.equal(await s.get("no-such-job"), null);
  });

  await step("insert: a unique key held by a live job returns that job", async (s) => {
    const first = job({ uniqueKey: "nightly" });
    const [made] = await s.insert([first], T0);
    assert.equal(made!.created, true);
    const again = job({ uniqueKey: "nightly" });
    const [dup] = await s.insert([again], T0 + 1);
    assert.deepEqual(dup, { id: first.id, created: false, state: "queued", entry: null });
    assert.equal(await s.get(again.id), null);
    // Within one batch too.
    const x = job({ uniqueKey: "batch" });
    const y = job({ uniqueKey: "batch" });
    const both = await s.insert([x, y], T0);
    assert.equal(both[0]!.created, true);
    assert.deepEqual(both[1], { id: x.id, created: false, state: "queued", entry: null });
    // Running holds it; a finished job frees it.
    claimed((await s.claim([{ id: first.id, worker: "w1", at: T0 + 2 }]))[0]);
    const [whileRunning] = await s.insert([job({ uniqueKey: "nightly" })], T0 + 3);
    assert.deepEqual(whileRunning, {
      id: first.id,
      created: false,
      state: "running",
      entry: null,
    });
    await s.settle([settlement(first.id)]);
    const later = job({ uniqueKey: "nightly" });
    const [fresh] = await s.insert([later], T0 + 20);
    assert.equal(fresh!.created, true);
    assert.equal(fresh!.id, later.id);
  });

  await step("loadReady: queued jobs of one level after a seq, in seq order", async (s) => {
    const jobs = [job(), job({ priority: "critical" }), job(), job({ leases: ["x"] })];
    const results = await s.insert(jobs, T0);
    const level = priorityLevel("coordinate");
    const ready = await s.loadReady(level, 0, 10);
    assert.deepEqual(ready.map((e) => e.id), [jobs[0]!.id, jobs[2]!.id, jobs[3]!.id]);
    assert.deepEqual(ready[2]!.leases, ["x"]);
    const seqs = ready.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.deepEqual(ready, [results[0]!.entry, results[2]!.entry, results[3]!.entry]);
    assert.deepEqual((await s.loadReady(level, seqs[0]!, 1)).map((e) => e.id), [jobs[2]!.id]);
    assert.deepEqual(
      (await s.loadReady(priorityLevel("critical"), 0, 10)).map((e) => e.id),
      [jobs[1]!.id],
    );
    assert.deepEqual(await s.loadReady(priorityLevel("info"), 0, 10), []);
    // Claimed jobs leave it.
    claimed((await s.claim([{ id: jobs[0]!.id, worker: "w", at: T0 }]))[0]);
    assert.deepEqual((await s.loadReady(level, 0, 10)).map((e) => e.id), [
      jobs[2]!.id,
      jobs[3]!.id,
    ]);
  });

  await step("claim: opens an attempt; a job no longer queued comes back null", async (s) => {
    const a = job({ maxAttempts: 4, leases: ["db"], timeoutMs: 300 });
    const later = job({ runAt: T0 + 1_000 });
    await s.insert([a, later], T0);
    const [got, missing, notQueued, dupe] = await s.claim([
      { id: a.id, worker: "w1", at: T0 + 5 },
      { id: "no-such-job", worker: "w2", at: T0 + 5 },
      { id: later.id, worker: "w3", at: T0 + 5 },
      { id: a.id, worker: "w4", at: T0 + 5 },
    ]);
    const c = claimed(got);
    assert.equal(missing, null);
    assert.equal(notQueued, null);
    assert.equal(dupe, null);
    assert.deepEqual(c, {
      id: a.id,
      kind: "sleep",
      payload: '{"ms":1}',
      priority: "coordinate",
      timeoutMs: 300,
      maxAttempts: 4,
      backoff: { baseMs: 1000, maxMs: 60000 },
      uniqueKey: null,
      leases: ["db"],
      createdAt: T0,
      attempt: 1,
      failures: 0,
      interruptions: 0,
    });
    const record = (await s.get(a.id))!;
    assert.equal(record.state, "running");
    assert.equal(record.readyAt, null);
    assert.equal(record.attempts.length, 1);
    const attempt = record.attempts[0]!;
    assert.equal(attempt.attempt, 1);
    assert.match(attempt.worker, /(^|\/)w1$/);
    assert.equal(attempt.startedAt, T0 + 5);
    assert.equal(attempt.endedAt, null);
    assert.equal(attempt.outcome, null);
    assert.equal(attempt.error, null);
    assert.deepEqual(await s.claim([{ id: a.id, worker: "w5", at: T0 + 6 }]), [null]);
    assert.deepEqual(await s.claim([]), []);
  });

  if (target.shared) {
    await step("claim: a kind at its cluster-wide limit is busy and stays queued", async (s) => {
      const jobs = [job({ kind: "limited" }), job({ kind: "limited" }), job({ kind: "limited" })];
      await s.insert(jobs, T0);
      const result = await s.claim(
        jobs.map((j, i) => ({ id: j.id, worker: `w${i}`, at: T0, kind: "limited", limit: 2 })),
      );
      claimed(result[0]);
      claimed(result[1]);
      assert.equal(result[2], "busy");
      assert.equal((await s.get(jobs[2]!.id))!.state, "queued");
      await s.settle([settlement(jobs[0]!.id)]);
      claimed(
        (await s.claim([{ id: jobs[2]!.id, worker: "w", at: T0, kind: "limited", limit: 2 }]))[0],
      );
    });
  }

  await step("settle: succeeded stores the result and finishes the job", async (s) => {
    const a = job();
    await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 1 }]))[0]);
    const requeued = await s.settle([
      settlement(a.id, { endedAt: T0 + 9, result: '{"ok":true}' }),
    ]);
    assert.deepEqual(requeued, []);
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "succeeded");
    assert.equal(r.result, '{"ok":true}');
    assert.equal(r.finishedAt, T0 + 9);
    assert.equal(r.updatedAt, T0 + 9);
    assert.equal(r.readyAt, null);
    assert.equal(r.failures, 0);
    assert.deepEqual(
      { ...r.attempts[0]!, worker: "" },
      {
        attempt: 1,
        worker: "",
        startedAt: T0 + 1,
        endedAt: T0 + 9,
        outcome: "succeeded",
        error: null,
      },
    );
    // A second settle of the same attempt changes nothing.
    assert.deepEqual(await s.settle([settlement(a.id, { next: "queued", endedAt: T0 + 50 })]), []);
    assert.equal((await s.get(a.id))!.state, "succeeded");
    assert.equal((await s.get(a.id))!.finishedAt, T0 + 9);
    assert.deepEqual(await s.settle([]), []);
  });

  await step("settle: failed to scheduled counts a failure and keeps the error", async (s) => {
    const a = job();
    await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    const error = { code: "JOB_FAILED", message: "boom" };
    await s.settle([
      settlement(a.id, { outcome: "failed", error, next: "scheduled", runAt: T0 + 2_000 }),
    ]);
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "scheduled");
    assert.equal(r.runAt, T0 + 2_000);
    assert.equal(r.failures, 1);
    assert.deepEqual(r.lastError, error);
    assert.deepEqual(r.attempts[0]!.error, error);
    assert.equal(r.attempts[0]!.outcome, "failed");
    assert.equal(r.finishedAt, null);
    assert.equal(await s.nextDueAt(), T0 + 2_000);
    // The next claim opens attempt 2 and reports the failure so far.
    assert.deepEqual(await s.promoteDue(T0 + 1_999, 10), []);
    const [entry] = await s.promoteDue(T0 + 2_000, 10);
    assert.equal(entry!.id, a.id);
    const c = claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 2_001 }]))[0]);
    assert.equal(c.attempt, 2);
    assert.equal(c.failures, 1);
    // A timeout counts too; dead is final.
    await s.settle([
      settlement(a.id, {
        attempt: 2,
        outcome: "timeout",
        error: { code: "JOB_TIMEOUT", message: "too slow" },
        next: "dead",
        endedAt: T0 + 3_000,
      }),
    ]);
    const dead = (await s.get(a.id))!;
    assert.equal(dead.state, "dead");
    assert.equal(dead.failures, 2);
    assert.equal(dead.finishedAt, T0 + 3_000);
    assert.deepEqual(dead.attempts.map((x) => x.outcome), ["failed", "timeout"]);
  });

  await step("settle: interrupted to queued requeues with a new seq", async (s) => {
    const a = job();
    const [inserted] = await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    const requeued = await s.settle([
      settlement(a.id, {
        outcome: "interrupted",
        error: { code: "JOB_INTERRUPTED", message: "shutdown" },
        next: "queued",
        endedAt: T0 + 7,
      }),
    ]);
    assert.equal(requeued.length, 1);
    const entry = requeued[0]!;
    assert.equal(entry.id, a.id);
    assert.equal(entry.readyAt, T0 + 7);
    assert.equal(entry.level, priorityLevel("coordinate"));
    assert.ok(entry.seq > inserted!.entry!.seq);
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "queued");
    assert.equal(r.interruptions, 1);
    assert.equal(r.failures, 0);
    assert.equal(r.readyAt, T0 + 7);
    assert.deepEqual(await s.loadReady(entry.level, 0, 10), [entry]);
    const c = claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 8 }]))[0]);
    assert.equal(c.attempt, 2);
    assert.equal(c.interruptions, 1);
  });

  await step("settle: cancelled finishes; a job not running is left alone", async (s) => {
    const a = job();
    const b = job();
    await s.insert([a, b], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    const error = { code: "JOB_CANCELLED", message: "cancelled" };
    await s.settle([
      settlement(a.id, { outcome: "cancelled", error, next: "cancelled" }),
      settlement(b.id, { next: "succeeded" }),
    ]);
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "cancelled");
    assert.deepEqual(r.lastError, error);
    assert.equal(r.finishedAt, T0 + 10);
    assert.equal((await s.get(b.id))!.state, "queued");
  });

  await step("settle: an attempt that is not the open one changes nothing", async (s) => {
    const a = job();
    await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    await s.settle([settlement(a.id, { outcome: "interrupted", next: "queued" })]);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 20 }]))[0]);
    // A late settle of attempt 1 (a retried batch) must not end attempt 2.
    assert.deepEqual(await s.settle([settlement(a.id, { attempt: 1, endedAt: T0 + 30 })]), []);
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "running");
    assert.equal(r.attempts[1]!.endedAt, null);
  });

  await step("recordProgress: a running job's last progress; others ignore it", async (s) => {
    const a = job();
    const b = job();
    await s.insert([a, b], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    await s.recordProgress(a.id, { done: 1, total: 10, at: T0 + 1 });
    await s.recordProgress(a.id, { done: 2, total: null, at: T0 + 2 });
    await s.recordProgress(b.id, { done: 5, total: 5, at: T0 + 2 });
    await s.recordProgress("no-such-job", { done: 5, total: 5, at: T0 + 2 });
    await delay(SIDE_WRITE_WAIT_MS);
    assert.deepEqual((await s.get(a.id))!.progress, { done: 2, total: null, at: T0 + 2 });
    assert.equal((await s.get(b.id))!.progress, null);
    // A new claim starts without progress.
    await s.settle([settlement(a.id, { outcome: "interrupted", next: "queued" })]);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 20 }]))[0]);
    assert.equal((await s.get(a.id))!.progress, null);
  });

  await step("recordProgress/appendLog: written before the next write commits", async (s) => {
    const a = job();
    await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    await s.recordProgress(a.id, { done: 3, total: 4, at: T0 + 1 });
    await s.appendLog(a.id, { at: T0 + 1, message: "last words" });
    await s.settle([settlement(a.id)]);
    const r = (await s.get(a.id))!;
    assert.deepEqual(r.progress, { done: 3, total: 4, at: T0 + 1 });
    assert.deepEqual(r.logs, [{ at: T0 + 1, message: "last words" }]);
  });

  await step("appendLog: in order, bounded to the newest MAX_LOG_LINES", async (s) => {
    const a = job();
    await s.insert([a], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    const total = MAX_LOG_LINES + 5;
    for (let i = 0; i < total; i++) await s.appendLog(a.id, { at: T0 + i, message: `line ${i}` });
    await s.appendLog("no-such-job", { at: T0, message: "lost" });
    await delay(SIDE_WRITE_WAIT_MS);
    const logs = (await s.get(a.id))!.logs;
    assert.equal(logs.length, MAX_LOG_LINES);
    assert.deepEqual(logs[0], { at: T0 + 5, message: "line 5" });
    assert.deepEqual(logs.at(-1), { at: T0 + total - 1, message: `line ${total - 1}` });
  });

  await step("promoteDue/nextDueAt: due jobs by run-at, up to a limit", async (s) => {
    assert.equal(await s.nextDueAt(), null);
    const late = job({ runAt: T0 + 300 });
    const early = job({ runAt: T0 + 100, priority: "critical" });
    const mid = job({ runAt: T0 + 200, leases: ["r"] });
    await s.insert([late, early, mid], T0);
    assert.equal(await s.nextDueAt(), T0 + 100);
    assert.deepEqual(await s.promoteDue(T0 + 99, 10), []);
    const first = await s.promoteDue(T0 + 250, 1);
    assert.deepEqual(first.map((e) => e.id), [early.id]);
    assert.deepEqual(
      { ...first[0]!, seq: 0 },
      { id: early.id, kind: "sleep", level: 3, seq: 0, readyAt: T0 + 250, leases: [] },
    );
    assert.equal(await s.nextDueAt(), T0 + 200);
    const second = await s.promoteDue(T0 + 250, 10);
    assert.deepEqual(second.map((e) => e.id), [mid.id]);
    assert.deepEqual(second[0]!.leases, ["r"]);
    assert.ok(second[0]!.seq > first[0]!.seq);
    const r = (await s.get(mid.id))!;
    assert.equal(r.state, "queued");
    assert.equal(r.readyAt, T0 + 250);
    assert.equal(await s.nextDueAt(), T0 + 300);
    assert.deepEqual(await s.promoteDue(T0 + 1_000, 0), []);
    // A cancelled scheduled job is no longer due.
    await s.cancel(late.id, T0 + 260);
    assert.equal(await s.nextDueAt(), null);
    assert.deepEqual(await s.promoteDue(T0 + 1_000, 10), []);
  });

  await step("cancel: scheduled and queued at once; running unchanged; errors", async (s) => {
    const queued = job();
    const scheduled = job({ runAt: T0 + 1_000 });
    const running = job();
    await s.insert([queued, scheduled, running], T0);
    claimed((await s.claim([{ id: running.id, worker: "w", at: T0 }]))[0]);
    for (const j of [queued, scheduled]) {
      const r = await s.cancel(j.id, T0 + 5);
      assert.equal(r.id, j.id);
      assert.equal(r.state, "cancelled");
      assert.equal(r.finishedAt, T0 + 5);
      assert.equal(r.updatedAt, T0 + 5);
      assert.equal(r.readyAt, null);
      assert.deepEqual(r.lastError, { code: "JOB_CANCELLED", message: "cancelled before it ran" });
      assert.deepEqual(await s.get(j.id), r);
    }
    const level = priorityLevel("coordinate");
    assert.deepEqual(await s.loadReady(level, 0, 10), []);
    const r = await s.cancel(running.id, T0 + 6);
    assert.equal(r.state, "running");
    assert.equal(r.finishedAt, null);
    await rejectsWith(s.cancel("no-such-job", T0), "JOB_NOT_FOUND", /^no job with id no-such-job$/);
    await rejectsWith(
      s.cancel(queued.id, T0 + 7),
      "INVALID_JOB_STATE",
      new RegExp(
        `^job ${queued.id} is cancelled; only scheduled, queued or running jobs can be cancelled$`,
      ),
    );
    await s.settle([settlement(running.id)]);
    await rejectsWith(
      s.cancel(running.id, T0 + 7),
      "INVALID_JOB_STATE",
      /is succeeded; only scheduled, queued or running jobs can be cancelled$/,
    );
  });

  await step("retry: dead or cancelled back to queued, fresh budget; errors", async (s) => {
    const a = job({ maxAttempts: 1 });
    const b = job();
    await s.insert([a, b], T0);
    claimed((await s.claim([{ id: a.id, worker: "w", at: T0 }]))[0]);
    const error = { code: "JOB_FAILED", message: "boom" };
    await s.settle([settlement(a.id, { outcome: "failed", error, next: "dead" })]);
    const entry = await s.retry(a.id, T0 + 100);
    assert.deepEqual(
      { ...entry, seq: 0 },
      {
        id: a.id,
        kind: "sleep",
        level: priorityLevel("coordinate"),
        seq: 0,
        readyAt: T0 + 100,
        leases: [],
      },
    );
    const r = (await s.get(a.id))!;
    assert.equal(r.state, "queued");
    assert.equal(r.failures, 0);
    assert.equal(r.finishedAt, null);
    assert.equal(r.readyAt, T0 + 100);
    assert.equal(r.seq, entry.seq);
    assert.equal(r.attempts.length, 1, "the attempt history stays");
    assert.deepEqual((await s.loadReady(entry.level, 0, 10)).map((e) => e.id), [b.id, a.id]);
    const c = claimed((await s.claim([{ id: a.id, worker: "w", at: T0 + 101 }]))[0]);
    assert.equal(c.attempt, 2);
    assert.equal(c.failures, 0);
    // Cancelled jobs too.
    await s.cancel(b.id, T0 + 5);
    assert.equal((await s.retry(b.id, T0 + 6)).id, b.id);
    assert.equal((await s.get(b.id))!.state, "queued");
    await rejectsWith(s.retry("no-such-job", T0), "JOB_NOT_FOUND", /^no job with id no-such-job$/);
    await rejectsWith(
      s.retry(b.id, T0 + 7),
      "INVALID_JOB_STATE",
      new RegExp(`^job ${b.id} is queued; only dead or cancelled jobs can be retried$`),
    );
    await rejectsWith(
      s.retry(a.id, T0 + 7),
      "INVALID_JOB_STATE",
      /is running; only dead or cancelled jobs can be retried$/,
    );
  });

  await step("retry: refused while another live job holds the unique key", async (s) => {
    const a = job({ uniqueKey: "u" });
    await s.insert([a], T0);
    await s.cancel(a.id, T0 + 1);
    const b = job({ uniqueKey: "u" });
    assert.equal((await s.insert([b], T0 + 2))[0]!.created, true);
    await rejectsWith(
      s.retry(a.id, T0 + 3),
      "INVALID_JOB_STATE",
      new RegExp(`^job ${b.id} already holds unique key "u"$`),
    );
    assert.equal((await s.get(a.id))!.state, "cancelled");
    await s.cancel(b.id, T0 + 4);
    await s.retry(a.id, T0 + 5);
    assert.equal((await s.get(a.id))!.state, "queued");
    // The retried job holds the key again.
    const [dup] = await s.insert([job({ uniqueKey: "u" })], T0 + 6);
    assert.deepEqual(dup, { id: a.id, created: false, state: "queued", entry: null });
  });

  await t.step("recoverInterrupted: jobs a closed runtime left running are requeued", async () => {
    const first = await target.make();
    await first.open();
    const a = job();
    const b = job();
    const done = job();
    await first.insert([a, b, done], T0);
    claimed((await first.claim([{ id: a.id, worker: "w", at: T0 + 1 }]))[0]);
    claimed((await first.claim([{ id: done.id, worker: "w", at: T0 + 1 }]))[0]);
    await first.settle([settlement(done.id)]);
    await first.close();
    const second = await target.reopen(first);
    await second.open();
    try {
      assert.deepEqual(await second.recoverInterrupted(T0 + 50), { queued: 1, dead: [] });
      const r = (await second.get(a.id))!;
      assert.equal(r.state, "queued");
      assert.equal(r.interruptions, 1);
      assert.equal(r.failures, 0);
      assert.equal(r.readyAt, T0 + 50);
      assert.equal(r.lastError?.code, "JOB_INTERRUPTED");
      assert.equal(r.attempts[0]!.outcome, "interrupted");
      assert.equal(r.attempts[0]!.endedAt, T0 + 50);
      assert.equal(r.attempts[0]!.error?.code, "JOB_INTERRUPTED");
      assert.equal((await second.get(b.id))!.state, "queued");
      assert.equal((await second.get(done.id))!.state, "succeeded");
      const ready = await second.loadReady(priorityLevel("coordinate"), 0, 10);
      assert.deepEqual(ready.map((e) => e.id), [b.id, a.id]);
      assert.deepEqual(await second.recoverInterrupted(T0 + 60), { queued: 0, dead: [] });
      const c = claimed((await second.claim([{ id: a.id, worker: "w", at: T0 + 61 }]))[0]);
      assert.equal(c.attempt, 2);
      assert.equal(c.interruptions, 1);
    } finally {
      await second.close();
      await target.cleanup?.(second);
    }
  });

  await t.step(
    "recoverInterrupted: a job interrupted more than maxInterruptions times is dead, and said so",
    async () => {
      // Crash after crash with the default limit (5): queued again five times, then dead.
      let store = await target.make();
      await store.open();
      const a = job({ uniqueKey: "crashy" });
      const b = job();
      await store.insert([a, b], T0);
      claimed((await store.claim([{ id: a.id, worker: "w", at: T0 + 1 }]))[0]);
      for (let crash = 1; crash <= DEFAULT_MAX_INTERRUPTIONS; crash++) {
        await store.close();
        store = await target.reopen(store);
        await store.open();
        assert.deepEqual(
          await store.recoverInterrupted(T0 + crash * 10),
          { queued: 1, dead: [] },
          `crash ${crash}`,
        );
        assert.equal((await store.get(a.id))!.state, "queued");
        const again = claimed(
          (await store.claim([{ id: a.id, worker: "w", at: T0 + crash * 10 + 1 }]))[0],
        );
        assert.equal(again.attempt, crash + 1);
      }
      await store.close();
      const last = await target.reopen(store);
      await last.open();
      try {
        const crashes = DEFAULT_MAX_INTERRUPTIONS + 1;
        const at = T0 + 1000;
        const recovery = await last.recoverInterrupted(at);
        assert.equal(recovery.queued, 0);
        assert.deepEqual(recovery.dead.map((d) => [d.id, d.kind, d.attempt, d.error.code]), [
          [a.id, a.kind, crashes, "JOB_INTERRUPTED"],
        ]);
        assert.match(
          recovery.dead[0]!.error.message,
          new RegExp(`; interrupted ${crashes} times, giving up$`),
        );
        const r = (await last.get(a.id))!;
        assert.equal(r.state, "dead");
        assert.equal(r.interruptions, crashes);
        assert.equal(r.finishedAt, at);
        assert.deepEqual(r.lastError, recovery.dead[0]!.error);
        assert.equal(r.attempts.length, crashes);
        assert.equal(r.attempts.at(-1)!.outcome, "interrupted");
        assert.equal(r.attempts.at(-1)!.endedAt, at);
        assert.equal((await last.get(b.id))!.state, "queued", "a job never started is untouched");
        const ready = await last.loadReady(priorityLevel("coordinate"), 0, 10);
        assert.deepEqual(ready.map((e) => e.id), [b.id], "the dead job is not ready");
        assert.deepEqual((await last.list({ state: "dead" })).map((j) => j.id), [a.id]);
        const counts = await last.counts();
        assert.equal(counts.byState.dead, 1);
        assert.equal(counts.byState.running, 0);
        // Dead, it no longer holds its unique key.
        const [fresh] = await last.insert([job({ uniqueKey: "crashy" })], at + 1);
        assert.equal(fresh!.created, true);
        // A retry gives a fresh budget of interruptions too: the next crash is not its last.
        await last.cancel(fresh!.id, at + 2);
        await last.retry(a.id, at + 3);
        const retried = (await last.get(a.id))!;
        assert.equal(retried.state, "queued");
        assert.equal(retried.failures, 0);
        assert.equal(retried.interruptions, 0);
      } finally {
        await last.close();
        await target.cleanup?.(last);
      }
    },
  );

  await step("list: newest first, by state and kind, limited", async (s) => {
    const jobs: NewJob[] = [];
    for (let i = 0; i < 5; i++) jobs.push(job({ kind: i % 2 === 0 ? "even" : "odd" }));
    await s.insert(jobs, T0);
    await s.cancel(jobs[4]!.id, T0 + 1);
    const ids = jobs.map((j) => j.id);
    const desc = [...ids].sort().reverse();
    assert.deepEqual((await s.list()).map((r) => r.id), desc);
    assert.deepEqual((await s.list({ limit: 2 })).map((r) => r.id), desc.slice(0, 2));
    assert.deepEqual(
      (await s.list({ kind: "even" })).map((r) => r.id),
      [ids[4], ids[2], ids[0]],
    );
    assert.deepEqual(
      (await s.list({ kind: "even", state: "queued" })).map((r) => r.id),
      [ids[2], ids[0]],
    );
    assert.deepEqual((await s.list({ state: "cancelled" })).map((r) => r.id), [ids[4]]);
    assert.deepEqual(await s.list({ state: "dead" }), []);
    // Records are copies: changing one changes nothing stored.
    const [top] = await s.list({ limit: 1 });
    top!.leases.push("mutated");
    top!.attempts.push({
      attempt: 9,
      worker: "x",
      startedAt: 0,
      endedAt: null,
      outcome: null,
      error: null,
    });
    assert.deepEqual((await s.get(top!.id))!.leases, []);
    assert.deepEqual((await s.get(top!.id))!.attempts, []);
  });

  await step("list: 50 at most by default", async (s) => {
    await s.insert(Array.from({ length: 55 }, () => job()), T0);
    assert.equal((await s.list()).length, 50);
    assert.equal((await s.list({ limit: 55 })).length, 55);
  });

  await step("findIdsByTail: ids ending with a tail, newest first, limited", async (s) => {
    const a = "0190aaaa-0000-7000-8000-00000000abc1";
    const b = "0190aaaa-0001-7000-8000-11111111abc1";
    const c = "0190aaaa-0002-7000-8000-222222ffffff";
    await s.insert([job({ id: a }), job({ id: b }), job({ id: c })], T0);
    assert.deepEqual(await s.findIdsByTail("abc1", 10), [b, a]);
    assert.deepEqual(await s.findIdsByTail("1111abc1", 10), [b]);
    assert.deepEqual(await s.findIdsByTail("abc1", 1), [b], "at most limit");
    assert.deepEqual(await s.findIdsByTail(c, 10), [c], "a whole id is its own tail");
    assert.deepEqual(await s.findIdsByTail("abcd12", 10), []);
    assert.deepEqual(await s.findIdsByTail("0190aa", 10), [], "a prefix is no tail");
  });

  await step("counts: by state, and queued/scheduled by priority", async (s) => {
    const zero = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
    assert.deepEqual(await s.counts(), {
      byState: {
        scheduled: 0,
        queued: 0,
        running: 0,
        succeeded: 0,
        dead: 0,
        cancelled: 0,
      },
      queuedByPriority: zero,
      scheduledByPriority: zero,
    });
    const jobs = [
      job({ priority: "info" }),
      job({ priority: "critical" }),
      job({ priority: "critical" }),
      job({ priority: "blocking", runAt: T0 + 100 }),
      job(),
      job(),
    ];
    await s.insert(jobs, T0);
    claimed((await s.claim([{ id: jobs[4]!.id, worker: "w", at: T0 }]))[0]);
    claimed((await s.claim([{ id: jobs[5]!.id, worker: "w", at: T0 }]))[0]);
    await s.settle([settlement(jobs[5]!.id, { outcome: "failed", next: "dead" })]);
    await s.cancel(jobs[0]!.id, T0 + 1);
    const counts = await s.counts();
    assert.deepEqual(counts.byState, {
      scheduled: 1,
      queued: 2,
      running: 1,
      succeeded: 0,
      dead: 1,
      cancelled: 1,
    });
    assert.deepEqual(counts.queuedByPriority, { ...zero, critical: 2 });
    assert.deepEqual(counts.scheduledByPriority, { ...zero, blocking: 1 });
  });

  await step("prune: finished jobs by age, then by count, up to a limit", async (s) => {
    const jobs = Array.from({ length: 6 }, () => job());
    await s.insert(jobs, T0);
    // Finish five, one ms apart; the sixth stays queued.
    for (let i = 0; i < 5; i++) {
      claimed((await s.claim([{ id: jobs[i]!.id, worker: "w", at: T0 }]))[0]);
      await s.settle([settlement(jobs[i]!.id, { endedAt: T0 + 100 + i })]);
    }
    assert.equal(await s.prune({ finishedBefore: T0 + 102 }), 2);
    assert.equal(await s.get(jobs[0]!.id), null);
    assert.equal(await s.get(jobs[1]!.id), null);
    assert.equal(await s.prune({ keep: 2 }), 1);
    assert.equal(await s.get(jobs[2]!.id), null);
    assert.notEqual(await s.get(jobs[3]!.id), null);
    assert.equal(await s.prune({ keep: 0, limit: 1 }), 1);
    assert.equal(await s.get(jobs[3]!.id), null);
    assert.equal(await s.prune({ finishedBefore: T0 + 1_000, keep: 0, limit: 0 }), 0);
    assert.equal(await s.prune({ finishedBefore: T0 }), 0);
    assert.equal(await s.prune({ keep: 0 }), 1);
    assert.equal((await s.get(jobs[5]!.id))!.state, "queued", "live jobs are never pruned");
    assert.equal((await s.counts()).byState.succeeded, 0);
    // A pruned unique key is free.
    assert.equal(await s.prune({}), 0);
  });

  await step("prune: at most 1,000 in one call by default", async (s) => {
    const jobs = Array.from({ length: 1_001 }, () => job());
    await s.insert(jobs, T0);
    const claims = await s.claim(jobs.map((j) => ({ id: j.id, worker: "w", at: T0 })));
    assert.equal(claims.filter((c) => c !== null).length, 1_001);
    await s.settle(jobs.map((j) => settlement(j.id)));
    assert.equal(await s.prune({ keep: 0 }), 1_000);
    assert.equal(await s.prune({ keep: 0 }), 1);
  });

  await step("schedules: put, replace, list by name, delete", async (s) => {
    assert.deepEqual(await s.listSchedules(), []);
    const b = schedule("b-nightly", {
      timing: { cron: "0 3 * * *", timezone: "Europe/Paris" },
      source: "module",
      overlap: "queue",
      missed: "run-once",
    });
    const a = schedule("a-hourly", { paused: true, nextDueAt: null });
    const upper = schedule("Z-upper");
    await s.putSchedule(b);
    await s.putSchedule(a);
    await s.putSchedule(upper);
    // Names in code-unit order (what SQL's byte order gives): upper case first.
    assert.deepEqual(await s.listSchedules(), [upper, a, b]);
    const replaced = { ...b, paused: true, updatedAt: T0 + 5, job: { ...b.job, attempts: 2 } };
    await s.putSchedule(replaced);
    assert.deepEqual((await s.listSchedules())[2], replaced);
    // The store keeps its own copy.
    replaced.runs = 99;
    assert.equal((await s.listSchedules())[2]!.runs, 0);
    assert.equal(await s.deleteSchedule("a-hourly"), true);
    assert.equal(await s.deleteSchedule("a-hourly"), false);
    assert.deepEqual((await s.listSchedules()).map((r) => r.name), ["Z-upper", "b-nightly"]);
  });

  await step("recordScheduleRun: only from the expected last due time (CAS)", async (s) => {
    await s.putSchedule(schedule("every"));
    const run = {
      lastDueAt: T0 + 60_000,
      nextDueAt: T0 + 120_000,
      lastJobId: "job-1",
      lastSkipped: null,
      runs: 1,
      at: T0 + 60_001,
    };
    assert.equal(await s.recordScheduleRun("every", T0, run), false, "wrong expectation");
    assert.equal(await s.recordScheduleRun("none", null, run), false, "no such schedule");
    assert.equal(await s.recordScheduleRun("every", null, run), true);
    assert.equal(await s.recordScheduleRun("every", null, run), false, "only once");
    const [r] = await s.listSchedules();
    assert.equal(r!.lastDueAt, T0 + 60_000);
    assert.equal(r!.nextDueAt, T0 + 120_000);
    assert.equal(r!.lastJobId, "job-1");
    assert.equal(r!.lastSkipped, null);
    assert.equal(r!.runs, 1);
    assert.equal(r!.updatedAt, T0 + 60_001);
    assert.equal(r!.createdAt, T0);
    const next = {
      lastDueAt: T0 + 120_000,
      nextDueAt: null,
      lastJobId: null,
      lastSkipped: "overlap",
      runs: 2,
      at: T0 + 120_001,
    };
    assert.equal(await s.recordScheduleRun("every", T0 + 60_000, next), true);
    const [r2] = await s.listSchedules();
    assert.equal(r2!.nextDueAt, null);
    assert.equal(r2!.lastSkipped, "overlap");
  });

  await step("swapLease/deleteLease: free, expired or own token (CAS)", async (s) => {
    assert.deepEqual(await s.listLeases(), []);
    const first = lease("db", { jobId: "job-1", priority: "blocking" });
    assert.equal(await s.swapLease(first, null, T0), true);
    assert.deepEqual(await s.listLeases(), [first]);
    // Held: another token, or none, is refused and changes nothing.
    const rival = lease("db", { holder: "bob" });
    assert.equal(await s.swapLease(rival, null, T0 + 1), false);
    assert.equal(await s.swapLease(rival, "wrong", T0 + 1), false);
    assert.deepEqual(await s.listLeases(), [first]);
    // Renewal with its token.
    const renewed = { ...first, token: newId(), expiresAt: T0 + 120_000 };
    assert.equal(await s.swapLease(renewed, first.token, T0 + 2), true);
    assert.deepEqual(await s.listLeases(), [renewed]);
    // Expired at `now`: anyone takes it.
    assert.equal(await s.swapLease(rival, null, T0 + 120_000), true);
    assert.deepEqual(await s.listLeases(), [rival]);
    // Delete only with the current token.
    assert.equal(await s.deleteLease("db", renewed.token), false);
    assert.equal(await s.deleteLease("db", rival.token), true);
    assert.equal(await s.deleteLease("db", rival.token), false);
    assert.deepEqual(await s.listLeases(), []);
  });

  await step("swapLease: victims still holding their token go in the same write", async (s) => {
    const low1 = lease("files/a", { holder: "low", priority: "info" });
    const low2 = lease("files/b", { holder: "low", priority: "info" });
    await s.swapLease(low1, null, T0);
    await s.swapLease(low2, null, T0);
    const high = lease("files/*", { holder: "high", priority: "critical" });
    const stale = { resource: "files/b", token: "stale-token" };
    assert.equal(
      await s.swapLease(high, null, T0 + 1, [
        { resource: low1.resource, token: low1.token },
        stale,
      ]),
      target.shared ? false : true,
    );
    if (target.shared) {
      // A shared store also refuses a lease overlapping a live one it does not preempt.
      assert.deepEqual(await s.listLeases(), [low1, low2]);
      assert.equal(
        await s.swapLease(high, null, T0 + 1, [
          { resource: low1.resource, token: low1.token },
          { resource: low2.resource, token: low2.token },
        ]),
        true,
      );
      assert.deepEqual(await s.listLeases(), [high]);
    } else {
      assert.deepEqual(await s.listLeases(), [high, low2]);
    }
    // Refused: nothing changes, victims included.
    const other = lease("files/*", { holder: "x" });
    const before = await s.listLeases();
    assert.equal(
      await s.swapLease(other, null, T0 + 2, [{ resource: "files/*", token: high.token }]),
      false,
    );
    assert.deepEqual(await s.listLeases(), before);
  });

  await step("verbs before open or after close fail with STORE_ERROR", async () => {
    const store = await target.make();
    await rejectsWith(
      Promise.resolve().then(() => store.insert([job()], T0)),
      "STORE_ERROR",
      /not open/,
    );
    await store.open();
    await store.close();
    await rejectsWith(
      Promise.resolve().then(() => store.claim([{ id: "x", worker: "w", at: T0 }])),
      "STORE_ERROR",
      /(not open|closed)/,
    );
    await target.cleanup?.(store);
  });
}
