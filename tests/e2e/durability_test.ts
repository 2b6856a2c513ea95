/**
 * The SQLite store end to end: no job lost on kill -9 or Ctrl-C, one owner per database, a
 * corrupt file refused and left untouched.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

async function start(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", ...extra], { cwd: dir });
  await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime to start");
  return proc;
}

interface JobView {
  id: string;
  state: string;
  attempts: { outcome: string | null }[];
}

Deno.test("durability end to end", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-dur-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const allJobs = async (): Promise<JobView[]> =>
    JSON.parse((await cli(["jobs", "--limit", "10000", "--json"])).stdout).jobs;
  try {
    await t.step(
      "kill -9 mid-run: after a restart every one of 200 jobs succeeds, none lost or duplicated",
      async () => {
        const first = await start(dir, ["--workers", "4"]);
        const enqueued = await cli([
          "enqueue",
          "sleep",
          "--payload",
          '{"ms": 50}',
          "--count",
          "200",
        ]);
        assert.equal(enqueued.code, 0, enqueued.stderr);
        const ids = enqueued.stdout.trim().split("\n");
        assert.equal(new Set(ids).size, 200);
        await first.waitFor(
          (p) => (p.stderr.match(/sleep succeeded/g) ?? []).length >= 40,
          30_000,
          "40 jobs done",
        );
        first.kill("SIGKILL");
        await first.done();

        await using second = await start(dir, ["--workers", "4"]);
        assert.match(
          second.stderr,
          /job\(s\) left running by a runtime that stopped were queued again/,
        );
        const waited = await cli(["status", "--json"]);
        assert.equal(waited.code, 0);
        const deadline = performance.now() + 60_000;
        let jobs = await allJobs();
        while (jobs.some((j) => j.state !== "succeeded") && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          jobs = await allJobs();
        }
        assert.equal(jobs.length, 200, "none missing, none extra");
        assert.deepEqual(new Set(jobs.map((j) => j.id)), new Set(ids));
        assert.ok(jobs.every((j) => j.state === "succeeded"), "every job succeeded");
        const interrupted = jobs.filter((j) => j.attempts.some((a) => a.outcome === "interrupted"));
        assert.ok(
          interrupted.length >= 1 && interrupted.length <= 4,
          `the running ones were interrupted (${interrupted.length})`,
        );
        for (const job of interrupted) {
          assert.deepEqual(
            job.attempts.map((a) => a.outcome),
            ["interrupted", "succeeded"],
            "the extra attempt shows",
          );
        }
        second.kill("SIGTERM");
        assert.equal((await second.done()).code, 0);
      },
    );

    await t.step("Ctrl-C keeps queued jobs queued; they run after the next start", async () => {
      const first = await start(dir, ["--workers", "1"]);
      const enqueued = await cli(["enqueue", "sleep", "--payload", '{"ms": 300}', "--count", "6"]);
      const ids = enqueued.stdout.trim().split("\n");
      await first.waitFor((p) => p.stderr.includes("sleep started"), 10_000, "one job running");
      first.kill("SIGINT");
      const exit = await first.done();
      assert.equal(exit.code, 0);
      assert.match(exit.stderr, /shutdown: 1 finished, 0 interrupted and requeued, 5 queued kept/);

      await using second = await start(dir, ["--workers", "2"]);
      const waited = await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--wait", "--json"]);
      assert.equal(waited.code, 0);
      const deadline = performance.now() + 20_000;
      let states: string[] = [];
      while (performance.now() < deadline) {
        const jobs = await allJobs();
        states = ids.map((id) => jobs.find((j) => j.id === id)?.state ?? "missing");
        if (states.every((s) => s === "succeeded")) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(states, Array(6).fill("succeeded"));
      second.kill("SIGTERM");
      await second.done();
    });

    await t.step("a second start on the same database exits 4 naming the owner", async () => {
      await using first = await start(dir);
      const second = await cli(["start", "--no-tui", "--socket", `${dir}/other.sock`]);
      assert.equal(second.code, 4);
      assert.match(
        second.stderr,
        new RegExp(
          `^error: CONFLICT: the store \\.liminal/liminal\\.db is in use by pid ${first.child.pid}`,
        ),
      );
      first.kill("SIGTERM");
      await first.done();
    });

    await t.step("a corrupt database file: a clear error, exit 2, the file untouched", async () => {
      const path = `${dir}/corrupt.db`;
      const bytes = new TextEncoder().encode("SQLite format 3\0".padEnd(4096, "garbage"));
      await Deno.writeFile(path, bytes);
      const result = await cli(["start", "--no-tui", "--store", path, "--socket", `${dir}/c.sock`]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^error: STORE_CORRUPT: .*corrupt\.db is not a liminal database/);
      assert.deepEqual(await Deno.readFile(path), bytes);
      // Nothing left beside it either: no lock file, no journal.
      const beside = [];
      for await (const e of Deno.readDir(dir)) {
        if (e.name.startsWith("corrupt.db")) beside.push(e.name);
      }
      assert.deepEqual(beside, ["corrupt.db"]);
    });

    await t.step(
      "--store :memory: keeps nothing across restarts; bad --durability exits 2",
      async () => {
        const bad = await cli(["start", "--no-tui", "--durability", "paranoid"]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /invalid --durability "paranoid"/);
        await using memory = await start(dir, ["--store", ":memory:", "--socket", `${dir}/m.sock`]);
        const status = JSON.parse(
          (await cli(["status", "--json", "--socket", `${dir}/m.sock`])).stdout,
        );
        assert.equal(status.store.kind, "memory");
        memory.kill("SIGTERM");
        await memory.done();
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
