/**
 * Schedules under fake time: intervals, cron in a named time zone across a DST change,
 * overlap and missed-run policies, pause/resume/trigger, persistence, bad input.
 */
import assert from "node:assert/strict";
import { defineJob, type JobKind, MaintenanceExecutor } from "../../src/executor/mod.ts";
import { defineSchedule, nextDue, Scheduler } from "../../src/scheduler/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { type JobStore, MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import { type FakeClock, installFakeTime, settle } from "../_support/fake_time.ts";

const noop = defineJob({ kind: "noop", handler: () => {} }) as JobKind;
const slow = defineJob({
  kind: "slow",
  handler: ({ signal }) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, 10_000);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(signal.reason);
      }, { once: true });
    }),
}) as JobKind;

interface Harness extends AsyncDisposable {
  scheduler: Scheduler;
  executor: MaintenanceExecutor;
  store: JobStore;
  fired: { name: string; jobId: string | null; skipped: string | null; dueAt: number }[];
}

async function harness(
  clock: FakeClock,
  definitions: ReturnType<typeof defineSchedule>[],
  store: JobStore = new MemoryStore(),
): Promise<Harness> {
  await store.open();
  const executor = new MaintenanceExecutor({ store, kinds: [noop, slow], workers: 2 });
  await executor.start();
  const scheduler = new Scheduler({
    store,
    definitions,
    target: {
      enqueue: (spec) => executor.enqueue(spec),
      get: (id) => executor.get(id),
      requireKind: (kind) => void executor.kinds.require(kind),
    },
  });
  const fired: Harness["fired"] = [];
  scheduler.on("schedule:fired", (e) => fired.push(e));
  await scheduler.start();
  return {
    scheduler,
    executor,
    store,
    fired,
    async [Symbol.asyncDispose]() {
      await scheduler.stop();
      let stopped = false;
      const stopping = executor.stop().finally(() => (stopped = true));
      for (let i = 0; i < 100 && !stopped; i++) await clock.tickAsync(1_000);
      await stopping;
      await store.close();
    },
  };
}

Deno.test("nextDue: interval grid and cron in Europe/Berlin across the spring DST change", () => {
  assert.equal(nextDue({ every: 30_000 }, 1_000, 0), 30_000);
  assert.equal(nextDue({ every: 30_000 }, 30_000, 0), 60_000, "strictly after");
  const berlin = { cron: "30 2 * * *", timezone: "Europe/Berlin" };
  const day1 = nextDue(berlin, Date.UTC(2026, 2, 27, 12), 0)!;
  assert.equal(new Date(day1).toISOString(), "2026-03-28T01:30:00.000Z", "02:30 CET");
  const day2 = nextDue(berlin, day1, 0)!;
  // 2026-03-29: clocks jump 02:00 → 03:00 in Berlin: 02:30 does not exist that day.
  assert.equal(
    new Date(day2).toISOString(),
    "2026-03-29T01:00:00.000Z",
    "03:00 CEST, the first valid time",
  );
  const day3 = nextDue(berlin, day2, 0)!;
  assert.equal(new Date(day3).toISOString(), "2026-03-30T00:30:00.000Z", "02:30 CEST");
  const ny = nextDue(
    { cron: "0 9 * * *", timezone: "America/New_York" },
    Date.UTC(2026, 10, 1, 12),
    0,
  )!;
  assert.equal(
    new Date(ny).toISOString(),
    "2026-11-01T14:00:00.000Z",
    "the day the clocks go back: 09:00 EST",
  );
});

Deno.test("an interval schedule enqueues a job every interval", async () => {
  using clock = installFakeTime();
  await using h = await harness(clock, [
    defineSchedule({ name: "tick", every: "10s", job: { kind: "noop" } }),
  ]);
  await clock.tickAsync(10_000);
  await settle(clock);
  assert.equal(h.fired.length, 1);
  await clock.tickAsync(30_000);
  await settle(clock);
  assert.equal(h.fired.length, 4);
  assert.ok(h.fired.every((f) => f.jobId !== null && f.skipped === null));
  const [view] = await h.scheduler.list();
  assert.equal(view?.runs, 4);
  assert.equal(view?.lastRun?.state, "succeeded");
  assert.equal(view?.lastRun?.lateMs, 0);
  assert.equal(view?.nextRunAt, new Date(Date.now() + 10_000).toISOString());
});

