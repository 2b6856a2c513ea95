/**
 * Behaviour of the MaintenanceExecutor under fake time, run against every store.
 */
import assert from "node:assert/strict";
import {
  defineJob,
  type JobContext,
  MaintenanceExecutor,
  PermanentJobError,
} from "../../src/executor/mod.ts";
import type { ExecutorOptions } from "../../src/executor/options.ts";
import type { JobKind } from "../../src/executor/job_kind.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import type { JsonValue } from "../../src/shared/json.ts";
import type { JobStore } from "../../src/store/types.ts";
import { type FakeClock, installFakeTime, settle } from "../_support/fake_time.ts";
import { STORE_CASES, type StoreCase } from "../_support/stores.ts";
import { sleepJob } from "../../src/jobs/sleep.ts";

interface Harness extends AsyncDisposable {
  executor: MaintenanceExecutor;
  store: JobStore;
  clock: FakeClock;
  /** Payload names in the order handlers started. */
  started: string[];
}

/** A kind that records the `name` of its payload and waits `ms` (honouring its signal). */
function recordingKind(
  started: string[],
  kind = "rec",
  concurrency: number | null = null,
): JobKind {
  return defineJob({
    kind,
    defaults: { concurrency },
    handler: async ({ payload, signal }: JobContext) => {
      const p = payload as { name: string; ms?: number };
      started.push(p.name);
      if (p.ms) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, p.ms);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(signal.reason);
          }, { once: true });
        });
      }
    },
  }) as JobKind;
}

async function harness(
  storeCase: StoreCase,
  options: Partial<ExecutorOptions> = {},
  extraKinds: (started: string[]) => JobKind[] = () => [],
  /** Writes to the store before the executor starts. */
  seed?: (store: JobStore) => Promise<unknown>,
): Promise<Harness> {
  const clock = installFakeTime();
  const store = await storeCase.make();
  await store.open();
  await seed?.(store);
  const started: string[] = [];
  const executor = new MaintenanceExecutor({
    store,
    workers: 1,
    random: () => 0.5,
    ...options,
    kinds: [recordingKind(started), ...extraKinds(started), ...(options.kinds ?? [])],
  });
  await executor.start();
  return {
    executor,
    store,
    clock,
    started,
    async [Symbol.asyncDispose]() {
      let stopped = false;
      const stopping = executor.stop().finally(() => (stopped = true));
      for (let i = 0; i < 1_000 && !stopped; i++) await clock.tickAsync(100);
      await stopping;
      await store.close();
      clock.uninstall();
      await storeCase.cleanup?.();
    },
  };
}

function job(
  name: string,
  extra: Record<string, unknown> = {},
  payload: Record<string, JsonValue> = {},
) {
  return { kind: "rec", payload: { name, ...payload }, ...extra };
}

