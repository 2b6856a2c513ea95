/**
 * What a `--jobs` module prints with `console` goes to the log, never raw onto the terminal:
 * inside a handler into the job's own log (`jobs show`) and into the runtime log, as JSON
 * lines with `--log-format json`. JSON lines' messages read as text; the values are fields.
 */
import assert from "node:assert/strict";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURE = new URL("./fixtures/chatty.ts", import.meta.url).pathname;

Deno.test({
  name:
    "a handler's console.log lands in its job's log and, with --log-format json, stderr has only JSON lines",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-output-" });
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    try {
      await using runtime = spawnLiminal(
        ["start", "--no-tui", "--log-format", "json", "--jobs", FIXTURE, "--store", ":memory:"],
        { cwd: dir },
      );
      await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the start");
      const done = await cli(["enqueue", "chatty", "--wait", "--json"]);
      assert.equal(done.code, 0, done.stderr);
      const waited = JSON.parse(done.stdout);
      const id = waited.id ?? waited.jobs[0].id;
      const shown = await cli(["jobs", "show", id, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      const logs = JSON.parse(shown.stdout).logs.map((l: { message: string }) => l.message);
      assert.ok(logs.includes("hello from handler"), `the job's log: ${JSON.stringify(logs)}`);
      assert.ok(
        logs.some((l: string) => l.startsWith("trouble 1 of 2")),
        `console.error too: ${JSON.stringify(logs)}`,
      );
      await runtime.waitFor(
        (p) => p.stderr.includes("job.succeeded"),
        10_000,
        "the job's end in the log",
      );
      runtime.kill("SIGTERM");
      const result = await runtime.done();
      assert.equal(result.code, 0, result.stderr);
      assert.doesNotMatch(
        result.stdout,
        /hello from handler|chatty module loaded/,
        "not on stdout",
      );
      const lines = result.stderr.split("\n").filter((l) => l !== "");
      const records = lines.map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          throw new Error(`a stderr line that is not JSON: ${line}\n--- stderr\n${result.stderr}`);
        }
      });
      const printed = records.filter((r) => r.logger.startsWith("liminal.output"));
      assert.ok(
        printed.some((r) =>
          r.properties.event === "job.output" && r.properties.output === "hello from handler" &&
          r.properties.id === id && r.properties.kind === "chatty" &&
          r.properties.stream === "stdout"
        ),
        JSON.stringify(printed),
      );
      assert.ok(
        printed.some((r) =>
          r.properties.event === "module.output" && r.properties.output === "chatty module loaded"
        ),
        "the module's top-level output too",
      );
      assert.ok(
        printed.some((r) => r.level === "WARN" && r.properties.stream === "stderr"),
        "console.error is a warning",
      );
      // Messages read as text: the values are in them unquoted, and fields besides.
      for (const r of records) assert.ok(!r.message.includes('\\"'), r.message);
      const running = records.find((r) => / running \(pid /.test(r.message));
      assert.ok(running !== undefined, result.stderr);
      assert.match(running.message, /^liminal \d+\.\d+\.\d+ running \(pid \d+, \d+ workers/);
      assert.doesNotMatch(running.message, /"/, "no quotes around the values");
      assert.equal(typeof running.properties.version, "string");
      assert.equal(running.properties.store, ":memory:");
      const failedMessage = records.find((r) => r.properties?.event === "job.succeeded");
      assert.match(failedMessage.message, new RegExp(`^job ${id} chatty succeeded in `));
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("run --json: what a job module prints stays off stdout (one JSON document) and in the job's log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-run-chatty-" });
  try {
    await Deno.writeTextFile(
      `${dir}/plan.json`,
      JSON.stringify({ name: "chatty", jobs: [{ kind: "chatty" }] }),
    );
    const out = await runLiminal(["run", "plan.json", "--jobs", FIXTURE, "--json"], { cwd: dir });
    assert.equal(out.code, 0, out.stderr);
    const doc = JSON.parse(out.stdout);
    assert.equal(doc.jobs[0].state, "succeeded");
    // Only the document on stdout: no raw line before it (it parsed above, so none after).
    assert.ok(out.stdout.startsWith("{"), out.stdout.slice(0, 200));
    assert.ok(!out.stdout.includes("chatty module loaded"), "module-load output is not on stdout");
    const logs = doc.jobs[0].logs.map((l: { message: string }) => l.message);
    assert.ok(logs.some((m: string) => m.includes("hello from handler")), logs.join("\n"));
    assert.equal(out.stderr, "", "a succeeding run is quiet on stderr");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run without -v: a module's console.error outside a job still reaches stderr; jobs' output stays in their logs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-run-warn-" });
  try {
    await Deno.writeTextFile(
      `${dir}/warn.ts`,
      'import { defineJob } from "liminal";\nconsole.error("config missing");\n' +
        'export const quiet = defineJob({ kind: "quiet", handler: () => 1 });\n',
    );
    await Deno.writeTextFile(
      `${dir}/plan.json`,
      JSON.stringify({ name: "chatty", jobs: [{ kind: "chatty" }] }),
    );
    const out = await runLiminal(
      ["run", "plan.json", "--jobs", FIXTURE, "--jobs", "./warn.ts"],
      { cwd: dir },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /config missing/);
    assert.doesNotMatch(out.stderr, /trouble 1 of 2/, "the job's console.error is in its log");
    assert.doesNotMatch(out.stderr, /chatty module loaded/, "console.log stays quiet");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
