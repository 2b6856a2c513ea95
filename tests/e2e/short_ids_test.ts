/**
 * What a new user types, as real processes: short job ids (the last 6+ characters, or the
 * dashboard's `01a24785…83f1`) in `jobs show|why|cancel|retry` and the control API, an
 * ambiguous tail listing its candidates; global options before the subcommand; `GET /` with
 * plain route patterns; a clear error for `--store /dev/null`; a syntax error in a `--jobs`
 * module with file:line:column.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";
import { SqliteStore } from "../../src/store/mod.ts";
import type { NewJob } from "../../src/store/types.ts";

/** Two jobs whose ids share their last 6 characters (and differ before them). */
const TWINS = [
  "0190aaaa-0000-7000-8000-00000aabc123",
  "0190aaaa-0001-7000-8000-00000babc123",
];

function twin(id: string): NewJob {
  const later = Date.now() + 24 * 3_600_000;
  return {
    id,
    kind: "sleep",
    payload: '{"ms":1}',
    priority: "coordinate",
    timeoutMs: null,
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 60000 },
    uniqueKey: null,
    leases: [],
    createdAt: Date.now(),
    runAt: later,
  };
}

async function startRuntime(dir: string): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui"], { cwd: dir });
  await proc.waitFor(
    (p) => p.stderr.includes("Ctrl-C to stop") || p.child.pid === 0,
    20_000,
    "the runtime to start",
  );
  return proc;
}