for (const storeCase of STORE_CASES) {
  Deno.test(`executor [${storeCase.name}]`, async (t) => {
    await t.step("runs the highest priority first and FIFO within a level", async () => {
      await using h = await harness(storeCase);
      h.executor.pause();
      await h.executor.enqueueMany([
        job("info-1", { priority: "info" }),
        job("coord-1", { priority: "coordinate" }),
        job("crit-1", { priority: "critical" }),
        job("info-2", { priority: "info" }),
        job("block-1", { priority: "blocking" }),
        job("crit-2", { priority: "critical" }),
        job("over-1", { priority: "override" }),
      ]);
      h.executor.resume();
      await settle(h.clock, 20);
      assert.deepEqual(h.started, [
        "over-1",
        "crit-1",
        "crit-2",
        "block-1",
        "coord-1",
        "info-1",
        "info-2",
      ]);
    });

    await t.step(
      "aging raises a waiting job one level per interval, never above critical",
      async () => {
        await using h = await harness(storeCase, { agingInterval: "5s" });
        h.executor.pause();
        await h.executor.enqueue(job("old-info", { priority: "info" }));
        await h.clock.tickAsync(10_000); // info → blocking after two intervals
        await h.executor.enqueue(job("new-coordinate", { priority: "coordinate" }));
        await h.executor.enqueue(job("new-blocking", { priority: "blocking" }));
        await h.executor.enqueue(job("new-critical", { priority: "critical" }));
        await h.clock.tickAsync(4_000);
        h.executor.resume();
        await settle(h.clock, 20);
        // old-info is blocking now (not critical yet: 14 s < 15 s): ahead of coordinate, but a
        // job that is blocking itself keeps its place ahead of it.
        assert.deepEqual(h.started, ["new-critical", "new-blocking", "old-info", "new-coordinate"]);
      },
    );

    await t.step(
      "an aged job stops at critical: override and native critical jobs still go first",
      async () => {
        await using h = await harness(storeCase, { agingInterval: "1s" });
        h.executor.pause();
        await h.executor.enqueue(job("ancient-info", { priority: "info" }));
        await h.clock.tickAsync(60_000);
        await h.executor.enqueue(job("override", { priority: "override" }));
        await h.executor.enqueue(job("critical", { priority: "critical" }));
        h.executor.resume();
        await settle(h.clock, 20);
        assert.deepEqual(h.started, ["override", "critical", "ancient-info"]);
      },
    );

    await t.step("a delayed job is scheduled and runs when its time comes", async () => {
      await using h = await harness(storeCase);
      const { id, state } = await h.executor.enqueue(job("later", { delay: "10s" }));
      assert.equal(state, "scheduled");
      await h.clock.tickAsync(9_999);
      assert.deepEqual(h.started, []);
      assert.equal((await h.executor.get(id))?.state, "scheduled");
      await h.clock.tickAsync(1);
      await settle(h.clock);
      assert.deepEqual(h.started, ["later"]);
      assert.equal((await h.executor.get(id))?.state, "succeeded");
    });

    await t.step(
      "runAt in the past runs at once; delay and runAt together are refused",
      async () => {
        await using h = await harness(storeCase);
        const past = await h.executor.enqueue(
          job("past", { runAt: new Date(Date.now() - 60_000).toISOString() }),
        );
        assert.equal(past.state, "queued");
        await assert.rejects(
          h.executor.enqueue(job("both", { delay: "1s", runAt: Date.now() + 1000 })),
          (e) => isLiminalError(e, "INVALID_ARGUMENT"),
        );
      },
    );

    await t.step(
      "failed attempts retry with exponential backoff, then the job is dead",
      async () => {
        await using h = await harness(storeCase, {}, () => [
          defineJob({ kind: "boom", handler: () => Promise.reject(new Error("boom")) }) as JobKind,
        ]);
        const failures: { attempt: number; retryAt: number | null; at: number }[] = [];
        h.executor.on(
          "job:failed",
          (e) => failures.push({ attempt: e.attempt, retryAt: e.retryAt, at: Date.now() }),
        );
        const start = Date.now();
        const { id } = await h.executor.enqueue({
          kind: "boom",
          attempts: 3,
          backoff: { base: "1s", max: "1m" },
        });
        await settle(h.clock);
        // random() is 0.5: the first retry waits half of 1 s, the second half of 2 s.
        assert.equal(failures.length, 1);
        assert.equal(failures[0]!.retryAt, start + 500);
        assert.equal((await h.executor.get(id))?.state, "scheduled");
        await h.clock.tickAsync(499);
        assert.equal(failures.length, 1);
        await h.clock.tickAsync(1);
        await settle(h.clock);
        assert.equal(failures.length, 2);
        assert.equal(failures[1]!.retryAt, start + 500 + 1_000);
        await h.clock.tickAsync(1_000);
        await settle(h.clock);
        assert.equal(failures.length, 3);
        assert.equal(failures[2]!.retryAt, null);
        const record = await h.executor.get(id);
        assert.equal(record?.state, "dead");
        assert.equal(record?.attempts.length, 3);
        assert.deepEqual(
          record?.attempts.map((a) => a.outcome),
          ["failed", "failed", "failed"],
        );
        assert.equal(record?.lastError?.message, "boom");
        for (const attempt of record?.attempts ?? []) {
          assert.ok(attempt.endedAt !== null && attempt.endedAt >= attempt.startedAt);
        }
      },
    );

    await t.step("backoff is capped at its max", async () => {
      await using h = await harness(storeCase, { random: () => 0.999 }, () => [
        defineJob({ kind: "boom", handler: () => Promise.reject(new Error("boom")) }) as JobKind,
      ]);
      const delays: number[] = [];
      h.executor.on("job:failed", (e) => e.retryAt !== null && delays.push(e.retryAt - Date.now()));
      await h.executor.enqueue({ kind: "boom", attempts: 6, backoff: { base: "1s", max: "3s" } });
      for (let i = 0; i < 6; i++) {
        await settle(h.clock);
        await h.clock.tickAsync(3_000);
      }
      assert.equal(delays.length, 5);
      assert.deepEqual(delays, [999, 1998, 2997, 2997, 2997]);
    });

    await t.step(
      "a PermanentJobError, a payload its kind refuses or used-up attempts end the job dead, with job:dead",
      async () => {
        const orphanId = "0190a000-0000-7000-8000-00000000dead";
        const dead: { id: string; reason: string; message: string }[] = [];
        const failed: { id: string; next: string }[] = [];
        await using h = await harness(storeCase, {}, () => [
          defineJob({
            kind: "perm",
            handler: () => Promise.reject(new PermanentJobError("no such table")),
          }) as JobKind,
          defineJob({ kind: "boom", handler: () => Promise.reject(new Error("boom")) }) as JobKind,
          defineJob({
            kind: "strict",
            validate: (p) => {
              if (typeof p !== "number") throw new Error("expected a number");
              return p;
            },
            handler: () => {},
          }) as JobKind,
        ], (store) =>
          // A job whose payload its kind now refuses (stored by an older version, say).
          store.insert([{
            id: orphanId,
            kind: "strict",
            payload: "{}",
            priority: "info",
            timeoutMs: null,
            maxAttempts: 3,
            backoff: { baseMs: 1_000, maxMs: 60_000 },
            uniqueKey: null,
            leases: [],
            createdAt: Date.now(),
            runAt: Date.now() + 60_000,
          }], Date.now()));
        h.executor.on("job:dead", (e) => {
          dead.push({ id: e.id, reason: e.reason, message: e.error.message });
        });
        h.executor.on("job:failed", (e) => failed.push({ id: e.id, next: e.next }));

        const perm = await h.executor.enqueue({ kind: "perm", attempts: 5 });
        const record = await h.executor.waitFor(perm.id);
        assert.equal(record.state, "dead", "a permanent failure is dead, not failed");
        assert.equal(record.attempts.length, 1, "and is not retried");
        assert.equal(record.attempts[0]?.outcome, "failed", "failed is the attempt's outcome");
        assert.equal(record.lastError?.message, "no such table");

        const boom = await h.executor.enqueue({ kind: "boom", attempts: 1 });
        assert.equal((await h.executor.waitFor(boom.id)).state, "dead");

        // The refused payload's job comes due a minute in.
        const waiting = h.executor.waitFor(orphanId);
        await h.clock.tickAsync(60_000);
        await settle(h.clock);
        const unknown = await waiting;
        assert.equal(unknown.state, "dead");
        assert.equal(unknown.attempts.length, 1);
        assert.match(unknown.lastError?.message ?? "", /invalid payload for "strict"/);
        await settle(h.clock);

        assert.deepEqual(dead, [
          { id: perm.id, reason: "permanent", message: "no such table" },
          { id: boom.id, reason: "exhausted", message: "boom" },
          {
            id: orphanId,
            reason: "permanent",
            message: 'invalid payload for "strict": expected a number',
          },
        ]);
        assert.deepEqual(failed, [
          { id: perm.id, next: "dead" },
          { id: boom.id, next: "dead" },
          { id: orphanId, next: "dead" },
        ]);
        const listed = await h.store.list({ state: "dead" });
        assert.deepEqual(
          listed.map((j) => j.id).sort(),
          [perm.id, boom.id, orphanId].sort(),
          "the store lists every one of them as dead",
        );
        const snapshot = await h.executor.snapshot();
        assert.equal(snapshot.totals.dead, 3);
        assert.equal(snapshot.queue.byState.dead, 3);
        assert.equal((snapshot.queue.byState as Record<string, number>).failed, undefined);
        // A dead job can be retried: back to queued with a fresh budget.
        const retried = await h.executor.retry(perm.id);
        assert.equal(retried.state, "queued");
      },
    );

    await t.step("a timeout aborts the signal with JOB_TIMEOUT and fails the attempt", async () => {
      await using h = await harness(storeCase);
      let reason: unknown;
      h.executor.on("job:started", () => {});
      const { id } = await h.executor.enqueue(
        job("slow", { timeout: "1s", attempts: 1 }, { ms: 60_000 }),
      );
      h.executor.once("job:failed", () => {});
      await settle(h.clock);
      await h.clock.tickAsync(999);
      assert.equal((await h.executor.get(id))?.state, "running");
      await h.clock.tickAsync(1);
      await settle(h.clock);
      const record = await h.executor.get(id);
      assert.equal(record?.state, "dead");
      assert.equal(record?.attempts[0]?.outcome, "timeout");
      assert.equal(record?.lastError?.code, "JOB_TIMEOUT");
      void reason;
    });

    await t.step(
      "a handler that ignores its signal is abandoned after killAfter and its worker freed",
      async () => {
        await using h = await harness(storeCase, { killAfter: "5s" }, (started) => [
          defineJob({
            kind: "stubborn",
            handler: () => {
              started.push("stubborn");
              return new Promise(() => {}); // never settles, ignores the signal
            },
          }) as JobKind,
        ]);
        let signalAborted = false;
        h.executor.on("job:started", () => {});
        const stubborn = await h.executor.enqueue({ kind: "stubborn", timeout: "1s", attempts: 1 });
        const next = await h.executor.enqueue(job("next"));
        await settle(h.clock);
        assert.deepEqual(h.started, ["stubborn"]);
        await h.clock.tickAsync(1_000);
        await settle(h.clock);
        assert.equal(
          (await h.executor.get(stubborn.id))?.state,
          "running",
          "still running during killAfter",
        );
        const snapshotDuring = await h.executor.snapshot();
        assert.equal(snapshotDuring.workers[0]?.job?.aborting, "timeout");
        signalAborted = true;
        await h.clock.tickAsync(5_000);
        await settle(h.clock);
        const record = await h.executor.get(stubborn.id);
        assert.equal(record?.state, "dead");
        assert.equal(record?.lastError?.code, "JOB_TIMEOUT");
        assert.match(record?.lastError?.message ?? "", /abandoned/);
        assert.deepEqual(h.started, ["stubborn", "next"], "the freed worker took the next job");
        assert.equal((await h.executor.get(next.id))?.state, "succeeded");
        const snapshot = await h.executor.snapshot();
        assert.equal(snapshot.totals.abandoned, 1);
        assert.ok(snapshot.warnings.some((w) => w.code === "HANDLER_ABANDONED"));
        assert.ok(signalAborted);
      },
    );

    await t.step("cancel: a queued job at once, a running one through its signal", async () => {
      await using h = await harness(storeCase);
      const running = await h.executor.enqueue(job("running", {}, { ms: 60_000 }));
      const queued = await h.executor.enqueue(job("queued"));
      await settle(h.clock);
      assert.deepEqual(h.started, ["running"]);
      const cancelledQueued = await h.executor.cancel(queued.id);
      assert.equal(cancelledQueued.state, "cancelled");
      const cancelling = await h.executor.cancel(running.id);
      // The answer is read after the signal aborts: a store that reads on another connection
      // (postgres) may already see the end the handler reported at once.
      assert.ok(
        cancelling.state === "running" ||
          (storeCase.name === "postgres" && cancelling.state === "cancelled"),
        cancelling.state,
      );
      await settle(h.clock);
      const record = await h.executor.get(running.id);
      assert.equal(record?.state, "cancelled");
      assert.equal(record?.attempts[0]?.outcome, "cancelled");
      assert.deepEqual(h.started, ["running"], "the cancelled queued job never ran");
      await assert.rejects(
        h.executor.cancel(queued.id),
        (e) => isLiminalError(e, "INVALID_JOB_STATE"),
      );
      await assert.rejects(
        h.executor.cancel("01890000-0000-7000-8000-000000000000"),
        (e) => isLiminalError(e, "JOB_NOT_FOUND"),
      );
    });

    await t.step("a scheduled job can be cancelled before it runs", async () => {
      await using h = await harness(storeCase);
      const { id } = await h.executor.enqueue(job("later", { delay: "1m" }));
      assert.equal((await h.executor.cancel(id)).state, "cancelled");
      await h.clock.tickAsync(120_000);
      await settle(h.clock);
      assert.deepEqual(h.started, []);
    });

    await t.step("a unique key holds while its job is live", async () => {
      await using h = await harness(storeCase);
      h.executor.pause();
      const first = await h.executor.enqueue(job("a", { uniqueKey: "compact:orders" }));
      const second = await h.executor.enqueue(job("b", { uniqueKey: "compact:orders" }));
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.id, first.id);
      const batch = await h.executor.enqueueMany([
        job("c", { uniqueKey: "k2" }),
        job("d", { uniqueKey: "k2" }),
      ]);
      assert.equal(batch[1]!.id, batch[0]!.id);
      h.executor.resume();
      await h.executor.waitFor(first.id);
      const third = await h.executor.enqueue(job("e", { uniqueKey: "compact:orders" }));
      assert.equal(third.created, true);
      assert.notEqual(third.id, first.id);
      await settle(h.clock);
      assert.deepEqual(h.started, ["a", "c", "e"]);
    });

    await t.step(
      "a worker whose job shows no life for stuckAfter is stuck until it beats",
      async () => {
        let ctxRef: JobContext | undefined;
        await using h = await harness(storeCase, { stuckAfter: "30s" }, () => [
          defineJob({
            kind: "quiet",
            handler: (ctx) => {
              ctxRef = ctx as JobContext;
              return new Promise<void>((resolve) => setTimeout(resolve, 100_000));
            },
          }) as JobKind,
        ]);
        const stuckEvents: string[] = [];
        h.executor.on("worker:stuck", (e) => stuckEvents.push(e.worker));
        await h.executor.enqueue({ kind: "quiet" });
        await settle(h.clock);
        await h.clock.tickAsync(29_000);
        assert.equal((await h.executor.snapshot()).workers[0]?.state, "busy");
        await h.clock.tickAsync(1_000);
        const snapshot = await h.executor.snapshot();
        assert.equal(snapshot.workers[0]?.state, "stuck");
        assert.ok(snapshot.warnings.some((w) => w.code === "WORKER_STUCK"));
        assert.deepEqual(stuckEvents, ["w1"]);
        ctxRef!.heartbeat();
        assert.equal((await h.executor.snapshot()).workers[0]?.state, "busy");
        await h.clock.tickAsync(20_000);
        ctxRef!.progress(5, 10);
        const busy = await h.executor.snapshot();
        assert.equal(busy.workers[0]?.state, "busy");
        assert.deepEqual(busy.workers[0]?.job?.progress, { done: 5, total: 10 });
      },
    );

    await t.step("a per-kind concurrency limit holds while other kinds run", async () => {
      await using h = await harness(
        storeCase,
        { workers: 4 },
        (started) => [recordingKind(started, "single", 1)],
      );
      const running = new Set<string>();
      let maxSingle = 0;
      h.executor.on("job:started", (e) => {
        if (e.kind === "single") {
          running.add(e.id);
          maxSingle = Math.max(maxSingle, running.size);
        }
      });
      h.executor.on("job:succeeded", (e) => running.delete(e.id));
      await h.executor.enqueueMany([
        { kind: "single", payload: { name: "s1", ms: 100 } },
        { kind: "single", payload: { name: "s2", ms: 100 } },
        { kind: "single", payload: { name: "s3", ms: 100 } },
        job("r1", {}, { ms: 10 }),
        job("r2", {}, { ms: 10 }),
      ]);
      await settle(h.clock);
      assert.deepEqual(h.started, ["s1", "r1", "r2"]);
      await h.clock.tickAsync(300);
      await settle(h.clock);
      assert.deepEqual(h.started, ["s1", "r1", "r2", "s2", "s3"]);
      assert.equal(maxSingle, 1);
    });

    await t.step("bad input is refused with a specific error and changes nothing", async () => {
      await using h = await harness(storeCase);
      const cases: [unknown, string, RegExp][] = [
        [{ kind: "clenaup" }, "UNKNOWN_JOB_KIND", /unknown job kind "clenaup"; known: rec/],
        [
          { kind: "rec", priority: "urgent" },
          "INVALID_PRIORITY",
          /"urgent"; use one of: info, coordinate/,
        ],
        [{ kind: "rec", delay: "10x" }, "INVALID_DURATION", /"10x"/],
        [{ kind: "rec", timeout: "0s" }, "INVALID_DURATION", /longer than 0/],
        [{ kind: "rec", delay: 1e300 }, "INVALID_DURATION", /3650d/],
        [{ kind: "rec", timeout: "99999999999d" }, "INVALID_DURATION", /3650d/],
        [{ kind: "rec", runAt: "9999-12-31T00:00:00Z" }, "INVALID_ARGUMENT", /10 years/],
        [{ kind: "rec", runAt: 8.64e15 }, "INVALID_ARGUMENT", /10 years/],
        [{ kind: "rec", attempts: 0 }, "INVALID_ARGUMENT", /attempts/],
        [
          { kind: "rec", payload: { blob: "x".repeat(1024 * 1024 + 1) } },
          "PAYLOAD_TOO_LARGE",
          /limit is 1 MiB/,
        ],
        [
          { kind: "rec", payload: { n: 1n } as unknown as JsonValue },
          "INVALID_PAYLOAD",
          /not JSON-serialisable/,
        ],
      ];
      for (const [spec, code, message] of cases) {
        await assert.rejects(
          h.executor.enqueue(spec as never),
          (e) => isLiminalError(e) && e.code === code && message.test(e.message),
          `expected ${code}`,
        );
      }
      // One bad spec refuses the whole batch.
      await assert.rejects(
        h.executor.enqueueMany([job("ok"), { kind: "nope" }]),
        (e) => isLiminalError(e, "UNKNOWN_JOB_KIND"),
      );
      const counts = await h.store.counts();
      assert.equal(Object.values(counts.byState).reduce((a, b) => a + b, 0), 0);
      assert.deepEqual(h.started, []);
    });

    await t.step("the kind's validator refuses a bad payload at enqueue time", async () => {
      await using h = await harness(storeCase, {}, () => [
        defineJob({
          kind: "strict",
          validate: (p) => {
            if (
              typeof p !== "object" || p === null || Array.isArray(p) || typeof p.dir !== "string"
            ) throw new Error("needs dir");
            return p;
          },
          handler: () => {},
        }) as JobKind,
      ]);
      await assert.rejects(
        h.executor.enqueue({ kind: "strict", payload: { dri: "/tmp" } }),
        (e) =>
          isLiminalError(e, "INVALID_PAYLOAD") &&
          /invalid payload for "strict": needs dir/.test(e.message),
      );
      const ok = await h.executor.enqueue({ kind: "strict", payload: { dir: "/tmp" } });
      assert.equal((await h.executor.waitFor(ok.id)).state, "succeeded");
    });

    await t.step("interrupt() requeues running jobs with an interrupted attempt", async () => {
      await using h = await harness(storeCase);
      const { id } = await h.executor.enqueue(job("long", {}, { ms: 60_000 }));
      const queued = await h.executor.enqueue(job("waiting"));
      await settle(h.clock);
      h.executor.closeIntake();
      const interrupting = h.executor.interrupt(1_000);
      await settle(h.clock);
      assert.equal(await interrupting, 1);
      const record = await h.executor.get(id);
      assert.equal(record?.state, "queued");
      assert.equal(record?.attempts[0]?.outcome, "interrupted");
      assert.equal(record?.interruptions, 1);
      assert.equal((await h.executor.get(queued.id))?.state, "queued", "queued jobs stay queued");
      await assert.rejects(
        h.executor.enqueue(job("late")),
        (e) => isLiminalError(e, "RUNTIME_SHUTTING_DOWN"),
      );
    });

    await t.step(
      "a job interrupted more than maxInterruptions times is dead, with job:dead",
      async () => {
        await using h = await harness(storeCase, { maxInterruptions: 0 });
        const reasons: string[] = [];
        h.executor.on("job:dead", (e) => reasons.push(e.reason));
        const { id } = await h.executor.enqueue(job("long", {}, { ms: 60_000 }));
        await settle(h.clock);
        h.executor.closeIntake();
        const interrupting = h.executor.interrupt(1_000);
        await settle(h.clock);
        assert.equal(await interrupting, 1);
        await settle(h.clock);
        const record = await h.executor.get(id);
        assert.equal(record?.state, "dead");
        assert.equal(record?.attempts[0]?.outcome, "interrupted");
        assert.deepEqual(reasons, ["interrupted"]);
      },
    );

    await t.step("drain() waits for running jobs up to the grace period", async () => {
      await using h = await harness(storeCase, { workers: 2 });
      const quick = await h.executor.enqueue(job("quick", {}, { ms: 2_000 }));
      const slow = await h.executor.enqueue(job("slow", {}, { ms: 20_000 }));
      await settle(h.clock);
      const draining = h.executor.drain(10_000);
      await h.clock.tickAsync(10_000);
      assert.equal(await draining, 1);
      assert.equal((await h.executor.get(quick.id))?.state, "succeeded");
      assert.equal((await h.executor.get(slow.id))?.state, "running");
      const interrupting = h.executor.interrupt(1_000);
      await settle(h.clock);
      assert.equal(await interrupting, 1);
    });

    await t.step("a small window refills from the store in priority and FIFO order", async () => {
      await using h = await harness(storeCase, { window: 2 });
      h.executor.pause();
      const specs = [];
      for (let i = 0; i < 6; i++) specs.push(job(`info-${i}`, { priority: "info" }));
      for (let i = 0; i < 5; i++) specs.push(job(`crit-${i}`, { priority: "critical" }));
      await h.executor.enqueueMany(specs);
      assert.ok(h.executor.inMemory <= 4, `two per priority in memory, not ${h.executor.inMemory}`);
      h.executor.resume();
      await settle(h.clock, 60);
      assert.deepEqual(h.started, [
        "crit-0",
        "crit-1",
        "crit-2",
        "crit-3",
        "crit-4",
        "info-0",
        "info-1",
        "info-2",
        "info-3",
        "info-4",
        "info-5",
      ]);
    });

    await t.step(
      "a thousand queued jobs with a window of 16 keep at most 16 per priority in memory",
      async () => {
        await using h = await harness(storeCase, { window: 16, workers: 4 });
        h.executor.pause();
        const specs = Array.from(
          { length: 1_000 },
          (_, i) => job(`j${i}`, { priority: i % 2 ? "info" : "blocking" }),
        );
        await h.executor.enqueueMany(specs);
        assert.ok(h.executor.inMemory <= 32, `in memory: ${h.executor.inMemory}`);
        let most = 0;
        h.executor.on("job:started", () => (most = Math.max(most, h.executor.inMemory)));
        h.executor.resume();
        await settle(h.clock, 400);
        assert.equal(h.started.length, 1_000);
        assert.ok(most <= 32, `never more than the window in memory (${most})`);
        const blocking = h.started.filter((n) => Number(n.slice(1)) % 2 === 0);
        assert.deepEqual(
          h.started.slice(0, 500),
          blocking,
          "all blocking jobs before any info job",
        );
      },
    );

    await t.step("handlers get progress, log and their attempt; results are kept", async () => {
      await using h = await harness(storeCase, {}, () => [
        defineJob({
          kind: "report",
          handler: (ctx) => {
            ctx.progress(1, 2);
            ctx.log("halfway");
            ctx.progress(2, 2);
            return { attempt: ctx.attempt, id: ctx.job.id };
          },
        }) as JobKind,
      ]);
      const { id } = await h.executor.enqueue({ kind: "report" });
      const record = await h.executor.waitFor(id);
      assert.equal(record.state, "succeeded");
      assert.deepEqual(JSON.parse(record.result ?? "null"), { attempt: 1, id });
      assert.deepEqual(record.logs.map((l) => l.message), ["halfway"]);
    });

    await t.step("onIdle resolves once the queue is empty and nothing runs", async () => {
      await using h = await harness(storeCase, { workers: 3 });
      await h.executor.enqueueMany(
        Array.from({ length: 20 }, (_, i) => job(`j${i}`, {}, { ms: 10 })),
      );
      let idle = false;
      const waiting = h.executor.onIdle().then(() => (idle = true));
      await settle(h.clock);
      assert.equal(idle, false);
      await h.clock.tickAsync(100);
      await waiting;
      assert.equal(h.started.length, 20);
      const snapshot = await h.executor.snapshot();
      assert.equal(snapshot.totals.succeeded, 20);
      assert.equal(snapshot.queue.byState.succeeded, 20);
      assert.ok(
        snapshot.runMs.count === 20 && snapshot.runMs.p50 !== null && snapshot.runMs.p50 >= 9,
      );
    });
  });
}

