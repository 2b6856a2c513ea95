/**
 * Territory leases with real processes: an operator's lease holds against a critical job
 * (`jobs why` names her; her release lets the job run); holders are unique per acquire;
 * releasing another's lease exits 4; a preemption shows in `leases`; `liminal run` honours
 * the running runtime's leases (waits, or exits 4 with --no-wait-leases).
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

async function start(dir: string): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui"], { cwd: dir });
  await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime to start");
  return proc;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("territory leases between shells, jobs and liminal run", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-leases-" });
  const cli = (args: string[], env?: Record<string, string>) =>
    runLiminal(args, { cwd: dir, ...(env === undefined ? {} : { env }) });
  const json = async (args: string[]) => {
    const result = await cli([...args, "--json"]);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  const state = async (id: string) => (await json(["jobs", "show", id])).state as string;
  const until = async (what: string, ok: () => Promise<boolean>, ms = 10_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      assert.ok(Date.now() < deadline, `timed out: ${what}`);
      await sleep(100);
    }
  };
  const runtime = await start(dir);
  try {
    await t.step(
      "alice's lease survives a critical job that wants it; jobs why names her; her release lets it run",
      async () => {
        const acquired = await cli([
          "leases",
          "acquire",
          "db/app",
          "--holder",
          "alice",
          "--ttl",
          "10m",
        ]);
        assert.equal(acquired.code, 0, acquired.stderr);
        const enqueued = await cli([
          "enqueue",
          "sleep",
          "--payload",
          '{"ms": 100}',
          "--lease",
          "db/app",
          "-p",
          "critical",
        ]);
        assert.equal(enqueued.code, 0, enqueued.stderr);
        const id = enqueued.stdout.trim();
        await sleep(1_500);
        assert.equal(await state(id), "queued", "the critical job did not take alice's lease");
        const leases = await json(["leases"]);
        const app = leases.leases.find((l: { resource: string }) => l.resource === "db/app");
        assert.equal(app.holder, "alice");
        assert.equal(app.preemptible, false);
        assert.deepEqual(app.waiters.map((w: { jobId: string }) => w.jobId), [id]);
        const why = await cli(["jobs", "why", id]);
        assert.match(
          why.stdout,
          /needs lease db\/app, held by alice \(coordinate\) for 9m \d+s more/,
        );
        const released = await cli(["leases", "release", "db/app", "--holder", "alice"]);
        assert.equal(released.code, 0, released.stderr);
        await until(
          "the job to run after the release",
          async () => (await state(id)) === "succeeded",
        );
      },
    );

    await t.step("two acquires without --holder get different holders, printed", async () => {
      const first = await cli(["leases", "acquire", "db/one"], { USER: "sam" });
      const second = await cli(["leases", "acquire", "db/two"], { USER: "sam" });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(second.code, 0, second.stderr);
      const holderOf = (out: string) => /held by (\S+) until/.exec(out)?.[1];
      const one = holderOf(first.stdout);
      const two = holderOf(second.stdout);
      assert.match(one ?? "", /^sam@cli-[0-9a-f]{6}$/);
      assert.match(two ?? "", /^sam@cli-[0-9a-f]{6}$/);
      assert.notEqual(one, two, "two shells never share a holder");
      assert.match(
        first.stdout,
        new RegExp(`release: liminal leases release db/one --holder ${one}`),
      );
      // The second shell does not hold the first's lease.
      const again = await cli(["leases", "acquire", "db/one"], { USER: "sam" });
      assert.equal(again.code, 4);
      assert.match(again.stderr, new RegExp(`LEASE_HELD: db/one is held by ${one}`));
      const bare = await cli(["leases", "release", "db/one"]);
      assert.equal(bare.code, 2, "a release must name its holder");
      assert.match(bare.stderr, new RegExp(`needs --holder .*held by ${one}`));
      assert.equal((await cli(["leases", "release", "db/one", "--holder", one!])).code, 0);
      const viaEnv = await cli(["leases", "release", "db/two"], { LIMINAL_LEASE_HOLDER: two! });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
    });

    await t.step(
      "releasing another's lease exits 4 naming the holder; acquiring again is refused; renew says when it shortens",
      async () => {
        assert.equal(
          (await cli(["leases", "acquire", "db/x", "--holder", "ana", "--ttl", "10m"])).code,
          0,
        );
        const other = await cli(["leases", "release", "db/x", "--holder", "bob"]);
        assert.equal(other.code, 4, other.stderr);
        assert.match(other.stderr, /LEASE_HELD_BY_OTHER: bob does not hold db\/x: ana does/);
        const nobody = await cli(["leases", "release", "db/never", "--holder", "bob"]);
        assert.notEqual(nobody.code, 0, "releasing a lease nobody holds stays an error");
        assert.match(nobody.stderr, /LEASE_NOT_HELD: bob does not hold db\/never: nobody holds it/);
        const again = await cli(["leases", "acquire", "db/x", "--holder", "ana", "--ttl", "1m"]);
        assert.equal(again.code, 4);
        assert.match(again.stderr, /already held by ana/);
        const left = (await json(["leases"])).leases.find((l: { resource: string }) =>
          l.resource === "db/x"
        ).leftMs;
        assert.ok(left > 9 * 60_000, `still about 10m left (${left} ms)`);
        const shorter = await cli(["leases", "renew", "db/x", "--holder", "ana", "--ttl", "1m"]);
        assert.equal(shorter.code, 0, shorter.stderr);
        assert.match(shorter.stdout, /\(shortened: it was held until /);
        assert.equal((await cli(["leases", "release", "db/x", "--holder", "ana"])).code, 0);
      },
    );

    await t.step(
      "a preempted job is interrupted with 'preempted by …', shown in leases",
      async () => {
        const id = (await cli([
          "enqueue",
          "sleep",
          "--payload",
          '{"ms": 60000}',
          "--lease",
          "db/pre",
          "-p",
          "info",
        ])).stdout.trim();
        await until("the job to start", async () => (await state(id)) === "running");
        const taken = await cli([
          "leases",
          "acquire",
          "db/pre",
          "--holder",
          "ops",
          "-p",
          "critical",
          "--ttl",
          "5m",
        ]);
        assert.equal(taken.code, 0, taken.stderr);
        await until("the job to be interrupted", async () => (await state(id)) === "queued");
        const job = await json(["jobs", "show", id]);
        assert.match(JSON.stringify(job), /preempted by ops \(critical\)/);
        const listed = await cli(["leases"]);
        assert.match(
          listed.stdout,
          /recent preemptions:\n.*db\/pre: job:\S+ preempted by ops \(critical\)/,
        );
        assert.equal((await cli(["jobs", "cancel", id, "--yes"])).code, 0);
        assert.equal((await cli(["leases", "release", "db/pre", "--holder", "ops"])).code, 0);
      },
    );

    await t.step(
      "liminal run waits while the runtime holds a plan job's lease; --no-wait-leases exits 4",
      async () => {
        const plan = `${dir}/plan.json`;
        await Deno.writeTextFile(
          plan,
          JSON.stringify({
            name: "leased",
            jobs: [
              { kind: "sleep", payload: { ms: 50 }, leases: ["db/app"] },
              { kind: "sleep", payload: { ms: 50 } },
            ],
          }),
        );
        assert.equal(
          (await cli(["leases", "acquire", "db/app", "--holder", "alice", "--ttl", "10m"])).code,
          0,
        );
        const run = spawnLiminal(["run", plan, "--json"], { cwd: dir });
        try {
          await until("run to wait in the runtime's line", async () => {
            const app = (await json(["leases"])).leases.find((l: { resource: string }) =>
              l.resource === "db/app"
            );
            return app.waiters.some((w: { holder: string }) => w.holder.startsWith("run:leased:"));
          });
          await sleep(1_000);
          assert.equal(run.stdout, "", "run has not finished: its --json summary comes at the end");
          const releasedAt = Date.now();
          assert.equal((await cli(["leases", "release", "db/app", "--holder", "alice"])).code, 0);
          const result = await run.done();
          assert.equal(result.code, 0, result.stderr);
          const summary = JSON.parse(result.stdout);
          assert.equal(summary.counts.succeeded, 2);
          const leasedJob = summary.jobs.find((j: { leases: string[] }) => j.leases?.length);
          const startedAt = Date.parse(leasedJob.attempts[0].startedAt);
          assert.ok(
            startedAt >= releasedAt - 50,
            `the plan job started (${startedAt}) after alice released (${releasedAt})`,
          );
          const free = summary.jobs.find((j: { leases: string[] }) => !j.leases?.length);
          assert.ok(
            Date.parse(free.attempts[0].startedAt) < releasedAt,
            "the plan job without leases did not wait",
          );
          const after = (await json(["leases"])).leases;
          assert.deepEqual(after, [], "run gave its lease back");
        } finally {
          await run[Symbol.asyncDispose]();
        }
        assert.equal(
          (await cli(["leases", "acquire", "db/app", "--holder", "alice", "--ttl", "10m"])).code,
          0,
        );
        const refused = await cli(["run", plan, "--no-wait-leases"]);
        assert.equal(refused.code, 4, refused.stderr);
        assert.match(
          refused.stderr,
          /LEASE_HELD: plan job #1 \(sleep\) needs lease db\/app: .*held by alice/,
        );
        assert.equal(refused.stdout, "", "nothing ran");
        assert.equal((await cli(["leases", "release", "db/app", "--holder", "alice"])).code, 0);
      },
    );
  } finally {
    runtime.kill("SIGTERM");
    await runtime.done();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("start --lease-ttl 1s: a 3 s job keeps its lease; the next job needing it waits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-lease-ttl-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const proc = spawnLiminal(["start", "--no-tui", "--lease-ttl", "1s", "--kill-grace", "500ms"], {
    cwd: dir,
  });
  try {
    await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime to start");
    const enqueue = async (ms: number) =>
      (await cli(["enqueue", "sleep", "--payload", `{"ms": ${ms}}`, "--lease", "db/x"])).stdout
        .trim();
    const a = await enqueue(3_000);
    const b = await enqueue(100);
    const show = async (id: string) =>
      JSON.parse((await cli(["jobs", "show", id, "--json"])).stdout);
    const deadline = Date.now() + 15_000;
    let ja, jb;
    for (;;) {
      [ja, jb] = [await show(a), await show(b)];
      if (ja.state === "succeeded" && jb.state === "succeeded") break;
      assert.ok(Date.now() < deadline, `a ${ja.state}, b ${jb.state}`);
      await sleep(200);
    }
    const aEnded = Date.parse(ja.attempts[0].endedAt);
    const bStarted = Date.parse(jb.attempts[0].startedAt);
    assert.ok(bStarted >= aEnded, `b started ${aEnded - bStarted} ms before a ended`);
    assert.equal(ja.attempts.length, 1);
    const bad = await cli(["start", "--no-tui", "--lease-ttl", "2h", "--socket", `${dir}/x.sock`]);
    assert.equal(bad.code, 2, bad.stderr);
  } finally {
    proc.kill("SIGTERM");
    await proc.done();
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Live (not zombie) process ids whose process group is `pgid`, read from /proc through `sh`
 * (the test task's permissions do not let Deno read /proc itself).
 */