Deno.test("a cron schedule fires at its local time across a DST change", async () => {
  using clock = installFakeTime(Date.UTC(2026, 2, 27, 12));
  await using h = await harness(clock, [
    defineSchedule({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      job: { kind: "noop" },
    }),
  ]);
  await clock.tickAsync(3 * 86_400_000);
  await settle(clock);
  assert.deepEqual(h.fired.map((f) => new Date(f.dueAt).toISOString()), [
    "2026-03-28T01:30:00.000Z",
    "2026-03-29T01:00:00.000Z",
    "2026-03-30T00:30:00.000Z",
  ]);
});

Deno.test("overlap: skip while the previous run is live; queue enqueues anyway", async () => {
  using clock = installFakeTime();
  await using h = await harness(clock, [
    defineSchedule({ name: "skip", every: "3s", job: { kind: "slow" } }),
    defineSchedule({ name: "queue", every: "3s", job: { kind: "slow" }, overlap: "queue" }),
  ]);
  await clock.tickAsync(9_000);
  await settle(clock);
  const skip = h.fired.filter((f) => f.name === "skip");
  const queue = h.fired.filter((f) => f.name === "queue");
  assert.equal(skip.length, 3);
  assert.equal(
    skip.filter((f) => f.jobId !== null).length,
    1,
    "one run while the first is still running",
  );
  assert.match(skip[1]!.skipped!, /the previous run .* is still (running|queued)/);
  assert.equal(queue.filter((f) => f.jobId !== null).length, 3, "queue enqueues every run");
  const view = (await h.scheduler.list()).find((s) => s.name === "skip");
  assert.match(view?.lastRun?.skipped ?? "", /still/);
});