/** A kind whose handler never settles and shows no life (it ignores its signal too). */
function hangingKind(kind: string, stuckAfter?: string | null): JobKind {
  return defineJob({
    kind,
    ...(stuckAfter === undefined ? {} : { stuckAfter }),
    handler: () => new Promise<never>(() => {}),
  }) as JobKind;
}

const MEMORY = STORE_CASES.find((c) => c.name === "memory")!;

Deno.test("liveness: a worker is stuck only when its job shows no life it should show", async (t) => {
  await t.step(
    "the executor's stuckAfter is the default; the warning and the event say what to do",
    async () => {
      await using h = await harness(MEMORY, { stuckAfter: "10s" }, () => [hangingKind("hang")]);
      const events: { silentMs: number; stuckAfterMs: number; kind: string; hint: string }[] = [];
      h.executor.on("worker:stuck", (e) => events.push(e));
      await h.executor.enqueue({ kind: "hang" });
      await settle(h.clock);
      await h.clock.tickAsync(9_999);
      assert.equal((await h.executor.snapshot()).workers[0]?.state, "busy");
      assert.equal(events.length, 0);
      await h.clock.tickAsync(1);
      const snapshot = await h.executor.snapshot();
      assert.equal(snapshot.workers[0]?.state, "stuck");
      assert.equal(events.length, 1);
      assert.equal(events[0]!.kind, "hang");
      assert.equal(events[0]!.stuckAfterMs, 10_000);
      assert.equal(events[0]!.silentMs, 10_000);
      assert.match(events[0]!.hint, /ctx\.heartbeat\(\)/);
      assert.match(events[0]!.hint, /stuckAfter on its kind/);
      assert.match(events[0]!.hint, /--stuck-after/);
      const warning = snapshot.warnings.find((w) => w.code === "WORKER_STUCK");
      assert.match(
        warning?.message ?? "",
        /^worker w1 running hang \S+: no heartbeat, progress or log for 10s; if this job is long and quiet, call ctx\.heartbeat\(\)/,
      );
    },
  );

  await t.step("a kind's stuckAfter overrides the default, longer or shorter", async () => {
    await using h = await harness(
      MEMORY,
      { stuckAfter: "30s", workers: 2 },
      () => [hangingKind("patient", "5m"), hangingKind("eager", "1s")],
    );
    const stuck: string[] = [];
    h.executor.on("worker:stuck", (e) => stuck.push(`${e.kind}@${Date.now() - start}`));
    const start = Date.now();
    await h.executor.enqueueMany([{ kind: "patient" }, { kind: "eager" }]);
    await settle(h.clock);
    await h.clock.tickAsync(60_000);
    assert.deepEqual(stuck, ["eager@1000"], "eager after its 1s; patient not at the default 30s");
    await h.clock.tickAsync(4 * 60_000 - 1);
    assert.deepEqual(stuck, ["eager@1000"]);
    await h.clock.tickAsync(1);
    assert.deepEqual(stuck, ["eager@1000", "patient@300000"]);
  });

  await t.step("stuckAfter: null is never stuck; a timeout still bounds it", async () => {
    await using h = await harness(MEMORY, { stuckAfter: "1s" }, () => [
      hangingKind("forever", null),
    ]);
    const stuck: string[] = [];
    h.executor.on("worker:stuck", (e) => stuck.push(e.jobId));
    const { id } = await h.executor.enqueue({ kind: "forever", timeout: "10h", attempts: 1 });
    await settle(h.clock);
    for (let hour = 0; hour < 9; hour++) await h.clock.tickAsync(3_600_000);
    const snapshot = await h.executor.snapshot();
    assert.equal(snapshot.workers[0]?.state, "busy");
    assert.ok(!snapshot.warnings.some((w) => w.code === "WORKER_STUCK"));
    assert.deepEqual(stuck, []);
    await h.clock.tickAsync(3_600_000 + 5_000);
    await settle(h.clock);
    assert.equal((await h.executor.get(id))?.lastError?.code, "JOB_TIMEOUT");
    assert.deepEqual(stuck, []);
  });

  await t.step("a built-in sleep of one hour is alive all along and succeeds", async () => {
    await using h = await harness(MEMORY, { kinds: [sleepJob as JobKind] });
    const stuck: string[] = [];
    h.executor.on("worker:stuck", (e) => stuck.push(e.jobId));
    const { id } = await h.executor.enqueue({ kind: "sleep", payload: { ms: 3_600_000 } });
    await settle(h.clock);
    for (let minute = 1; minute < 60; minute++) {
      await h.clock.tickAsync(60_000);
      const snapshot = await h.executor.snapshot();
      assert.equal(snapshot.workers[0]?.state, "busy", `minute ${minute}`);
      assert.equal(snapshot.workers[0]?.silentMs, 0, "its timer is life shown now");
    }
    assert.deepEqual(stuck, [], "no stuck warning in an hour of sleep");
    await h.clock.tickAsync(60_000);
    await settle(h.clock);
    const record = await h.executor.get(id);
    assert.equal(record?.state, "succeeded");
    assert.deepEqual(stuck, []);
  });

  await t.step(
    "aliveWhile: alive while the work is pending, silent from when it settles",
    async () => {
      let result: unknown;
      await using h = await harness(MEMORY, { stuckAfter: "30s" }, () => [
        defineJob({
          kind: "waits-then-hangs",
          handler: async (ctx) => {
            result = await ctx.aliveWhile(
              new Promise<string>((resolve) => setTimeout(() => resolve("woke"), 60_000)),
            );
            await assert.rejects(
              ctx.aliveWhile(Promise.reject(new Error("passed on"))),
              /passed on/,
            );
            return await new Promise<never>(() => {}); // no life from here on
          },
        }) as JobKind,
      ]);
      const stuck: number[] = [];
      const start = Date.now();
      h.executor.on("worker:stuck", () => stuck.push(Date.now() - start));
      await h.executor.enqueue({ kind: "waits-then-hangs" });
      await settle(h.clock);
      await h.clock.tickAsync(60_000);
      await settle(h.clock);
      assert.equal(result, "woke", "aliveWhile returns the work's value");
      await h.clock.tickAsync(29_999);
      assert.deepEqual(stuck, []);
      assert.equal((await h.executor.snapshot()).workers[0]?.state, "busy");
      await h.clock.tickAsync(1);
      assert.deepEqual(stuck, [90_000], "stuck 30 s after its wait ended");
    },
  );

  await t.step("defineJob refuses a stuckAfter that is not a positive duration", () => {
    for (const bad of ["0s", "soon", -5]) {
      assert.throws(
        () =>
          defineJob({
            kind: "bad",
            stuckAfter: bad as string,
            handler: () => {},
          }),
        (e) => isLiminalError(e, "INVALID_DURATION") && /stuckAfter|duration/.test(e.message),
        String(bad),
      );
    }
  });
});