async function curl(socket: string, args: string[]): Promise<{ status: number; body: string }> {
  const output = await new Deno.Command("curl", {
    args: ["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

Deno.test("short ids, global options and first-day errors", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-ids-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const socket = `${dir}/.liminal/liminal.sock`;
  try {
    const seed = new SqliteStore({ path: `${dir}/.liminal/liminal.db` });
    await seed.open();
    await seed.insert(TWINS.map(twin), Date.now());
    await seed.close();

    await using _runtime = await startRuntime(dir);
    const enqueued = await cli(["enqueue", "sleep", "--payload", '{"ms": 10}', "--delay", "1h"]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = enqueued.stdout.trim();
    const tail = id.slice(-6);

    await t.step("the last 6 characters work in show, why, cancel and retry", async () => {
      const show = await cli(["jobs", "show", tail, "--json"]);
      assert.equal(show.code, 0, show.stderr);
      assert.equal(JSON.parse(show.stdout).id, id);
      const why = await cli(["jobs", "why", tail, "--json"]);
      assert.equal(why.code, 0, why.stderr);
      assert.equal(JSON.parse(why.stdout).id, id);
      const cancel = await cli(["jobs", "cancel", tail.toUpperCase()]);
      assert.equal(cancel.code, 0, cancel.stderr);
      assert.equal(cancel.stdout, `${id} cancelled\n`);
      const retry = await cli(["jobs", "retry", id.slice(-9), "--json"]);
      assert.equal(retry.code, 0, retry.stderr);
      const retried = JSON.parse(retry.stdout);
      assert.equal(retried.id, id);
      assert.equal(retried.state, "queued");
    });

    await t.step("the dashboard's short form (first 8 … last 4) works, also with ...", async () => {
      for (
        const short of [`${id.slice(0, 8)}…${id.slice(-4)}`, `${id.slice(0, 8)}...${id.slice(-4)}`]
      ) {
        const show = await cli(["jobs", "show", short, "--json"]);
        assert.equal(show.code, 0, `${short}: ${show.stderr}`);
        assert.equal(JSON.parse(show.stdout).id, id);
      }
    });

    await t.step(
      "an ambiguous tail lists its candidates and exits 2; nothing changes",
      async () => {
        const ambiguous = await cli(["jobs", "cancel", "abc123", "-y"]);
        assert.equal(ambiguous.code, 2, ambiguous.stderr);
        assert.match(
          ambiguous.stderr,
          /^error: AMBIGUOUS_ID: ambiguous id "abc123": it fits 2 jobs: /,
        );
        for (const full of TWINS) assert.ok(ambiguous.stderr.includes(full), ambiguous.stderr);
        const json = await cli(["jobs", "show", "abc123", "--json"]);
        assert.equal(json.code, 2);
        assert.equal(JSON.parse(json.stdout).error.code, "AMBIGUOUS_ID");
        for (const full of TWINS) {
          const job = JSON.parse((await cli(["jobs", "show", full, "--json"])).stdout);
          assert.equal(job.state, "scheduled", "neither twin was cancelled");
        }
        // One more character tells them apart.
        const one = await cli(["jobs", "show", "babc123", "--json"]);
        assert.equal(one.code, 0, one.stderr);
        assert.equal(JSON.parse(one.stdout).id, TWINS[1]);
      },
    );

    await t.step("a tail that fits nothing, or too short, exits 2 saying so", async () => {
      const none = await cli(["jobs", "show", "fedcba987"]);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /JOB_NOT_FOUND: no job with an id ending in fedcba987/);
      const short = await cli(["jobs", "show", "abc12"]);
      assert.equal(short.code, 2);
      assert.match(short.stderr, /INVALID_ARGUMENT: "abc12" is not a job id: .*last 6 or more/);
    });

    await t.step("the control API resolves short ids too (404, 400 AMBIGUOUS_ID)", async () => {
      const one = await curl(socket, [`http://localhost/v1/jobs/${tail}`]);
      assert.equal(one.status, 200, one.body);
      assert.equal(JSON.parse(one.body).id, id);
      const twins = await curl(socket, ["http://localhost/v1/jobs/abc123/why"]);
      assert.equal(twins.status, 400, twins.body);
      assert.equal(JSON.parse(twins.body).error.code, "AMBIGUOUS_ID");
      const none = await curl(socket, ["-X", "POST", "http://localhost/v1/jobs/fedcba987/retry"]);
      assert.equal(none.status, 404, none.body);
      assert.equal(JSON.parse(none.body).error.code, "JOB_NOT_FOUND");
    });

    await t.step("GET / lists the routes as written, not as regular expressions", async () => {
      const index = await curl(socket, ["http://localhost/"]);
      assert.equal(index.status, 200);
      const routes: string[] = JSON.parse(index.body).routes;
      assert.ok(routes.includes("GET /v1/status"), routes.join(", "));
      assert.ok(routes.includes("POST /v1/jobs/:id/cancel"), routes.join(", "));
      assert.ok(routes.every((r) => !r.includes("\\")), routes.join(", "));
    });

    await t.step("--socket and --json work before the subcommand too", async () => {
      const elsewhere = `${dir}/elsewhere`;
      await Deno.mkdir(elsewhere);
      const before = await runLiminal(["--socket", socket, "status"], { cwd: elsewhere });
      assert.equal(before.code, 0, before.stderr);
      assert.match(before.stdout, /running/);
      const both = await runLiminal(["--json", `--socket=${socket}`, "status"], { cwd: elsewhere });
      assert.equal(both.code, 0, both.stderr);
      assert.equal(JSON.parse(both.stdout).state, "running");
      const show = await runLiminal(["--socket", socket, "--json", "jobs", "show", tail], {
        cwd: elsewhere,
      });
      assert.equal(show.code, 0, show.stderr);
      assert.equal(JSON.parse(show.stdout).id, id);
      const nodes = await cli(["nodes", "--json"]);
      assert.equal(nodes.code, 0, nodes.stderr);
      assert.equal(JSON.parse(nodes.stdout).nodes.length, 1);
      const nodesList = await cli(["--json", "nodes", "list"]);
      assert.equal(nodesList.code, 0, nodesList.stderr);
      assert.equal(JSON.parse(nodesList.stdout).nodes.length, 1);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nodes --help lists the --json its example uses", async () => {
  const help = await runLiminal(["nodes", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /\$ liminal nodes --json/);
  assert.match(help.stdout, /^\s+--json\s/m);
  assert.match(help.stdout, /^\s+--socket <path>\s/m);
});

Deno.test("--store that is no regular file: a clear error, exit 2, nothing made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-devnull-" });
  try {
    const devNull = await runLiminal(["start", "--no-tui", "--store", "/dev/null"], { cwd: dir });
    assert.equal(devNull.code, 2, devNull.stderr);
    assert.match(
      devNull.stderr,
      /^error: STORE_UNAVAILABLE: the store \/dev\/null is a character device, not a database file/,
    );
    assert.doesNotMatch(devNull.stderr, /allow-all/);
    const directory = await runLiminal(["start", "--no-tui", "--store", dir], { cwd: dir });
    assert.equal(directory.code, 2, directory.stderr);
    assert.match(directory.stderr, /the store .* is a directory, not a database file/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was made");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a syntax error in a --jobs module says file:line:column", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-syntax-" });
  try {
    await Deno.writeTextFile(`${dir}/broken.ts`, 'export const x = {\n  kind: "a",,\n};\n');
    await Deno.writeTextFile(`${dir}/plan.json`, '{ "jobs": [{ "kind": "sleep" }] }');
    const result = await runLiminal(["run", "plan.json", "--jobs", "./broken.ts"], { cwd: dir });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /^error: INVALID_JOB_MODULE: cannot load job module \.\/broken\.ts: \.\/broken\.ts:2:13: SyntaxError: /,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
