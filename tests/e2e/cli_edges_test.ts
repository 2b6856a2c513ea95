/**
 * The command line's contract at the edges, with a real `liminal start --no-tui` and the real
 * CLI as child processes: `enqueue --count 30000 --wait`, the `--json` error document, exit 4
 * for every conflict, exit 3 for an unreachable store, `router tail` of topic events nobody
 * subscribes to, `Last-Event-ID` on `/v1/events`, and `shutdown` printing its final report.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";
import { POSTGRES_INSTALLED, startPostgres } from "../_support/postgres.ts";

async function startRuntime(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", "--store", ":memory:", ...extra], { cwd: dir });
  await proc.waitFor(
    (p) => p.stderr.includes("Ctrl-C to stop") || p.child.pid === 0,
    20_000,
    "the runtime to start",
  );
  return proc;
}

/** The one JSON document on stdout of a failed `--json` command. */
function errorDoc(stdout: string): { code: string; message: string; hint: string | null } {
  const doc = JSON.parse(stdout);
  assert.deepEqual(Object.keys(doc), ["error"]);
  assert.deepEqual(Object.keys(doc.error).sort(), ["code", "hint", "message"]);
  assert.equal(typeof doc.error.message, "string");
  assert.ok(doc.error.hint === null || typeof doc.error.hint === "string");
  return doc.error;
}

/** Reads SSE frames from `/v1/events` over the socket until `enough` holds or `ms` pass. */
async function readEvents(
  socket: string,
  query: string,
  headers: Record<string, string>,
  enough: (frames: { id: string | null; event: string; data: string }[]) => boolean,
  ms = 5_000,
): Promise<{ id: string | null; event: string; data: string }[]> {
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  const frames: { id: string | null; event: string; data: string }[] = [];
  try {
    const response = await fetch(`http://liminal/v1/events${query}`, {
      client: http,
      headers,
      signal: stop.signal,
    });
    const decoder = new TextDecoder();
    let buffer = "";
    const reader = response.body!.getReader();
    try {
      while (!enough(frames)) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            frame.split("\n").find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ??
              null;
          const event = field("event");
          if (event !== null) frames.push({ id: field("id"), event, data: field("data") ?? "" });
        }
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      await reader.cancel().catch(() => {});
    }
    return frames;
  } finally {
    clearTimeout(timer);
    http.close();
  }
}