Deno.test("missed runs: run-once fires once at start, skip moves on", async () => {
  using clock = installFakeTime();
  const dir = await Deno.makeTempDir({ prefix: "liminal-sched-" });
  try {
    const path = `${dir}/s.db`;
    const definitions = [
      defineSchedule({ name: "once", every: "1m", job: { kind: "noop" }, missed: "run-once" }),
      defineSchedule({ name: "skip", every: "1m", job: { kind: "noop" } }),
    ];
    {
      await using _first = await harness(clock, definitions, new SqliteStore({ path }));
    }
    // The runtime is down for ten minutes: ten runs of each are missed.
    await clock.tickAsync(10 * 60_000);
    await using second = await harness(clock, definitions, new SqliteStore({ path }));
    await settle(clock);
    assert.deepEqual(second.fired.map((f) => f.name), ["once"], "one catch-up run, not ten");
    const views = await second.scheduler.list();
    assert.equal(views.find((v) => v.name === "once")?.runs, 1);
    assert.equal(views.find((v) => v.name === "skip")?.runs, 0);
    assert.ok(Date.parse(views.find((v) => v.name === "skip")!.nextRunAt!) > Date.now());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pause, resume, trigger, add and remove; persisted across a restart", async () => {
  using clock = installFakeTime();
  const dir = await Deno.makeTempDir({ prefix: "liminal-sched-" });
  try {
    const path = `${dir}/s.db`;
    const definitions = [defineSchedule({ name: "tick", every: "5s", job: { kind: "noop" } })];
    {
      await using h = await harness(clock, definitions, new SqliteStore({ path }));
      await h.scheduler.pause("tick");
      await clock.tickAsync(30_000);
      await settle(clock);
      assert.equal(h.fired.length, 0, "a paused schedule fires nothing");
      const triggered = await h.scheduler.trigger("tick");
      assert.ok(triggered.jobId);
      assert.equal(h.fired.length, 1, "trigger runs it once, paused or not");
      await h.scheduler.add(defineSchedule({ name: "added", every: "1h", job: { kind: "noop" } }));
      await assert.rejects(
        h.scheduler.add(defineSchedule({ name: "added", every: "1h", job: { kind: "noop" } })),
        (e) =>
          isLiminalError(e, "SCHEDULE_EXISTS") &&
          e.hint === "remove it first: liminal schedules remove added",
      );
      await assert.rejects(
        h.scheduler.add(defineSchedule({ name: "tick", every: "1h", job: { kind: "noop" } })),
        (e) =>
          isLiminalError(e, "SCHEDULE_EXISTS") &&
          /declared in a --jobs module and cannot be removed at run time: choose another name/
            .test(e.hint ?? "") &&
          !/remove it first/.test(e.hint ?? ""),
        "a module's schedule is not offered for removal",
      );
      await assert.rejects(
        h.scheduler.remove("tick"),
        (e) => isLiminalError(e, "INVALID_ARGUMENT") && /--jobs module/.test(e.message),
      );
      await assert.rejects(
        h.scheduler.pause("nope"),
        (e) => isLiminalError(e, "SCHEDULE_NOT_FOUND"),
      );
      await assert.rejects(
        h.scheduler.add(
          defineSchedule({ name: "bad-kind", every: "1m", job: { kind: "clenaup" } }),
        ),
        (e) => isLiminalError(e, "UNKNOWN_JOB_KIND"),
      );
    }
    await using h = await harness(clock, definitions, new SqliteStore({ path }));
    const views = await h.scheduler.list();
    assert.deepEqual(views.map((v) => [v.name, v.source, v.paused]), [["added", "api", false], [
      "tick",
      "module",
      true,
    ]]);
    await h.scheduler.resume("tick");
    await clock.tickAsync(5_000);
    await settle(clock);
    assert.equal(h.fired.filter((f) => f.name === "tick").length, 1, "resumed");
    await h.scheduler.remove("added");
    assert.deepEqual((await h.scheduler.list()).map((v) => v.name), ["tick"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad schedules are refused with a specific error", () => {
  const cases: [() => unknown, string, RegExp][] = [
    [
      () => defineSchedule({ name: "x", cron: "61 * * * *", job: { kind: "noop" } }),
      "INVALID_ARGUMENT",
      /invalid cron expression "61 \* \* \* \*"/,
    ],
    [
      () => defineSchedule({ name: "x", cron: "0 3 31 2 *", job: { kind: "noop" } }),
      "INVALID_ARGUMENT",
      /cron expression "0 3 31 2 \*" never fires/,
    ],
    [
      () => defineSchedule({ name: "x", every: "99999d", job: { kind: "noop" } }),
      "INVALID_DURATION",
      /3650d/,
    ],
    [
      () =>
        defineSchedule({
          name: "x",
          cron: "0 3 * * *",
          timezone: "Mars/Olympus",
          job: { kind: "noop" },
        }),
      "INVALID_ARGUMENT",
      /unknown time zone "Mars\/Olympus"/,
    ],
    [
      () => defineSchedule({ name: "x", every: "10ms", job: { kind: "noop" } }),
      "INVALID_DURATION",
      /at least 100ms/,
    ],
    [
      () => defineSchedule({ name: "x", every: "10x", job: { kind: "noop" } }),
      "INVALID_DURATION",
      /"10x"/,
    ],
    [
      () => defineSchedule({ name: "x", every: "1s", cron: "* * * * *", job: { kind: "noop" } }),
      "INVALID_ARGUMENT",
      /exactly one/,
    ],
    [
      () => defineSchedule({ name: "x y", every: "1s", job: { kind: "noop" } }),
      "INVALID_ARGUMENT",
      /invalid schedule name/,
    ],
    [
      () =>
        defineSchedule({
          name: "x",
          every: "1s",
          job: { kind: "noop" },
          overlap: "maybe" as never,
        }),
      "INVALID_ARGUMENT",
      /overlap must be skip or queue/,
    ],
  ];
  for (const [make, code, pattern] of cases) {
    assert.throws(
      make,
      (e) => isLiminalError(e, code as never) && pattern.test(e.message),
      pattern.source,
    );
  }
});
