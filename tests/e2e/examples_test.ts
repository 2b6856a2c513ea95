/**
 * The examples the README points at work as it says: the nightly plan succeeds and its failing
 * variant reports its failing job; the maintenance module schedules only what its settings
 * allow (nothing that fails out of the box), loads its kinds, schedules and endpoint, backs up
 * and vacuums a real database under its lease, and its endpoint hears a job that died.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;

Deno.test("examples/nightly.json: every job succeeds, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-example-" });
  try {
    const result = await runLiminal(["run", `${EXAMPLES}nightly.json`, "--json"], { cwd: dir });
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    const states = report.jobs.map((j: { kind: string; state: string }) => `${j.kind}:${j.state}`);
    assert.deepEqual(states.sort(), ["command:succeeded", "command:succeeded", "sleep:succeeded"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/nightly-failing.json: runs every job, exits 1 for the one meant to fail", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-example-" });
  try {
    const result = await runLiminal(["run", `${EXAMPLES}nightly-failing.json`, "--json"], {
      cwd: dir,
    });
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout);
    const states = report.jobs.map((j: { kind: string; state: string }) => `${j.kind}:${j.state}`);
    assert.deepEqual(states.sort(), ["command:succeeded", "fail:dead", "sleep:succeeded"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/maintenance.ts without APP_* settings: no schedule that could fail, and a line saying what is left out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-example-" });
  try {
    await using runtime = spawnLiminal(
      ["start", "--no-tui", "--store", ":memory:", "--jobs", `${EXAMPLES}maintenance.ts`],
      { cwd: dir, env: { APP_DB: "", APP_UPLOADS: "", APP_HEALTH_URL: "" } },
    );
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime");
    assert.match(
      runtime.stderr,
      /examples\/maintenance\.ts: no health check \(set APP_HEALTH_URL\); no checkpoint, backup or vacuum \(set APP_DB\); no upload cleanup \(set APP_UPLOADS\)/,
    );
    const schedules = JSON.parse(
      (await runLiminal(["schedules", "--json"], { cwd: dir })).stdout,
    ).schedules.map((s: { name: string }) => s.name).sort();
    assert.deepEqual(schedules, ["lease-sweep", "prune-history"]);
    runtime.kill("SIGTERM");
    assert.equal((await runtime.done()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/maintenance.ts: schedules, a backup and vacuum under db/app, ops-alerts hears a dead job", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-example-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await Deno.mkdir(`${dir}/data/uploads`, { recursive: true });
    const db = new DatabaseSync(`${dir}/data/app.db`);
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3)");
    db.close();
    await using runtime = spawnLiminal(
      ["start", "--no-tui", "--jobs", `${EXAMPLES}maintenance.ts`],
      {
        cwd: dir,
        env: {
          APP_DB: "data/app.db",
          APP_UPLOADS: "data/uploads",
          APP_HEALTH_URL: "http://127.0.0.1:9/health",
        },
      },
    );
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime");

    const schedules = JSON.parse((await cli(["schedules", "--json"])).stdout).schedules
      .map((s: { name: string }) => s.name).sort();
    assert.deepEqual(schedules, [
      "cleanup-uploads",
      "health",
      "lease-sweep",
      "nightly-backup",
      "nightly-vacuum",
      "prune-history",
      "wal-checkpoint",
    ]);

    const backup = await cli([
      "enqueue",
      "backup",
      "--payload",
      '{"path": "data/app.db", "dir": "data/backups", "keep": 2}',
      "--lease",
      "db/app",
      "--wait",
    ]);
    assert.equal(backup.code, 0, backup.stderr);
    const files = [...Deno.readDirSync(`${dir}/data/backups`)].map((e) => e.name);
    assert.equal(files.length, 1);
    const copy = new DatabaseSync(`${dir}/data/backups/${files[0]}`);
    assert.equal((copy.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 3);
    copy.close();

    const vacuum = await cli([
      "enqueue",
      "vacuum",
      "--payload",
      '{"path": "data/app.db"}',
      "--wait",
    ]);
    assert.equal(vacuum.code, 0, vacuum.stderr);

    const dead = await cli([
      "enqueue",
      "fail",
      "--payload",
      '{"message": "disk on fire"}',
      "--attempts",
      "1",
      "--wait",
    ]);
    assert.equal(dead.code, 1);
    await runtime.waitFor(
      (p) => /ops-alerts: job fail [0-9a-f-]{36} died: disk on fire/.test(p.stderr),
      10_000,
      "the endpoint to hear the dead job",
    );

    runtime.kill("SIGTERM");
    assert.equal((await runtime.done()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