Deno.test("the CLI keeps its contract at the edges", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-edges-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const socket = `${dir}/.liminal/liminal.sock`;
  try {
    await t.step("--json: an unreachable runtime is one error document, exit 3", async () => {
      const result = await cli(["status", "--json"]);
      assert.equal(result.code, 3, result.stderr);
      const error = errorDoc(result.stdout);
      assert.equal(error.code, "RUNTIME_UNREACHABLE");
      assert.match(error.message, /no runtime answers on \.liminal\/liminal\.sock/);
      assert.match(error.hint!, /liminal start/);
      assert.match(result.stderr, /^error: RUNTIME_UNREACHABLE/, "stderr still says it");
      // router tail --json is a stream of one object per line: its error document is one line.
      const tail = await cli(["router", "tail", "--json"]);
      assert.equal(tail.code, 3, tail.stderr);
      assert.equal(tail.stdout.trimEnd().split("\n").length, 1, tail.stdout);
      assert.equal(errorDoc(tail.stdout).code, "RUNTIME_UNREACHABLE");
    });

    await t.step(
      "an unreachable Postgres store is STORE_UNREACHABLE, exit 3, like an unreachable runtime",
      async () => {
        const url = "postgres://liminal:pw-secret@127.0.0.1:1/jobs";
        const human = await cli(["start", "--no-tui", "--store", url, "--socket", "x.sock"]);
        assert.equal(human.code, 3, human.stderr);
        assert.match(human.stderr, /^error: STORE_UNREACHABLE: cannot reach PostgreSQL/m);
        assert.ok(!human.stderr.includes("pw-secret"));
        await assert.rejects(Deno.stat(`${dir}/x.sock`), Deno.errors.NotFound);
      },
    );

    await using runtime = await startRuntime(dir, ["--workers", "8"]);

    await t.step(
      "enqueue --count 30000 --wait follows every job to the end: exit 0, { jobs } of 30000",
      async () => {
        const started = performance.now();
        const result = await cli([
          "enqueue",
          "sleep",
          "--payload",
          '{"ms": 0}',
          "--count",
          "30000",
          "--wait",
          "--json",
        ]);
        assert.equal(result.code, 0, result.stderr);
        const { jobs } = JSON.parse(result.stdout);
        assert.equal(jobs.length, 30000);
        assert.ok(jobs.every((j: { state: string }) => j.state === "succeeded"));
        assert.equal(new Set(jobs.map((j: { id: string }) => j.id)).size, 30000);
        console.log(
          `  30000 jobs enqueued and followed in ${Math.round(performance.now() - started)}ms`,
        );
      },
    );

    await t.step("enqueue --json is { jobs: [...] } for one job too", async () => {
      const one = await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--json"]);
      assert.equal(one.code, 0, one.stderr);
      const doc = JSON.parse(one.stdout);
      assert.deepEqual(Object.keys(doc), ["jobs"]);
      assert.equal(doc.jobs.length, 1);
      assert.match(doc.jobs[0].id, /^[0-9a-f-]{36}$/);
      const waited = await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--wait", "--json"]);
      assert.equal(waited.code, 0, waited.stderr);
      const { jobs } = JSON.parse(waited.stdout);
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0].state, "succeeded");
    });

    await t.step("--json: bad input is one error document, exit 2, nothing enqueued", async () => {
      const before = JSON.parse((await cli(["status", "--json"])).stdout).executor.totals.enqueued;
      const unknown = await cli(["enqueue", "clenaup", "--json"]);
      assert.equal(unknown.code, 2, unknown.stderr);
      const error = errorDoc(unknown.stdout);
      assert.equal(error.code, "UNKNOWN_JOB_KIND");
      assert.match(error.message, /unknown job kind "clenaup"/);
      const usage = await cli(["enqueue", "sleep", "--bogus", "--json"]);
      assert.equal(usage.code, 2);
      const usageError = errorDoc(usage.stdout);
      assert.equal(usageError.code, "USAGE");
      assert.match(usageError.message, /unknown option '--bogus'/);
      assert.equal(usageError.hint, null);
      // The document says what stderr says, not commander's first reading of the words.
      const mistyped = await cli(["schedules", "rm", "x", "--json"]);
      assert.equal(mistyped.code, 2);
      const mistypedError = errorDoc(mistyped.stdout);
      assert.match(mistypedError.message, /^unknown command 'rm' for 'liminal schedules'/);
      assert.ok(mistyped.stderr.includes(mistypedError.message), mistyped.stderr);
      const badPriority = await cli(["jobs", "--state", "bogus", "--json"]);
      assert.equal(badPriority.code, 2);
      assert.equal(errorDoc(badPriority.stdout).code, "INVALID_ARGUMENT");
      const after = JSON.parse((await cli(["status", "--json"])).stdout).executor.totals.enqueued;
      assert.equal(after, before);
    });

    await t.step("conflicts exit 4: a job in the wrong state, an existing schedule", async () => {
      const queued = JSON.parse(
        (await cli(["enqueue", "sleep", "--delay", "1h", "--json"])).stdout,
      ).jobs[0].id;
      const retry = await cli(["jobs", "retry", queued]);
      assert.equal(retry.code, 4, retry.stderr);
      assert.match(retry.stderr, /^error: INVALID_JOB_STATE/);
      const retryJson = await cli(["jobs", "retry", queued, "--json"]);
      assert.equal(retryJson.code, 4);
      assert.equal(errorDoc(retryJson.stdout).code, "INVALID_JOB_STATE");
      assert.equal((await cli(["jobs", "cancel", queued])).code, 0);
      assert.equal((await cli(["jobs", "cancel", queued])).code, 4, "cancelled twice");

      const add = ["schedules", "add", "nightly", "--every", "1h", "--kind", "sleep"];
      assert.equal((await cli(add)).code, 0);
      const again = await cli([...add, "--json"]);
      assert.equal(again.code, 4, again.stderr);
      const error = errorDoc(again.stdout);
      assert.equal(error.code, "SCHEDULE_EXISTS");
      assert.match(error.message, /"nightly" already exists/);
    });

    await t.step(
      "router tail --topic 'jobs.*' shows job events nobody subscribes to",
      async () => {
        const router = JSON.parse((await cli(["router", "--json"])).stdout);
        assert.equal(router.subscriptions.length, 0, "no subscriber at all");
        await using tail = spawnLiminal(["router", "tail", "--topic", "jobs.*", "--json"], {
          cwd: dir,
        });
        await using human = spawnLiminal(["router", "tail", "--topic", "jobs.*"], { cwd: dir });
        // The tails are subscribed once a job's events reach them; enqueue until they do.
        const deadline = performance.now() + 15_000;
        let id = "";
        while (
          !tail.stdout.includes('"jobs.succeeded"') || !human.stdout.includes("jobs.succeeded")
        ) {
          assert.ok(performance.now() < deadline, `no jobs.succeeded in the tail:\n${tail.stdout}`);
          const result = await cli([
            "enqueue",
            "sleep",
            "--payload",
            '{"ms": 1}',
            "--wait",
            "--json",
          ]);
          id = JSON.parse(result.stdout).jobs[0].id;
          await new Promise((r) => setTimeout(r, 100));
        }
        const lines = tail.stdout.trim().split("\n").map((l) => JSON.parse(l));
        const succeeded = lines.find((l) =>
          l.message.to === "jobs.succeeded" && l.message.payload.id === id
        );
        assert.ok(succeeded, `the last job's jobs.succeeded: ${tail.stdout}`);
        assert.equal(succeeded.event, "message:unrouted");
        assert.equal(succeeded.message.type, "job.succeeded");
        assert.ok(lines.every((l) => l.message.to.startsWith("jobs.")), "only jobs.* topics");
        assert.match(
          human.stdout,
          new RegExp(
            `unrouted .*executor → jobs\\.succeeded job\\.succeeded .*${id}.*\\(no subscriber\\)`,
          ),
        );
      },
    );

    await t.step(
      "/v1/events: ids on every event; Last-Event-ID replays what is held, a gap says what is not",
      async () => {
        const live = readEvents(
          socket,
          "?events=job:*",
          {},
          (f) => f.some((e) => e.event === "job:succeeded"),
        );
        await new Promise((r) => setTimeout(r, 300));
        const { jobs: [job] } = JSON.parse(
          (await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--wait", "--json"])).stdout,
        );
        const seen = (await live).filter((e) => e.event.startsWith("job:"));
        const mine = seen.filter((e) => JSON.parse(e.data).id === job.id);
        assert.deepEqual(mine.map((e) => e.event), [
          "job:enqueued",
          "job:started",
          "job:succeeded",
        ]);
        assert.ok(
          mine.every((e) => e.id !== null && /^[0-9a-z]+-\d+$/.test(e.id)),
          "every event has an id, <run>-<n>",
        );
        const enqueuedId = mine[0]!.id!;
        const run = enqueuedId.slice(0, enqueuedId.lastIndexOf("-"));

        // A reconnect after the enqueued event gets the two that followed, from the hub.
        const replayed = await readEvents(
          socket,
          "?events=job:*",
          { "last-event-id": enqueuedId },
          (f) => f.some((e) => e.event === "job:succeeded" && JSON.parse(e.data).id === job.id),
        );
        assert.equal(replayed[0]!.event, "stream:open");
        assert.ok(!replayed.some((e) => e.event === "gap"), "nothing lost");
        assert.deepEqual(
          replayed.filter((e) => e.event.startsWith("job:") && JSON.parse(e.data).id === job.id)
            .map((e) => [e.id, e.event]),
          mine.slice(1).map((e) => [e.id, e.event]),
        );

        // Id 1 is long gone (30000 jobs' events since): a gap event names how many.
        const old = await readEvents(
          socket,
          "?events=job:*",
          { "last-event-id": `${run}-1` },
          (f) => f.some((e) => e.event === "gap"),
        );
        const gap = JSON.parse(old.find((e) => e.event === "gap")!.data);
        assert.equal(gap.after, `${run}-1`);
        assert.ok(gap.lost > 50_000, `lost ${gap.lost}`);
        assert.match(gap.message, /no longer held/);

        // An id this runtime never gave (another run's): said too.
        const foreign = await readEvents(
          socket,
          "",
          { "last-event-id": "999999999" },
          (f) => f.some((e) => e.event === "gap"),
        );
        const unknown = JSON.parse(foreign.find((e) => e.event === "gap")!.data);
        assert.equal(unknown.lost, null);
        assert.match(unknown.message, /not this runtime's/);
      },
    );

    await t.step("shutdown follows to the end and prints the final report line", async () => {
      await cli(["enqueue", "sleep", "--payload", '{"ms": 500}', "--count", "2"]);
      await runtime.waitFor((p) => (p.stderr.match(/sleep started/g) ?? []).length >= 2, 10_000);
      const result = await cli(["shutdown"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /phase 5\/6 control-closed: finished/);
      assert.match(result.stdout, /phase 6\/6 store-closed: finished/);
      assert.match(
        result.stdout,
        /^shutdown: 2 finished, 0 interrupted and requeued, \d+ queued kept/m,
      );
      assert.match(result.stdout, /exited after/);
      const exit = await runtime.done();
      assert.equal(exit.code, 0);
      assert.match(exit.stderr, /shutdown: 2 finished, 0 interrupted and requeued/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "a Postgres store that goes away: STORE_UNREACHABLE, exit 3, from every command, as at start",
  ignore: !POSTGRES_INSTALLED,
  async fn() {
    const server = (await startPostgres())!;
    const dir = await Deno.makeTempDir({ prefix: "liminal-pgdown-" });
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    try {
      const url = await server.createDatabase("edges");
      const runtime = spawnLiminal(["start", "--no-tui", "--store", url], { cwd: dir });
      try {
        await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 30_000, "the start");
        assert.equal((await cli(["jobs"])).code, 0);
        await server.stop();
        for (
          const args of [
            ["jobs"],
            ["jobs", "--json"],
            ["nodes"],
            ["enqueue", "sleep"],
          ]
        ) {
          const result = await cli(args);
          assert.equal(result.code, 3, `${args.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, /^error: STORE_UNREACHABLE: /m, args.join(" "));
          if (args.includes("--json")) {
            assert.equal(errorDoc(result.stdout).code, "STORE_UNREACHABLE");
          }
        }
        runtime.kill("SIGKILL");
        await runtime.done();
        // And a start against the same, now absent, server.
        const start = await cli(["start", "--no-tui", "--store", url, "--socket", "y.sock"]);
        assert.equal(start.code, 3, start.stderr);
        assert.match(start.stderr, /^error: STORE_UNREACHABLE: cannot reach PostgreSQL/m);
      } finally {
        await runtime[Symbol.asyncDispose]();
      }
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