async function groupMembers(pgid: number): Promise<number[]> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "cat /proc/[0-9]*/stat 2>/dev/null; exit 0"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const members: number[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    // pid (comm) state ppid pgrp …: comm may hold spaces, so split after the last ')'.
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    const fields = line.slice(close + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z") members.push(Number.parseInt(line, 10));
  }
  return members;
}

Deno.test("preempting a command job's lease hands it over only once the job's processes are gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-lease-handover-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const runtime = await start(dir);
  try {
    // A program that ignores SIGTERM: only the SIGKILL after its 2 s kill grace stops it.
    const pidFile = `${dir}/pid`;
    const enqueued = await cli([
      "enqueue",
      "command",
      "--payload",
      JSON.stringify({
        cmd: ["sh", "-c", `echo $$ > ${pidFile}; trap '' TERM; sleep 44; :`],
        killGrace: "2s",
      }),
      "--lease",
      "db/j",
    ]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = enqueued.stdout.trim();
    let pgid = 0;
    const deadline = Date.now() + 10_000;
    while (pgid === 0 || (await groupMembers(pgid)).length < 2) {
      assert.ok(Date.now() < deadline, "the command to start");
      await sleep(100);
      pgid = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim() || 0);
    }
    const asked = Date.now();
    const acquired = await cli([
      "leases",
      "acquire",
      "db/j",
      "-p",
      "critical",
      "--holder",
      "eve",
      "--ttl",
      "3m",
    ]);
    const took = Date.now() - asked;
    assert.equal(acquired.code, 0, acquired.stderr);
    const left = await groupMembers(pgid);
    assert.deepEqual(left, [], `processes of the preempted job still ran at the handover: ${left}`);
    assert.ok(took >= 1_500, `the acquire returned after ${took} ms, within the kill grace`);
    assert.match(acquired.stdout, /db\/j held by eve/);
    assert.match(acquired.stdout, new RegExp(`preempted job ${id} \\(db/j\\): it was interrupted`));
    const show = JSON.parse((await cli(["jobs", "show", id, "--json"])).stdout);
    assert.match(
      show.attempts[0].error?.message ?? show.lastError?.message ?? "",
      /preempted by eve/,
    );
    const leases = JSON.parse((await cli(["leases", "--json"])).stdout);
    assert.equal(
      leases.leases.find((l: { resource: string }) => l.resource === "db/j")?.holder,
      "eve",
    );
    assert.ok(
      leases.preemptions.some((p: { jobId: string; by: string }) =>
        p.jobId === id && p.by === "eve"
      ),
    );
    // The job waits for eve's lease; its next attempt does not start beside her.
    await sleep(500);
    assert.equal(JSON.parse((await cli(["jobs", "show", id, "--json"])).stdout).state, "queued");
    const released = await cli(["leases", "release", "db/j", "--holder", "eve"]);
    assert.equal(released.code, 0, released.stderr);
    await cli(["jobs", "cancel", id]);
  } finally {
    runtime.kill("SIGTERM");
    await runtime.done();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lease refusals say what fits: no priority takes an operator's lease; a timed-out wait names the holder; --lease-ttl against --kill-grace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-lease-words-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    // --lease-ttl is checked before anything is created: its maximum, and the kill grace.
    const long = await cli(["start", "--no-tui", "--lease-ttl", "2h"]);
    assert.equal(long.code, 2, long.stderr);
    assert.match(long.stderr, /--lease-ttl must be longer than 0 and at most 1h, got "2h"/);
    const short = await cli(["start", "--no-tui", "--lease-ttl", "1s"]);
    assert.equal(short.code, 2, short.stderr);
    assert.match(short.stderr, /--lease-ttl 1s is too short for --kill-grace 5s/);
    assert.match(short.stderr, /hint: use --lease-ttl above 7\.5s, or a shorter --kill-grace/);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      [],
      "nothing was created by the refused starts",
    );

    const runtime = await start(dir);
    try {
      const alice = await cli(["leases", "acquire", "db/g", "--holder", "alice", "--ttl", "10m"]);
      assert.equal(alice.code, 0, alice.stderr);
      const override = await cli([
        "leases",
        "acquire",
        "db/g",
        "--holder",
        "bob",
        "-p",
        "override",
      ]);
      assert.equal(override.code, 4, override.stderr);
      assert.match(override.stderr, /not preemptible/);
      assert.match(override.stderr, /ask alice to release it/);
      assert.doesNotMatch(override.stderr, /higher priority/);
      const waited = await cli(["leases", "acquire", "db/g", "--holder", "op", "--wait", "2s"]);
      assert.equal(waited.code, 4, waited.stderr);
      assert.match(
        waited.stderr,
        /db\/g is still held by alice \(coordinate, 9m \d+s left\) after waiting 2s/,
      );
      assert.doesNotMatch(waited.stderr, /2000ms/);
      // Releasing a lease nobody holds is a conflict (exit 4), as the README says everywhere.
      const nobody = await cli(["leases", "release", "db/none", "--holder", "alice"]);
      assert.equal(nobody.code, 4, nobody.stderr);
      assert.match(nobody.stderr, /LEASE_NOT_HELD/);
      const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
      assert.doesNotMatch(readme, /LEASE_NOT_HELD`,?\s+exit 2/);
      assert.match(readme, /LEASE_NOT_HELD`,\s+exit 4/);
    } finally {
      runtime.kill("SIGTERM");
      await runtime.done();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("liminal run: a critical plan job preempting a runtime job's lease starts only once that job's processes are gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-lease-run-handover-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const runtime = await start(dir);
  try {
    const pidFile = `${dir}/pid`;
    const enqueued = await cli([
      "enqueue",
      "command",
      "--payload",
      JSON.stringify({
        cmd: ["sh", "-c", `echo $$ > ${pidFile}; trap '' TERM; sleep 44; :`],
        killGrace: "2s",
      }),
      "--lease",
      "db/k",
    ]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    let pgid = 0;
    const deadline = Date.now() + 10_000;
    while (pgid === 0 || (await groupMembers(pgid)).length < 2) {
      assert.ok(Date.now() < deadline, "the command to start");
      await sleep(100);
      pgid = Number((await Deno.readTextFile(pidFile).catch(() => "")).trim() || 0);
    }
    // The plan job fails if any process of the runtime job's group still runs.
    const plan = `${dir}/plan.json`;
    await Deno.writeTextFile(
      plan,
      JSON.stringify({
        name: "handover",
        jobs: [{
          kind: "command",
          priority: "critical",
          leases: ["db/k"],
          payload: {
            // (Zombies left for a PID 1 that does not reap them do not count: they run nothing.)
            cmd: [
              "sh",
              "-c",
              `cat /proc/[0-9]*/stat 2>/dev/null | awk -v g=${pgid} '$5 == g && $3 != "Z" { f = 1 } END { if (f) { print "overlap"; exit 3 } }'`,
            ],
          },
        }],
      }),
    );
    const result = await cli(["run", plan, "--json"]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.counts.succeeded, 1, result.stdout);
    assert.deepEqual(await groupMembers(pgid), []);
    const show = JSON.parse((await cli(["jobs", "show", enqueued.stdout.trim(), "--json"])).stdout);
    assert.match(JSON.stringify(show), /preempted by run:handover:/);
    await cli(["jobs", "cancel", enqueued.stdout.trim(), "--yes"]);
  } finally {
    runtime.kill("SIGTERM");
    await runtime.done();
    await Deno.remove(dir, { recursive: true });
  }
});
