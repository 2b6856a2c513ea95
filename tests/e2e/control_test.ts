/**
 * The control plane and `liminal start` as real processes: enqueue, jobs, status, shutdown,
 * curl on the socket, conflicts, hostile input, and Ctrl-C.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURES = new URL("./fixtures/jobs.ts", import.meta.url).pathname;

async function startRuntime(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", "--jobs", FIXTURES, ...extra], { cwd: dir });
  await proc.waitFor(
    (p) => p.stderr.includes("Ctrl-C to stop") || p.child.pid === 0,
    20_000,
    "the runtime to start",
  );
  return proc;
}

async function curl(dir: string, args: string[]): Promise<{ status: number; body: string }> {
  const output = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "-",
      "-w",
      "\n%{http_code}",
      "--unix-socket",
      `${dir}/.liminal/liminal.sock`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

Deno.test("control plane end to end", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-ctl-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await t.step(
      "with no runtime, status exits 3 naming the socket and suggesting liminal start",
      async () => {
        const result = await cli(["status"]);
        assert.equal(result.code, 3);
        assert.match(
          result.stderr,
          /^error: RUNTIME_UNREACHABLE: no runtime answers on \.liminal\/liminal\.sock/,
        );
        assert.match(result.stderr, /hint: start one with: liminal start/);
      },
    );

    await using runtime = await startRuntime(dir);

    await t.step("the socket is 0600 in a 0700 directory", async () => {
      assert.equal((await Deno.stat(`${dir}/.liminal/liminal.sock`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/.liminal`)).mode! & 0o777, 0o700);
    });

    await t.step("enqueue --wait --json of a sleep job exits 0 with state succeeded", async () => {
      const result = await cli([
        "enqueue",
        "sleep",
        "--payload",
        '{"ms": 100}',
        "--wait",
        "--json",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const { jobs: [job] } = JSON.parse(result.stdout);
      assert.equal(job.state, "succeeded");
      assert.equal(job.kind, "sleep");
      assert.deepEqual(job.result, { sleptMs: 100 });
    });

    await t.step(
      "a fail job with 2 attempts: --wait exits 1 and jobs show lists both attempts",
      async () => {
        const result = await cli([
          "enqueue",
          "fail",
          "--payload",
          '{"message": "disk on fire"}',
          "--attempts",
          "2",
          "--wait",
          "--json",
        ]);
        assert.equal(result.code, 1, result.stderr);
        const { jobs: [{ id, state }] } = JSON.parse(result.stdout);
        assert.equal(state, "dead");
        const show = await cli(["jobs", "show", id, "--json"]);
        assert.equal(show.code, 0);
        const job = JSON.parse(show.stdout);
        assert.equal(job.attempts.length, 2);
        assert.deepEqual(job.attempts.map((a: { outcome: string }) => a.outcome), [
          "failed",
          "failed",
        ]);
        assert.equal(job.attempts[1].error.message, "disk on fire");
        const human = await cli(["jobs", "show", id]);
        assert.match(human.stdout, /state\s+dead/);
        assert.match(human.stdout, /attempts\n#\s+WORKER/);
      },
    );

    await t.step("bad input exits 2 and leaves the queue unchanged", async () => {
      const before = JSON.parse((await cli(["status", "--json"])).stdout).executor.totals.enqueued;
      const cases: [string[], RegExp][] = [
        [
          ["enqueue", "clenaup"],
          /^error: UNKNOWN_JOB_KIND: unknown job kind "clenaup"; known: backup, command, fail, http-check, lease-sweep, prune-history, sleep, sqlite-checkpoint, steps, stubborn, vacuum/,
        ],
        [
          ["enqueue", "sleep", "--priority", "urgent"],
          /^error: INVALID_PRIORITY: invalid --priority "urgent"/,
        ],
        [["enqueue", "sleep", "--delay", "10x"], /^error: INVALID_DURATION: invalid --delay "10x"/],
        [
          ["enqueue", "sleep", "--timeout", "99999999999d"],
          /^error: INVALID_DURATION: invalid --timeout "99999999999d": longer than the longest/,
        ],
        [["schedules", "add", "huge", "--every", "99999d", "--kind", "sleep"], /INVALID_DURATION/],
        [
          [
            "schedules",
            "add",
            "badpay",
            "--every",
            "5s",
            "--kind",
            "sleep",
            "--payload",
            '{"ms":"x"}',
          ],
          /^error: INVALID_PAYLOAD: /,
        ],
        [
          ["enqueue", "sleep", "--payload", '{"ms": }'],
          /^error: INVALID_JSON: malformed JSON in --payload: .*position 7/,
        ],
        [
          ["enqueue", "sleep", "--payload", '{"ms": -5}'],
          /^error: INVALID_PAYLOAD: invalid payload for "sleep"/,
        ],
        [
          ["enqueue", "sleep", "--payload", "@nope.json"],
          /^error: INVALID_ARGUMENT: cannot read payload file nope\.json: no such file/,
        ],
        [["enqueue", "sleep", "--count", "0"], /^error: INVALID_ARGUMENT: invalid --count "0"/],
        [["enqueue"], /^error: USAGE: missing required argument 'kind'/],
        [["jobs", "--state", "finished"], /^error: INVALID_ARGUMENT: invalid --state "finished"/],
        [["jobs", "show", "not-an-id"], /^error: INVALID_ARGUMENT: "not-an-id" is not a job id/],
        [["jobs", "show", "01890000-0000-7000-8000-000000000000"], /^error: JOB_NOT_FOUND: /],
      ];
      for (const [args, pattern] of cases) {
        const result = await cli(args);
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, pattern, args.join(" "));
        assert.equal(result.stdout, "");
      }
      const big = `${dir}/big.json`;
      await Deno.writeTextFile(big, JSON.stringify({ blob: "x".repeat(1024 * 1024) }));
      const tooBig = await cli(["enqueue", "sleep", "--payload", `@${big}`]);
      assert.equal(tooBig.code, 2);
      assert.match(tooBig.stderr, /PAYLOAD_TOO_LARGE/);
      const after = JSON.parse((await cli(["status", "--json"])).stdout).executor.totals.enqueued;
      assert.equal(after, before);
      const { schedules } = JSON.parse((await cli(["schedules", "--json"])).stdout);
      assert.ok(
        !schedules.some((s: { name: string }) => s.name === "huge" || s.name === "badpay"),
        "a refused schedule is not saved",
      );
    });

    await t.step("status --json has the documented fields", async () => {
      const result = await cli(["status", "--json"]);
      assert.equal(result.code, 0);
      const s = JSON.parse(result.stdout);
      assert.equal(s.state, "running");
      assert.equal(typeof s.pid, "number");
      assert.equal(typeof s.uptimeMs, "number");
      assert.equal(s.socket, ".liminal/liminal.sock");
      assert.deepEqual(Object.keys(s.executor.queue.byPriority), [
        "info",
        "coordinate",
        "blocking",
        "critical",
        "override",
      ]);
      assert.equal(s.executor.workers.length, 4);
      for (const key of ["p50", "p99"]) {
        assert.ok(key in s.executor.waitMs && key in s.executor.runMs);
      }
      assert.ok("perSecond10s" in s.executor.throughput);
      assert.ok(Array.isArray(s.executor.warnings));
      const human = await cli(["status"]);
      assert.match(human.stdout, /^runtime\s+running\s+pid \d+/);
      assert.match(human.stdout, /WORKER\s+STATE\s+JOB/);
    });

    await t.step(
      "curl on the socket: status, metrics, 404, 405, 400 with position, 413",
      async () => {
        const status = await curl(dir, ["http://liminal/v1/status"]);
        assert.equal(status.status, 200);
        assert.equal(JSON.parse(status.body).state, "running");
        const metrics = await curl(dir, ["http://liminal/metrics"]);
        assert.equal(metrics.status, 200);
        assert.match(metrics.body, /^liminal_queue_depth\{priority="info",state="queued"\} \d+$/m);
        assert.match(metrics.body, /^liminal_job_run_seconds_bucket\{le="\+Inf"\} \d+$/m);
        assert.match(metrics.body, /^liminal_jobs_total\{outcome="succeeded"\} \d+$/m);
        const missing = await curl(dir, ["http://liminal/v1/nope"]);
        assert.equal(missing.status, 404);
        assert.equal(JSON.parse(missing.body).error.code, "NOT_FOUND");
        const method = await curl(dir, ["-X", "DELETE", "http://liminal/v1/status"]);
        assert.equal(method.status, 405);
        const malformed = await curl(dir, [
          "-X",
          "POST",
          "-d",
          '{"kind": "sleep",',
          "http://liminal/v1/jobs",
        ]);
        assert.equal(malformed.status, 400);
        assert.equal(JSON.parse(malformed.body).error.code, "INVALID_JSON");
        assert.match(JSON.parse(malformed.body).error.message, /position 17/);
        const bigBody = `${dir}/big-body.json`;
        await Deno.writeTextFile(
          bigBody,
          JSON.stringify({ kind: "sleep", payload: { blob: "x".repeat(2 * 1024 * 1024) } }),
        );
        const tooLarge = await curl(dir, [
          "-X",
          "POST",
          "--data-binary",
          `@${bigBody}`,
          "http://liminal/v1/jobs",
        ]);
        assert.equal(tooLarge.status, 413);
        assert.equal(JSON.parse(tooLarge.body).error.code, "PAYLOAD_TOO_LARGE");
        const created = await curl(dir, [
          "-X",
          "POST",
          "-d",
          '{"kind":"sleep","payload":{"ms":1}}',
          "http://liminal/v1/jobs",
        ]);
        assert.equal(created.status, 201);
      },
    );

    await t.step("garbage bytes and half-open connections do not stall the runtime", async () => {
      const socket = `${dir}/.liminal/liminal.sock`;
      const garbage = await Deno.connect({ transport: "unix", path: socket });
      await garbage.write(new Uint8Array([0, 255, 13, 10, 13, 10, 1, 2, 3, 71, 69, 84]));
      const halfOpen = await Deno.connect({ transport: "unix", path: socket });
      await halfOpen.write(
        new TextEncoder().encode(
          'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"kin',
        ),
      );
      const result = await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--wait", "--json"]);
      assert.equal(result.code, 0, result.stderr);
      garbage.close();
      halfOpen.close();
      // A malformed %-escape and a body shorter than its Content-Length are the client's
      // mistakes: 400 with a code, not 500.
      const raw = async (request: string) => {
        const conn = await Deno.connect({ transport: "unix", path: socket });
        await conn.write(new TextEncoder().encode(request));
        await conn.closeWrite();
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(4096);
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          chunks.push(buf.slice(0, n));
          if (new TextDecoder().decode(chunks.at(-1)).includes("}}")) break;
        }
        conn.close();
        return new TextDecoder().decode(
          chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
        );
      };
      const escape = await raw("GET /v1/jobs/%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assert.match(escape, /^HTTP\/1\.1 400/);
      assert.match(escape, /"code":"INVALID_ARGUMENT"/);
      const short = await raw(
        'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"kind"',
      );
      assert.match(short, /^HTTP\/1\.1 400/);
      assert.match(short, /"code":"INVALID_JSON"/);
    });

    await t.step(
      "Ctrl-C on enqueue --wait: exit 130, the id printed, the job goes on",
      async () => {
        const waiter = spawnLiminal(["enqueue", "sleep", "--payload", '{"ms": 3000}', "--wait"], {
          cwd: dir,
        });
        const until = Date.now() + 10_000;
        let running: { id: string }[] = [];
        while (running.length === 0) {
          assert.ok(Date.now() < until, "the job never ran");
          await new Promise((r) => setTimeout(r, 50));
          running = JSON.parse((await cli(["jobs", "--state", "running", "--json"])).stdout).jobs;
        }
        waiter.kill("SIGINT");
        const result = await waiter.done();
        assert.equal(result.code, 130);
        assert.equal(result.stdout.trim(), running[0]!.id);
        const job = JSON.parse((await cli(["jobs", "show", running[0]!.id, "--json"])).stdout);
        assert.ok(job.state === "running" || job.state === "succeeded", job.state);
        // Leave the runtime as it was for the steps below.
        await cli(["jobs", "cancel", running[0]!.id]);
        const gone = Date.now() + 10_000;
        for (;;) {
          const left = JSON.parse((await cli(["jobs", "--state", "running", "--json"])).stdout);
          if (left.jobs.length === 0) break;
          assert.ok(Date.now() < gone, "the job did not stop");
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    );

    await t.step("jobs list, cancel and retry", async () => {
      const queued = await cli(["enqueue", "sleep", "--payload", '{"ms": 1}', "--delay", "1h"]);
      const id = queued.stdout.trim();
      const scheduled = JSON.parse((await cli(["jobs", "--state", "scheduled", "--json"])).stdout);
      assert.ok(scheduled.jobs.some((j: { id: string }) => j.id === id));
      const cancelled = await cli(["jobs", "cancel", id, "--json"]);
      assert.equal(JSON.parse(cancelled.stdout).state, "cancelled");
      const retried = await cli(["jobs", "retry", id, "--json"]);
      assert.equal(retried.code, 0, retried.stderr);
      assert.equal(JSON.parse(retried.stdout).state, "queued");
      const again = await cli(["jobs", "retry", id]);
      assert.equal(again.code, 4, "a job in the wrong state is a conflict");
      // A retried job gets a fresh set of attempts; the list says so rather than "2/1".
      const dead = await cli(["enqueue", "fail", "--attempts", "1", "--wait", "--json"]);
      assert.equal(dead.code, 1);
      const waited = JSON.parse(dead.stdout);
      const deadId: string = waited.jobs[0].id;
      assert.match(deadId, /^[0-9a-f-]{36}$/);
      assert.equal((await cli(["jobs", "retry", deadId])).code, 0);
      const until = Date.now() + 10_000;
      for (;;) {
        const shown = JSON.parse((await cli(["jobs", "show", deadId, "--json"])).stdout);
        if (shown.state === "dead" && shown.attempt === 2) break;
        assert.ok(Date.now() < until, `the retried job did not die again: ${shown.state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const listed = await cli(["jobs", "--kind", "fail", "--state", "dead"]);
      assert.match(
        listed.stdout,
        new RegExp(`${deadId}\\s+fail\\s+dead\\s+\\w+\\s+1/1 \\(2 in all\\)`),
      );
      const many = await cli([
        "enqueue",
        "sleep",
        "--payload",
        '{"ms": 1}',
        "--count",
        "5",
        "--json",
      ]);
      assert.equal(JSON.parse(many.stdout).jobs.length, 5);
    });

    await t.step("a second start on the same socket exits 4 naming the pid", async () => {
      const second = await cli(["start", "--no-tui", "--store", `${dir}/second.db`]);
      assert.equal(second.code, 4);
      assert.match(
        second.stderr,
        new RegExp(
          `^error: CONFLICT: another runtime \\(pid ${runtime.child.pid}\\) already listens`,
        ),
      );
    });

    await t.step(
      "shutdown follows the phases; the runtime exits 0 and the socket is gone",
      async () => {
        await cli(["enqueue", "steps", "--payload", '{"ms": 500}']);
        const result = await cli(["shutdown"]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /phase 2\/6 drain: finished/);
        assert.match(result.stdout, /exited after/);
        const exit = await runtime.done();
        assert.equal(exit.code, 0);
        assert.match(exit.stderr, /shutdown: 1 finished, 0 interrupted and requeued/);
        await assert.rejects(Deno.stat(`${dir}/.liminal/liminal.sock`), Deno.errors.NotFound);
      },
    );

    await t.step("a stale socket left by a killed runtime is replaced", async () => {
      const killed = await startRuntime(dir);
      killed.kill("SIGKILL");
      await killed.done();
      assert.ok(
        (await Deno.lstat(`${dir}/.liminal/liminal.sock`)).isSocket,
        "the killed runtime left its socket",
      );
      const stale = await cli(["status"]);
      assert.equal(stale.code, 3);
      assert.match(stale.stderr, /stale/);
      await using fresh = await startRuntime(dir);
      const status = await cli(["status", "--json"]);
      assert.equal(JSON.parse(status.stdout).pid, fresh.child.pid);
      fresh.kill("SIGTERM");
      assert.equal((await fresh.done()).code, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C on liminal start", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-sig-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await t.step("running jobs finish within the grace; phases in order; exit 0", async () => {
      await using runtime = await startRuntime(dir, ["--grace", "5s", "--store", ":memory:"]);
      await cli(["enqueue", "steps", "--payload", '{"ms": 1000}', "--count", "2"]);
      await runtime.waitFor(
        (p) => (p.stderr.match(/steps started/g) ?? []).length === 2,
        10_000,
        "two jobs running",
      );
      const sent = performance.now();
      runtime.kill("SIGINT");
      const exit = await runtime.done();
      const took = performance.now() - sent;
      assert.equal(exit.code, 0);
      assert.ok(took < 5_000 + 2_000, `exited within grace + 2 s (${took}ms)`);
      const phases = [...exit.stderr.matchAll(/shutdown phase (\d)\/6 ([a-z-]+): (\w+)/g)].map((
        m,
      ) => `${m[1]} ${m[2]} ${m[3]}`);
      assert.deepEqual(phases, [
        "1 intake-closed finished",
        "2 drain finished",
        "3 cancel finished",
        "4 router-closed finished",
        "5 control-closed finished",
        "6 store-closed finished",
      ]);
      assert.equal((exit.stderr.match(/steps succeeded/g) ?? []).length, 2);
      assert.match(exit.stderr, /shutdown: 2 finished, 0 interrupted and requeued, 0 queued kept/);
    });

    await t.step(
      "a job that ignores its signal is interrupted at the deadline; exit 0",
      async () => {
        await using runtime = await startRuntime(dir, ["--grace", "1s", "--store", ":memory:"]);
        await cli(["enqueue", "stubborn"]);
        await runtime.waitFor(
          (p) => p.stderr.includes("stubborn started"),
          10_000,
          "the stubborn job running",
        );
        const sent = performance.now();
        runtime.kill("SIGINT");
        const exit = await runtime.done();
        const took = performance.now() - sent;
        assert.equal(exit.code, 0);
        assert.ok(
          took >= 1_900 && took < 1_000 + 2_000 + 1_000,
          `grace 1 s + hard deadline 1 s (${took}ms)`,
        );
        assert.match(exit.stderr, /stubborn interrupted on attempt 1 \(queued again\)/);
        assert.match(exit.stderr, /shutdown: 0 finished, 1 interrupted and requeued/);
      },
    );

    await t.step("a second Ctrl-C forces the shutdown: exit 130 at once", async () => {
      await using runtime = await startRuntime(dir, ["--grace", "30s", "--store", ":memory:"]);
      await cli(["enqueue", "sleep", "--payload", '{"ms": 60000}']);
      await runtime.waitFor((p) => p.stderr.includes("sleep started"), 10_000, "the job running");
      runtime.kill("SIGINT");
      await runtime.waitFor(
        (p) => p.stderr.includes("ordered shutdown started"),
        5_000,
        "the shutdown",
      );
      await new Promise((r) => setTimeout(r, 200));
      const sent = performance.now();
      runtime.kill("SIGINT");
      const exit = await runtime.done();
      assert.equal(exit.code, 130);
      assert.ok(performance.now() - sent < 1_500, "at once");
      assert.match(exit.stderr, /shutdown \(forced\): 0 finished, 1 interrupted and requeued/);
    });

    await t.step("SIGTERM shuts down in order like the first Ctrl-C", async () => {
      await using runtime = await startRuntime(dir, ["--store", ":memory:"]);
      runtime.kill("SIGTERM");
      const exit = await runtime.done();
      assert.equal(exit.code, 0);
      assert.match(exit.stderr, /SIGTERM: ordered shutdown started/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
