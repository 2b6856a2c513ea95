/**
 * `liminal run` as a real process: exit statuses, output, errors and Ctrl-C.
 */
import assert from "node:assert/strict";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

async function planFile(dir: string, name: string, plan: unknown): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.writeTextFile(path, typeof plan === "string" ? plan : JSON.stringify(plan));
  return path;
}

Deno.test("liminal run", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-run-" });
  try {
    await t.step(
      "an all-good plan of sleep and command jobs exits 0 with a summary table",
      async () => {
        const path = await planFile(dir, "good.json", {
          name: "good",
          jobs: [
            { kind: "sleep", payload: { ms: 50 } },
            { kind: "command", payload: { cmd: ["deno", "--version"] }, priority: "critical" },
          ],
        });
        const result = await runLiminal(["run", path]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /^ID\s+KIND\s+STATE\s+ATTEMPTS\s+DURATION\s+ERROR$/m);
        assert.match(result.stdout, /sleep\s+succeeded\s+1\/3/);
        assert.match(result.stdout, /command\s+succeeded\s+1\/3/);
        assert.match(result.stdout, /plan good: ok: 2 job\(s\), 2 succeeded/);
      },
    );

    await t.step(
      "for cron: a succeeding plan prints nothing on stderr; -v brings the log back",
      async () => {
        const flaky = (args: string[], marker: string) =>
          planFile(dir, `quiet-${marker}.json`, {
            name: "quiet",
            jobs: [
              { kind: "sleep", payload: { ms: 20 } },
              {
                kind: "command",
                payload: {
                  cmd: [
                    "sh",
                    "-c",
                    `test -f ${dir}/${marker} || { touch ${dir}/${marker}; exit 7; }`,
                  ],
                },
                backoff: { base: "10ms" },
              },
            ],
          }).then((p) => runLiminal(["run", p, ...args]));
        const quiet = await flaky([], "m1");
        assert.equal(quiet.code, 0, quiet.stderr);
        assert.equal(quiet.stderr, "", "a succeeding run is silent on stderr");
        assert.match(quiet.stdout, /plan quiet: ok: 2 job\(s\), 2 succeeded/);
        assert.match(quiet.stdout, /command\s+succeeded\s+2\/3/, "the flaky job was retried");
        const json = await flaky(["--json"], "m2");
        assert.equal(json.code, 0, json.stderr);
        assert.equal(json.stderr, "");
        assert.equal(JSON.parse(json.stdout).ok, true);
        const verbose = await flaky(["-v"], "m3");
        assert.equal(verbose.code, 0, verbose.stderr);
        assert.match(verbose.stderr, /job \S+ sleep started \(attempt 1/);
        assert.match(verbose.stderr, /job \S+ command attempt 1 failed: .*7/);
        assert.match(verbose.stdout, /plan quiet: ok/);
        const level = await flaky(["--log-level", "info"], "m4");
        assert.match(level.stderr, /job \S+ sleep succeeded/, "--log-level implies --verbose");
      },
    );

    await t.step("a failing plan names the failed job on stderr, concisely", async () => {
      const path = await planFile(dir, "broken.json", {
        name: "broken",
        jobs: [
          { kind: "sleep", payload: { ms: 10 } },
          { kind: "fail", payload: { message: "disk on fire" }, attempts: 1 },
        ],
      });
      for (const extra of [[], ["--json"]]) {
        const result = await runLiminal(["run", path, ...extra]);
        assert.equal(result.code, 1, result.stderr);
        const lines = result.stderr.trimEnd().split("\n");
        assert.equal(lines.length, 2, result.stderr);
        assert.match(
          lines[0]!,
          /^liminal run: plan broken failed: 1 of 2 job\(s\) did not succeed$/,
        );
        assert.match(
          lines[1]!,
          /^liminal run: job \S+ fail dead after 1\/1 attempt\(s\): JOB_FAILED: disk on fire$/,
        );
        assert.doesNotMatch(result.stderr, /sleep/, "the jobs that succeeded are not named");
      }
    });

    await t.step(
      "a plan with a fail job retries it, then exits 1; --json prints one document",
      async () => {
        const path = await planFile(dir, "fail.json", {
          jobs: [
            { kind: "sleep", payload: { ms: 10 } },
            {
              kind: "fail",
              payload: { message: "disk on fire" },
              attempts: 2,
              backoff: { base: "20ms" },
            },
          ],
        });
        const result = await runLiminal(["run", path, "--json"]);
        assert.equal(result.code, 1, result.stderr);
        const summary = JSON.parse(result.stdout);
        assert.equal(summary.ok, false);
        assert.deepEqual(summary.counts, {
          total: 2,
          succeeded: 1,
          dead: 1,
          cancelled: 0,
          unfinished: 0,
        });
        const failed = summary.jobs.find((j: { kind: string }) => j.kind === "fail");
        assert.equal(failed.state, "dead");
        assert.equal(failed.attempts.length, 2);
        assert.equal(failed.attempts[1].error.message, "disk on fire");
      },
    );

    await t.step("bad plans exit 2 with one clear line and no stack trace", async () => {
      const cases: [string, unknown, RegExp][] = [
        [
          "malformed.json",
          '{"jobs": [ {"kind": "sleep",} ]}',
          /^error: INVALID_JSON: malformed JSON in plan .*position 28 \(line 1 column 29\)/,
        ],
        [
          "unknown-kind.json",
          { jobs: [{ kind: "clenaup" }] },
          /^error: UNKNOWN_JOB_KIND: .*unknown job kind "clenaup"; known: backup, command, fail, http-check, lease-sweep, prune-history, sleep, sqlite-checkpoint, vacuum/,
        ],
        [
          "bad-priority.json",
          { jobs: [{ kind: "sleep", priority: "urgent" }] },
          /^error: INVALID_PRIORITY: .*"urgent"/,
        ],
        [
          "bad-duration.json",
          { jobs: [{ kind: "sleep", delay: "10x" }] },
          /^error: INVALID_DURATION: .*"10x"/,
        ],
        [
          "bad-payload.json",
          { jobs: [{ kind: "sleep", payload: { ms: "soon" } }] },
          /^error: INVALID_PAYLOAD: plan .*: jobs\[0\]: invalid payload for "sleep"/,
        ],
        ["empty.json", { jobs: [] }, /^error: INVALID_PLAN: .*"jobs" must be a non-empty array/],
        [
          "typo.json",
          { jbos: [] },
          /^error: INVALID_PLAN: .*unknown field "jbos"; did you mean "jobs"\?/,
        ],
        [
          "big.json",
          { jobs: [{ kind: "sleep", payload: { pad: "x".repeat(1024 * 1024) } }] },
          /^error: PAYLOAD_TOO_LARGE: /,
        ],
      ];
      for (const [name, plan, pattern] of cases) {
        const result = await runLiminal(["run", await planFile(dir, name, plan)]);
        assert.equal(result.code, 2, `${name}: ${result.stderr}`);
        assert.match(result.stderr, pattern, name);
        assert.doesNotMatch(result.stderr, /\n\s+at /, `${name}: no stack trace`);
        assert.equal(result.stdout, "", `${name}: nothing on stdout`);
      }
      const missing = await runLiminal(["run", `${dir}/nope.json`]);
      assert.equal(missing.code, 2);
      assert.match(
        missing.stderr,
        /^error: INVALID_PLAN: cannot read plan .*nope\.json: no such file/,
      );
    });

    await t.step("usage errors exit 2", async () => {
      const path = await planFile(dir, "ok.json", { jobs: [{ kind: "sleep" }] });
      const zero = await runLiminal(["run", path, "--workers", "0"]);
      assert.equal(zero.code, 2);
      assert.match(zero.stderr, /^error: INVALID_ARGUMENT: invalid --workers 0/);
      const typo = await runLiminal(["rnu", path]);
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /unknown command 'rnu'/);
      assert.match(typo.stderr, /Did you mean run\?/);
      // A group's mistyped subcommand is named as such, not as an argument of its default.
      const sub = await runLiminal(["router", "dead-letters"]);
      assert.equal(sub.code, 2);
      assert.match(
        sub.stderr,
        /^error: USAGE: unknown command 'dead-letters' for 'liminal router'; did you mean 'dead'\?/,
      );
      const lst = await runLiminal(["jobs", "lst"]);
      assert.equal(lst.code, 2);
      assert.match(lst.stderr, /unknown command 'lst' for 'liminal jobs'; did you mean 'list'\?/);
      const noArg = await runLiminal(["run"]);
      assert.equal(noArg.code, 2);
      assert.match(noArg.stderr, /missing required argument 'plan'/);
    });

    await t.step("--help and --version exit 0", async () => {
      const help = await runLiminal(["run", "--help"]);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Usage: liminal run/);
      assert.match(help.stdout, /Examples:/);
      const version = await runLiminal(["--version"]);
      assert.equal(version.code, 0);
      assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    });

    await t.step("Ctrl-C shuts down in order and exits 130 with what was left", async () => {
      const path = await planFile(dir, "long.json", {
        jobs: [{ kind: "sleep", payload: { ms: 300 } }, { kind: "sleep", payload: { ms: 60_000 } }],
      });
      await using proc = spawnLiminal(["run", path, "--grace", "1s", "-v"]);
      await proc.waitFor(
        (p) => (p.stderr.match(/ started \(attempt/g) ?? []).length >= 2,
        15_000,
        "two jobs started",
      );
      proc.kill("SIGINT");
      const result = await proc.done();
      assert.equal(result.code, 130);
      const phases = [...result.stderr.matchAll(/shutdown phase (\d)\/6 ([a-z-]+)/g)].map((m) =>
        `${m[1]} ${m[2]}`
      );
      assert.deepEqual(phases, [
        "1 intake-closed",
        "2 drain",
        "3 cancel",
        "4 router-closed",
        "5 control-closed",
        "6 store-closed",
      ]);
      assert.match(result.stderr, /shutdown: 1 finished, 1 interrupted and requeued/);
      assert.match(
        result.stdout,
        /plan long\.json: interrupted: 2 job\(s\), 1 succeeded, 1 unfinished/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
