/**
 * Schedules and leases end to end: a module's every-1s schedule runs, pauses and triggers;
 * two jobs needing one lease never overlap; `jobs why` names the holder; a killed runtime's
 * lease comes back after its TTL; bad input is refused.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURES = new URL("./fixtures/maintenance.ts", import.meta.url).pathname;

async function start(dir: string): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", "--jobs", FIXTURES], { cwd: dir });
  await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime to start");
  return proc;
}

Deno.test("schedules and leases end to end", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-maint-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const json = async (args: string[]) => {
    const result = await cli([...args, "--json"]);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const ticks = async () =>
    (await json(["jobs", "--kind", "tick", "--limit", "1000"])).jobs.length as number;
  try {
    let runtime = await start(dir);

    await t.step(
      "an every-1s schedule from a module runs several times; pause stops it; trigger runs it once",
      async () => {
        await new Promise((r) => setTimeout(r, 3_500));
        const { schedules } = await json(["schedules"]);
        const tick = schedules.find((s: { name: string }) => s.name === "tick");
        assert.ok(tick.runs >= 3, `ran ${tick.runs} times`);
        assert.equal(tick.source, "module");
        assert.equal(tick.lastRun.state, "succeeded");
        const human = await cli(["schedules"]);
        assert.match(human.stdout, /^tick\s+every 1s\s+tick\s+active/m);
        assert.equal((await cli(["schedules", "pause", "tick"])).code, 0);
        const paused = await ticks();
        await new Promise((r) => setTimeout(r, 2_200));
        assert.equal(await ticks(), paused, "nothing runs while paused");
        const triggered = await cli(["schedules", "trigger", "tick"]);
        assert.equal(triggered.code, 0, triggered.stderr);
        assert.match(triggered.stdout, /^[0-9a-f-]{36}\n$/);
        assert.equal(await ticks(), paused + 1);
        assert.equal((await cli(["schedules", "resume", "tick"])).code, 0);
      },
    );

    await t.step(
      "two jobs needing the same lease never run at the same time; jobs why names the holder",
      async () => {
        const first =
          (await cli(["enqueue", "guarded", "--payload", '{"ms": 1500}', "--lease", "db/orders"]))
            .stdout.trim();
        const second =
          (await cli(["enqueue", "guarded", "--payload", '{"ms": 500}', "--lease", "db/orders"]))
            .stdout.trim();
        await new Promise((r) => setTimeout(r, 400));
        const why = await json(["jobs", "why", second]);
        assert.equal(why.state, "queued");
        assert.ok(
          why.reasons.some((r: string) => r.includes(`lease db/orders, held by job:${first}`)),
          why.reasons.join("\n"),
        );
        const human = await cli(["jobs", "why", second]);
        assert.match(human.stdout, /is queued:\n {2}- it needs lease db\/orders, held by job:/);
        const leases = await json(["leases"]);
        const orders = leases.leases.find((l: { resource: string }) => l.resource === "db/orders");
        assert.equal(orders.holder, `job:${first}`);
        assert.deepEqual(
          orders.waiters.map((w: { jobId: string }) => w.jobId),
          [second],
          "the waiting job shows as a waiter",
        );
        const done = await cli(["enqueue", "tick", "--wait"]);
        assert.equal(done.code, 0);
        const deadline = performance.now() + 10_000;
        let a, b;
        while (performance.now() < deadline) {
          a = await json(["jobs", "show", first]);
          b = await json(["jobs", "show", second]);
          if (a.state === "succeeded" && b.state === "succeeded") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(a.state, "succeeded");
        assert.equal(b.state, "succeeded");
        assert.ok(
          b.result.started >= a.result.ended,
          `the second started (${b.result.started}) after the first ended (${a.result.ended})`,
        );
      },
    );

    await t.step(
      "bad schedules and leases are refused with the right exit code; nothing changes",
      async () => {
        const cases: [string[], number, RegExp][] = [
          [
            ["schedules", "add", "x", "--cron", "61 * * * *", "--kind", "tick"],
            2,
            /INVALID_ARGUMENT: invalid cron expression/,
          ],
          [
            [
              "schedules",
              "add",
              "x",
              "--cron",
              "0 3 * * *",
              "--timezone",
              "Mars/Olympus",
              "--kind",
              "tick",
            ],
            2,
            /unknown time zone "Mars\/Olympus"/,
          ],
          [["schedules", "add", "x", "--every", "10x", "--kind", "tick"], 2, /INVALID_DURATION/],
          [["schedules", "add", "x", "--every", "1m", "--kind", "clenaup"], 2, /UNKNOWN_JOB_KIND/],
          [["schedules", "pause", "nope"], 2, /SCHEDULE_NOT_FOUND/],
          [
            ["leases", "acquire", "db/x", "--ttl", "2h"],
            2,
            /INVALID_DURATION: a lease TTL of 2h is over the maximum of 1h/,
          ],
          [["leases", "release", "db/never"], 4, /LEASE_NOT_HELD/],
          [["leases", "acquire", "not a resource"], 2, /invalid resource/],
        ];
        for (const [args, code, pattern] of cases) {
          const result = await cli(args);
          assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, pattern, args.join(" "));
        }
        assert.deepEqual(
          (await json(["schedules"])).schedules.map((s: { name: string }) => s.name),
          ["tick"],
        );
        const held = await cli(["leases", "acquire", "db/x", "--holder", "ana"]);
        assert.equal(held.code, 0);
        const conflict = await cli(["leases", "acquire", "db/x", "--holder", "bob"]);
        assert.equal(conflict.code, 4);
        assert.match(conflict.stderr, /LEASE_HELD: db\/x is held by ana/);
        // A waiter whose client goes away (Ctrl-C) stops waiting; the lease is not handed to it.
        const waiter = spawnLiminal(["leases", "acquire", "db/x", "--holder", "carol", "--wait"], {
          cwd: dir,
        });
        const waiters = async () =>
          (await json(["leases"])).leases.find((l: { resource: string }) => l.resource === "db/x")
            ?.waiters?.length ?? 0;
        const until = Date.now() + 10_000;
        while ((await waiters()) === 0) {
          assert.ok(Date.now() < until, "carol never waited");
          await new Promise((r) => setTimeout(r, 50));
        }
        waiter.kill("SIGINT");
        await waiter.done();
        const gone = Date.now() + 5_000;
        while ((await waiters()) !== 0) {
          assert.ok(Date.now() < gone, "carol still waits after her client left");
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal((await cli(["leases", "release", "db/x", "--holder", "ana"])).code, 0);
        const free = await cli(["leases", "acquire", "db/x", "--holder", "dan"]);
        assert.equal(free.code, 0, `the lease went to nobody: ${free.stderr}`);
        assert.equal((await cli(["leases", "release", "db/x", "--holder", "dan"])).code, 0);
      },
    );

    await t.step(
      "a runtime killed with a lease held gives it back after restart once its TTL has passed",
      async () => {
        const acquired = await cli([
          "leases",
          "acquire",
          "db/crash",
          "--holder",
          "ana",
          "--ttl",
          "3s",
        ]);
        assert.equal(acquired.code, 0, acquired.stderr);
        runtime.kill("SIGKILL");
        await runtime.done();
        runtime = await start(dir);
        const held = (await json(["leases"])).leases.map((l: { resource: string }) => l.resource);
        assert.ok(held.includes("db/crash"), "still held right after the restart");
        assert.equal((await cli(["leases", "acquire", "db/crash", "--holder", "bob"])).code, 4);
        await new Promise((r) => setTimeout(r, 3_200));
        const after = await cli(["leases", "acquire", "db/crash", "--holder", "bob"]);
        assert.equal(after.code, 0, after.stderr);
      },
    );

    runtime.kill("SIGTERM");
    await runtime.done();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
