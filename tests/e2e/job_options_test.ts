/**
 * Job options from the shell: `--timeout none` on `enqueue` and `schedules add`, and a
 * schedule's job with its own timeout, attempts and leases (a CLI-made nightly vacuum can hold
 * `db/app`), with a real `liminal start --no-tui` and the real CLI.
 */
import assert from "node:assert/strict";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

Deno.test("enqueue --timeout none and schedules add --timeout/--attempts/--lease", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-jobopts-" });
  try {
    await using runtime = spawnLiminal(["start", "--no-tui", "--store", ":memory:"], {
      cwd: dir,
    });
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the start");
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });

    await t.step("enqueue --timeout none: the job has no timeout at all", async () => {
      const out = await cli([
        "enqueue",
        "command",
        "--payload",
        '{"cmd":["true"]}',
        "--timeout",
        "none",
        "--wait",
        "--json",
      ]);
      assert.equal(out.code, 0, out.stderr);
      const [job] = JSON.parse(out.stdout).jobs;
      assert.equal(job.timeoutMs, null, "not the command kind's 1 h default");
      const bad = await cli(["enqueue", "sleep", "--timeout", "never"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /INVALID_DURATION/);
    });

    await t.step("schedules add takes the job's timeout, attempts and leases", async () => {
      const out = await cli([
        "schedules",
        "add",
        "nightly-vacuum",
        "--cron",
        "0 3 * * *",
        "--kind",
        "sleep",
        "--payload",
        '{"ms":1}',
        "--timeout",
        "none",
        "--attempts",
        "2",
        "--lease",
        "db/app",
        "--lease",
        "files/tmp",
        "--json",
      ]);
      assert.equal(out.code, 0, out.stderr);
      const schedule = JSON.parse(out.stdout);
      assert.equal(schedule.job.timeout, null);
      assert.equal(schedule.job.attempts, 2);
      assert.deepEqual(schedule.job.leases, ["db/app", "files/tmp"]);
      const trigger = await cli(["schedules", "trigger", "nightly-vacuum", "--json"]);
      assert.equal(trigger.code, 0, trigger.stderr);
      const jobs = JSON.parse((await cli(["jobs", "--kind", "sleep", "--json"])).stdout).jobs;
      assert.equal(jobs.length, 1);
      assert.deepEqual(jobs[0].leases, ["db/app", "files/tmp"]);
      assert.equal(jobs[0].maxAttempts, 2);
      assert.equal(jobs[0].timeoutMs, null);
    });

    await t.step("schedules add refuses a bad --attempts or --lease, adding nothing", async () => {
      for (
        const extra of [["--attempts", "0"], ["--lease", ""], ["--timeout", "soon"]]
      ) {
        const out = await cli([
          "schedules",
          "add",
          "bad",
          "--every",
          "1h",
          "--kind",
          "sleep",
          ...extra,
        ]);
        assert.equal(out.code, 2, `${extra.join(" ")}: ${out.stderr}`);
      }
      const list = JSON.parse((await cli(["schedules", "--json"])).stdout).schedules;
      assert.ok(!list.some((s: { name: string }) => s.name === "bad"));
    });

    const down = await cli(["shutdown"]);
    assert.equal(down.code, 0, down.stderr);
    await runtime.child.status;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
