/**
 * One terminal failure state and liveness, end to end with a real `liminal start --no-tui`:
 * a vacuum of a missing file ends dead (`--wait` exits 1), `jobs --state dead` lists it, and
 * a `--jobs` endpoint subscribed to `jobs.dead` hears it; a quiet sleep is never stuck while
 * a handler that awaits for ever goes stuck after `--stuck-after`, with a warning that says
 * what to do.
 */
import assert from "node:assert/strict";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURES = new URL("./fixtures/dead_alerts.ts", import.meta.url).pathname;

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("dead jobs alert and quiet jobs are not stuck, end to end", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-dead-" });
  const alerts = `${dir}/alerts.jsonl`;
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await t.step("--stuck-after 0 is refused (exit 2) before anything is created", async () => {
      const bad = await cli(["start", "--no-tui", "--stuck-after", "0s"]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /--stuck-after must be longer than 0/);
      await assert.rejects(Deno.stat(`${dir}/.liminal`), Deno.errors.NotFound);
    });

    await using runtime = spawnLiminal(
      ["start", "--no-tui", "--jobs", FIXTURES, "--stuck-after", "2s"],
      { cwd: dir, env: { LIMINAL_TEST_ALERTS: alerts } },
    );
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the start");

    let deadId = "";
    await t.step(
      "a vacuum of a missing file ends dead: --wait exits 1, jobs --state dead lists it",
      async () => {
        const result = await cli([
          "enqueue",
          "vacuum",
          "--payload",
          '{"path":"/nonexistent.db"}',
          "--wait",
          "--json",
        ]);
        assert.equal(result.code, 1, result.stderr);
        const waited = JSON.parse(result.stdout);
        const job = Array.isArray(waited.jobs) ? waited.jobs[0] : waited;
        deadId = job.id;
        assert.equal(job.state, "dead");
        assert.equal(job.attempts.length, 1, "a missing file is not retried");
        assert.equal(job.attempts[0].outcome, "failed", "failed is the attempt's outcome");
        assert.match(job.error.message, /no database file \/nonexistent\.db/);

        const listed = await cli(["jobs", "--state", "dead", "--json"]);
        assert.equal(listed.code, 0, listed.stderr);
        const { jobs } = JSON.parse(listed.stdout);
        assert.deepEqual(jobs.map((j: { id: string }) => j.id), [deadId]);
        assert.equal(jobs[0].state, "dead");

        const asFailed = await cli(["jobs", "--state", "failed", "--json"]);
        assert.equal(asFailed.code, 0, asFailed.stderr);
        assert.deepEqual(
          JSON.parse(asFailed.stdout).jobs.map((j: { id: string }) => j.id),
          [deadId],
          "--state failed lists the dead jobs",
        );
        assert.match(asFailed.stderr, /failed is how an attempt ends, not a job state/);
      },
    );

    await t.step("an endpoint subscribed to jobs.dead hears it; the log says so", async () => {
      const line = await eventually("the alert file", async () => {
        const text = await Deno.readTextFile(alerts).catch(() => "");
        return text.split("\n").find((l) => l.includes(deadId));
      });
      const alert = JSON.parse(line);
      assert.equal(alert.type, "job.dead");
      assert.equal(alert.payload.id, deadId);
      assert.equal(alert.payload.kind, "vacuum");
      assert.equal(alert.payload.reason, "permanent");
      assert.match(alert.payload.error.message, /no database file/);
      await runtime.waitFor(
        (p) => p.stderr.includes(`job ${deadId} vacuum dead after attempt 1`),
        5_000,
        "the job.dead log line",
      );
    });

    await t.step(
      "with --stuck-after 2s a 4 s sleep is never stuck; a handler awaiting for ever is, and the warning says what to do",
      async () => {
        const sleep = await cli(["enqueue", "sleep", "--payload", '{"ms": 4000}']);
        assert.equal(sleep.code, 0, sleep.stderr);
        const sleepId = sleep.stdout.trim();
        const hang = await cli(["enqueue", "hang"]);
        assert.equal(hang.code, 0, hang.stderr);
        const hangId = hang.stdout.trim();
        await new Promise((r) => setTimeout(r, 3_000));
        const status = await cli(["status", "--json"]);
        assert.equal(status.code, 0, status.stderr);
        const snapshot = JSON.parse(status.stdout);
        const workers = snapshot.executor.workers as {
          state: string;
          job: { id: string } | null;
        }[];
        assert.equal(workers.find((w) => w.job?.id === sleepId)?.state, "busy", "sleep is alive");
        assert.equal(workers.find((w) => w.job?.id === hangId)?.state, "stuck");
        const stuck =
          (snapshot.executor.warnings as { code: string; message: string; jobId?: string }[])
            .filter((w) => w.code === "WORKER_STUCK");
        assert.deepEqual(stuck.map((w) => w.jobId), [hangId], "only the silent handler");
        assert.match(stuck[0]!.message, /no heartbeat, progress or log for \d/);
        assert.match(stuck[0]!.message, /call ctx\.heartbeat\(\)/);
        assert.match(stuck[0]!.message, /--stuck-after/);
        assert.match(runtime.stderr, new RegExp(`looks stuck: job ${hangId} hang`));
        assert.doesNotMatch(runtime.stderr, new RegExp(`looks stuck: job ${sleepId}`));
        await eventually("the sleep to succeed", async () => {
          const shown = await cli(["jobs", "show", sleepId, "--json"]);
          return JSON.parse(shown.stdout).state === "succeeded" ? true : undefined;
        });
        assert.doesNotMatch(runtime.stderr, new RegExp(`looks stuck: job ${sleepId}`));
        assert.equal((await cli(["jobs", "cancel", hangId, "--yes"])).code, 0);
      },
    );

    runtime.kill("SIGTERM");
    const ended = await runtime.done();
    assert.equal(ended.code, 0, ended.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a job a crash interrupts past maxInterruptions is dead at the next start: jobs --state dead lists it, jobs.dead alerts",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "liminal-crashes-" });
    const alerts = `${dir}/alerts.jsonl`;
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    const start = async () => {
      const runtime = spawnLiminal(["start", "--no-tui", "--jobs", FIXTURES], {
        cwd: dir,
        env: { LIMINAL_TEST_ALERTS: alerts },
      });
      await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the start");
      return runtime;
    };
    const show = async (id: string) => {
      const shown = await cli(["jobs", "show", id, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      return JSON.parse(shown.stdout);
    };
    // The default limit: a job survives 5 interruptions; the 6th makes it dead.
    const crashes = 6;
    try {
      let id = "";
      for (let crash = 1; crash <= crashes; crash++) {
        await using runtime = await start();
        if (crash === 1) {
          const enqueued = await cli(["enqueue", "sleep", "--payload", '{"ms": 600000}']);
          assert.equal(enqueued.code, 0, enqueued.stderr);
          id = enqueued.stdout.trim();
        }
        // Running again, its attempt `crash` under way: then the runtime dies.
        await eventually(`attempt ${crash} of the job`, async () => {
          const job = await show(id);
          return job.state === "running" && job.attempts.length === crash ? true : undefined;
        });
        runtime.kill("SIGKILL");
        await runtime.done();
      }

      await using last = await start();
      const job = await show(id);
      assert.equal(job.state, "dead", "the start's recovery gives up on it");
      assert.equal(job.attempts.length, crashes);
      assert.ok(job.attempts.every((a: { outcome: string }) => a.outcome === "interrupted"));
      assert.match(job.error.message, new RegExp(`interrupted ${crashes} times, giving up`));

      const listed = await cli(["jobs", "--state", "dead", "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout).jobs.map((j: { id: string }) => j.id), [id]);

      const line = await eventually("the alert file", async () => {
        const text = await Deno.readTextFile(alerts).catch(() => "");
        return text.split("\n").find((l) => l.includes(id));
      });
      const alert = JSON.parse(line);
      assert.equal(alert.type, "job.dead");
      assert.equal(alert.payload.id, id);
      assert.equal(alert.payload.kind, "sleep");
      assert.equal(alert.payload.reason, "interrupted");
      assert.equal(alert.payload.attempt, crashes);
      assert.match(alert.payload.error.message, /giving up/);
      await last.waitFor(
        (p) => p.stderr.includes(`job ${id} sleep dead after attempt ${crashes}`),
        5_000,
        "the job.dead log line",
      );
      last.kill("SIGTERM");
      const ended = await last.done();
      assert.equal(ended.code, 0, ended.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
