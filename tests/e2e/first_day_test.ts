/**
 * A new user's first day, as the README tells it, from a directory outside the checkout:
 * `deno task install` (into a temporary root, not on PATH: it prints the line to add), then
 * `deno task install --copy` (a command that no longer refers to the checkout, and the
 * `deno.json` line that type-checks a module of one's own); then with the installed command: `liminal start` with the example module (its APP_* settings
 * pointing at a real database, an uploads directory and a health endpoint) and a job module
 * of the user's own that imports from "liminal"; the example plan (exit 0); the user's kind
 * enqueued and the example's scheduled jobs triggered, all succeeding; and no dead job.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";

const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const EXAMPLES = `${CHECKOUT}/examples`;
const DENO_DIR = dirname(Deno.execPath());
const decoder = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdin: "null" }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  } satisfies Result;
}

const MY_JOBS = `import { defineJob } from "liminal";

export const greet = defineJob({
  kind: "greet",
  validate(payload) {
    const p = payload as { who?: unknown } | null;
    if (typeof p?.who !== "string") throw new Error('expected { "who": "…" }');
    return { who: p.who };
  },
  handler: ({ payload, log }) => {
    log(\`hello \${payload.who}\`);
    return { greeted: payload.who };
  },
});
`;

Deno.test("first day: install, start the example module and a module of one's own outside the checkout, run the example plan; nothing dies", async () => {
  const root = await Deno.makeTempDir({ prefix: "liminal-root-" });
  const project = await Deno.makeTempDir({ prefix: "liminal-first-day-" });
  assert.ok(!project.startsWith(CHECKOUT));
  const health = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("ok"),
  );
  try {
    // Install: not on PATH, so it prints the line to add; on PATH, it does not.
    const path = `${DENO_DIR}:/usr/bin:/bin`;
    const install = await exec(
      Deno.execPath(),
      ["task", "install", "--root", root],
      CHECKOUT,
      { PATH: path, NO_COLOR: "1" },
    );
    assert.equal(install.code, 0, install.stderr);
    assert.match(install.stdout, new RegExp(`installed ${root}/bin/liminal`));
    assert.match(install.stdout, new RegExp(`it runs this checkout, ${CHECKOUT}`));
    assert.ok(
      install.stdout.includes(`${root}/bin is not on your PATH`) &&
        install.stdout.includes(`export PATH="${root}/bin:$PATH"`),
      install.stdout,
    );
    // With --copy (and on PATH): a copy of the package, nothing of the checkout referenced.
    const again = await exec(
      Deno.execPath(),
      ["task", "install", "--copy", "--root", root],
      CHECKOUT,
      { PATH: `${root}/bin:${path}`, NO_COLOR: "1" },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.ok(!again.stdout.includes("not on your PATH"), again.stdout);
    assert.match(
      again.stdout,
      new RegExp(`it runs a copy of this checkout in ${root}/lib/liminal`),
    );
    const shim = await Deno.readTextFile(`${root}/bin/liminal`);
    assert.match(shim, new RegExp(`file://${root}/lib/liminal/main.ts`));
    assert.ok(!shim.includes(CHECKOUT), shim);
    const config = await Deno.readTextFile(`${root}/bin/.liminal/deno.json`);
    assert.ok(!config.includes(CHECKOUT), config);
    const line = again.stdout.split("\n").find((l) => l.includes('"imports"'))?.trim();
    assert.equal(line, `{ "imports": { "liminal": "${root}/lib/liminal/mod.ts" } }`);

    // The user's project: a job module importing "liminal". The installed command resolves
    // "liminal" itself, with no deno.json in the project…
    await Deno.writeTextFile(`${project}/my_jobs.ts`, MY_JOBS);
    await Deno.writeTextFile(
      `${project}/plan.json`,
      JSON.stringify({ name: "mine", jobs: [{ kind: "greet", payload: { who: "plan" } }] }),
    );
    const bare = await exec(
      `${root}/bin/liminal`,
      ["run", "plan.json", "--jobs", "./my_jobs.ts", "--json"],
      project,
      { PATH: `${root}/bin:${path}`, NO_COLOR: "1" },
    );
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(JSON.parse(bare.stdout).jobs[0].state, "succeeded");
    // …and the one line of deno.json that type-checks it.
    await Deno.writeTextFile(`${project}/deno.json`, line!);
    const check = await exec(Deno.execPath(), ["check", "my_jobs.ts"], project, {
      PATH: path,
      NO_COLOR: "1",
    });
    assert.equal(check.code, 0, check.stderr);

    // What the example module's settings point at.
    await Deno.mkdir(`${project}/data/uploads`, { recursive: true });
    const db = new DatabaseSync(`${project}/data/app.db`);
    db.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)");
    db.close();
    const env = {
      PATH: `${root}/bin:${path}`,
      NO_COLOR: "1",
      APP_DB: `${project}/data/app.db`,
      APP_UPLOADS: `${project}/data/uploads`,
      APP_HEALTH_URL: `http://127.0.0.1:${health.addr.port}/health`,
    };
    const liminal = (...args: string[]) => exec(`${root}/bin/liminal`, args, project, env);

    const child = new Deno.Command(`${root}/bin/liminal`, {
      args: ["start", "--no-tui", "--jobs", `${EXAMPLES}/maintenance.ts`, "--jobs", "./my_jobs.ts"],
      cwd: project,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let stderr = "";
    const reading = Promise.all([
      child.stdout.pipeTo(new WritableStream()),
      (async () => {
        const d = new TextDecoder();
        for await (const chunk of child.stderr) stderr += d.decode(chunk, { stream: true });
      })(),
    ]);
    try {
      const deadline = Date.now() + 30_000;
      while (!stderr.includes("Ctrl-C to stop")) {
        assert.ok(Date.now() < deadline, `the runtime did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(!stderr.includes("examples/maintenance.ts: no "), stderr);

      const plan = await liminal("run", `${EXAMPLES}/nightly.json`);
      assert.equal(plan.code, 0, plan.stderr);

      const greet = await liminal("enqueue", "greet", "--payload", '{"who": "me"}', "--wait");
      assert.equal(greet.code, 0, greet.stderr);

      const triggered: string[] = [];
      for (const name of ["health", "wal-checkpoint", "cleanup-uploads", "nightly-backup"]) {
        const t = await liminal("schedules", "trigger", name, "--json");
        assert.equal(t.code, 0, t.stderr);
        triggered.push(JSON.parse(t.stdout).jobId);
      }
      type Row = { id: string; kind: string; state: string };
      let rows: Row[] = [];
      while (true) {
        const list = await liminal("jobs", "--json");
        assert.equal(list.code, 0, list.stderr);
        rows = JSON.parse(list.stdout).jobs;
        const mine = rows.filter((r) => triggered.includes(r.id));
        if (mine.length === 4 && mine.every((r) => r.state === "succeeded")) break;
        assert.ok(
          mine.every((r) => !["dead", "cancelled"].includes(r.state)),
          JSON.stringify(mine),
        );
        assert.ok(Date.now() < deadline + 30_000, `jobs did not finish: ${JSON.stringify(mine)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal([...Deno.readDirSync(`${project}/data/backups`)].length, 1);

      const dead = await liminal("jobs", "--state", "dead", "--json");
      assert.equal(dead.code, 0, dead.stderr);
      assert.deepEqual(JSON.parse(dead.stdout).jobs, []);
      assert.deepEqual(
        rows.filter((r) => r.state !== "succeeded"),
        [],
        "every job of the first day succeeded",
      );
    } finally {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await reading;
      assert.equal(status.code, 0, stderr);
    }
  } finally {
    await health.shutdown();
    await Deno.remove(project, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
