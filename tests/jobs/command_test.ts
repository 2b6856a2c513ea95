/**
 * `command` run for real: its output, exit codes and signals (SIGTERM, then SIGKILL after the
 * kill grace); its controls: payload checks (nice, ionice, killGrace), the default
 * 1 h timeout, a kill grace the executor's kill-after follows, nice and ionice applied, and
 * the heartbeat of a quiet program; the process guard's recovery of recorded groups.
 */
import assert from "node:assert/strict";
import { MaintenanceExecutor } from "../../src/executor/mod.ts";
import type { ExecutorOptions } from "../../src/executor/options.ts";
import {
  commandJob,
  createCommandJob,
  DEFAULT_KILL_GRACE_MS,
  parseCommandPayload,
} from "../../src/jobs/command.ts";
import {
  bootId,
  groupAlive,
  ProcessGuard,
  spawnGuarded,
  startTimeOf,
} from "../../src/jobs/_process_guard.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { MemoryStore } from "../../src/store/mod.ts";
import type { JobKind } from "../../src/executor/job_kind.ts";

const LINUX = Deno.build.os === "linux";
const sanitized = { sanitizeOps: true, sanitizeResources: true };

async function withExecutor(
  kind: unknown,
  options: Partial<ExecutorOptions>,
  fn: (executor: MaintenanceExecutor) => Promise<void>,
): Promise<void> {
  const store = new MemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({
    store,
    kinds: [kind as JobKind],
    workers: 2,
    ...options,
  });
  await executor.start();
  try {
    await fn(executor);
  } finally {
    await executor.stop();
    await store.close();
  }
}

Deno.test("command payload: nice, ionice and killGrace are checked with clear errors", () => {
  const refused: [unknown, RegExp][] = [
    [{ nice: 20 }, /"nice" must be a whole number from -20 .* to 19 .*, got 20/],
    [{ nice: -21 }, /"nice" must be a whole number/],
    [{ nice: 1.5 }, /"nice" must be a whole number/],
    [{ nice: "5" }, /"nice" must be a whole number .* got "5"/],
    [{ ionice: "fast" }, /"ionice" class must be "idle", "best-effort" or "realtime", got "fast"/],
    [{ ionice: "idle:3" }, /"ionice" class "idle" takes no level/],
    [{ ionice: "best-effort:8" }, /"ionice" level must be a whole number from 0 .* to 7/],
    [{ ionice: "best-effort:x" }, /"ionice" must be "idle", "best-effort" or "realtime"/],
    [{ ionice: { class: "realtime", level: -1 } }, /"ionice" level must be/],
    [{ ionice: { class: "idle", prio: 1 } }, /"ionice" has an unknown field "prio"/],
    [{ ionice: 3 }, /"ionice" must be/],
    [{ killGrace: "soon" }, /"killGrace" must be a duration such as "10s" .*, got "soon"/],
    [{ killGrace: "2h" }, /"killGrace" must be at most 1h/],
    [{ killGrace: -1 }, /"killGrace" must be a duration/],
  ];
  for (const [extra, message] of refused) {
    assert.throws(
      () => parseCommandPayload({ cmd: ["true"], ...(extra as object) }),
      message,
      JSON.stringify(extra),
    );
  }
  assert.deepEqual(
    parseCommandPayload({ cmd: ["true"], nice: 19, ionice: "idle", killGrace: "250ms" }),
    { cmd: ["true"], nice: 19, ionice: { class: "idle" }, killGraceMs: 250 },
  );
  assert.deepEqual(
    parseCommandPayload({ cmd: ["true"], nice: -20, ionice: "best-effort:7", killGrace: 1000 }),
    { cmd: ["true"], nice: -20, ionice: { class: "best-effort", level: 7 }, killGraceMs: 1000 },
  );
  assert.deepEqual(
    parseCommandPayload({ cmd: ["true"], ionice: { class: "realtime", level: 0 } }).ionice,
    { class: "realtime", level: 0 },
  );
});

Deno.test({
  name: "command: a default timeout of 1 h, which a job's timeout overrides",
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      assert.equal(commandJob.defaults.timeoutMs, 3_600_000);
      const plain = await executor.enqueue({ kind: "command", payload: { cmd: ["true"] } });
      assert.equal((await executor.waitFor(plain.id)).timeoutMs, 3_600_000);
      const own = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["true"] },
        timeout: "2s",
      });
      assert.equal((await executor.waitFor(own.id)).timeoutMs, 2_000);
      const none = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["true"] },
        timeout: null,
      });
      assert.equal((await executor.waitFor(none.id)).timeoutMs, null);
      await assert.rejects(
        executor.enqueue({ kind: "command", payload: { cmd: ["true"], nice: 40 } }),
        (e) => isLiminalError(e, "INVALID_PAYLOAD") && /"nice"/.test(e.message),
      );
    }),
});

Deno.test({
  name: "command: a payload's killGrace sets the SIGKILL time, and the executor waits for it",
  ignore: !LINUX,
  ...sanitized,
  fn: async () => {
    // The kind's own grace is 200 ms (its kill-after 2.2 s); this job asks for 3 s.
    const kind = createCommandJob({ killGraceMs: 200 });
    await withExecutor(kind, {}, async (executor) => {
      const stubborn = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "trap '' TERM; sleep 30"], killGrace: "3s" },
      });
      const quick = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "trap '' TERM; sleep 30"] },
      });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await executor.cancel(quick.id);
      await executor.cancel(stubborn.id);
      const fast = await executor.waitFor(quick.id);
      assert.ok(performance.now() - t0 < 1_500, "the kind's 200 ms grace");
      assert.doesNotMatch(fast.lastError?.message ?? "", /abandoned/);
      const slow = await executor.waitFor(stubborn.id);
      const took = performance.now() - t0;
      assert.equal(slow.state, "cancelled");
      assert.ok(took >= 2_900 && took < 8_000, `SIGKILL after the job's 3 s, took ${took}ms`);
      assert.doesNotMatch(
        slow.lastError?.message ?? "",
        /abandoned/,
        "the executor's kill-after followed the job's grace",
      );
    });
    await kind.dispose?.();
  },
});

Deno.test({
  name: "command: nice and ionice are applied to the program",
  ignore: !LINUX,
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const { id } = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "nice; ionice -p $$"], nice: 7, ionice: "best-effort:6" },
      });
      const record = await executor.waitFor(id);
      assert.equal(record.state, "succeeded", record.lastError?.message);
      const result = JSON.parse(record.result!);
      assert.equal(result.stdout, "7\nbest-effort: prio 6\n");
      const idle = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "ionice -p $$"], ionice: { class: "idle" } },
      });
      assert.equal(JSON.parse((await executor.waitFor(idle.id)).result!).stdout, "idle\n");
    }),
});

Deno.test({
  name: "command: a quiet program beats the heartbeat, so its worker is never stuck",
  ...sanitized,
  fn: async () => {
    const kind = createCommandJob({ heartbeatMs: 50 });
    await withExecutor(kind, { stuckAfter: "300ms" }, async (executor) => {
      const stuck: string[] = [];
      executor.on("worker:stuck", ({ jobId }) => stuck.push(jobId));
      const { id } = await executor.enqueue({ kind: "command", payload: { cmd: ["sleep", "1"] } });
      assert.equal((await executor.waitFor(id)).state, "succeeded");
      assert.deepEqual(stuck, [], "no stuck warning while the program ran");
    });
    await kind.dispose?.();
  },
});

Deno.test({
  name: "command: a program left running in its group ends with the attempt",
  ignore: !LINUX,
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const pidFile = await Deno.makeTempFile();
      try {
        const { id } = await executor.enqueue({
          kind: "command",
          payload: { cmd: ["sh", "-c", `sleep 60 >/dev/null 2>&1 & echo $! > ${pidFile}`] },
        });
        assert.equal((await executor.waitFor(id)).state, "succeeded");
        const pid = Number((await Deno.readTextFile(pidFile)).trim());
        assert.ok(pid > 1);
        assert.equal(await startTimeOf(pid), null, "the background sleep was stopped");
      } finally {
        await Deno.remove(pidFile);
      }
    }),
});

Deno.test({
  name:
    "process guard: a recorded group still alive is killed at recovery (SIGKILL after the grace); a reused pid is left alone",
  ignore: !LINUX,
  ...sanitized,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const file = `${dir}/db.procs`;
    // A group left by a "dead runtime": it ignores SIGTERM.
    const orphan = new Deno.Command("sh", {
      args: ["-c", "trap '' TERM; sleep 30"],
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const bystander = new Deno.Command("sleep", {
      args: ["30"],
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const host = Deno.hostname();
      const boot = await bootId();
      assert.ok(boot !== null);
      const lines = [
        { op: "+", pgid: orphan.pid, start: await startTimeOf(orphan.pid), host, boot, job: "j1" },
        // Same pid, another start time: a process that merely reuses the number.
        { op: "+", pgid: bystander.pid, start: "1", host, boot, job: "j2" },
        { op: "+", pgid: 999_999_999, start: "1", host, boot, job: "j3" },
        { op: "-", pgid: 999_999_999 },
      ];
      await Deno.writeTextFile(file, lines.map((l) => JSON.stringify(l)).join("\n") + '\n{"op":');
      const guard = new ProcessGuard({ killGraceMs: 300, file });
      const messages: string[] = [];
      const t0 = performance.now();
      const report = await guard.recover((m) => messages.push(m));
      const took = performance.now() - t0;
      assert.deepEqual(report.killed, [{ pgid: orphan.pid, job: "j1" }]);
      assert.ok(took >= 250 && took < 3_000, `SIGKILL after the grace (${took}ms)`);
      assert.equal(await groupAlive(orphan.pid), false);
      assert.equal(await groupAlive(bystander.pid), true, "the bystander runs on");
      assert.match(messages[0]!, /process group \d+ of job j1/);
      assert.equal(await Deno.readTextFile(file), "", "the record starts empty");
      // A second runtime cannot take the record while the first holds it.
      const other = new ProcessGuard({ killGraceMs: 300, file });
      await assert.rejects(other.recover(), (e) => isLiminalError(e, "CONFLICT"));
      await guard.close();
    } finally {
      for (const child of [orphan, bystander]) {
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch {
          // Gone.
        }
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "process guard: the watchdog ignores SIGINT/SIGHUP; one killed by someone is replaced and learns every live group",
  ignore: !LINUX,
  ...sanitized,
  fn: async () => {
    const guard = new ProcessGuard({ killGraceMs: 200 });
    const spawn = () =>
      new Deno.Command("sleep", {
        args: ["30"],
        detached: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    const first = spawn();
    const second = spawn();
    try {
      await guard.register(first.pid, "a");
      const old = guard.watchdogPid;
      assert.ok(old !== null);
      Deno.kill(old, "SIGKILL");
      await new Promise((r) => setTimeout(r, 100));
      await guard.register(second.pid, "b");
      const replacement = guard.watchdogPid;
      assert.ok(replacement !== null && replacement !== old, "a new watchdog");
      assert.deepEqual(guard.liveGroups.sort(), [first.pid, second.pid].sort());
      assert.ok(await groupAlive(first.pid) && await groupAlive(second.pid));
      // A terminal's Ctrl-C or hang-up does not stop it.
      Deno.kill(replacement, "SIGINT");
      Deno.kill(replacement, "SIGHUP");
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(await startTimeOf(replacement) !== null, "the watchdog ignores SIGINT and SIGHUP");
      // The new one knows both: when its pipe ends without "bye", it stops them.
      await guard.abandon();
      assert.equal(
        await groupAlive(first.pid),
        false,
        "the group registered before the replacement",
      );
      assert.equal(await groupAlive(second.pid), false);
    } finally {
      await guard.close();
      for (const child of [first, second]) await child.status;
    }
  },
});

Deno.test({
  name:
    "process guard: a watchdog killed while groups are live is replaced at once, unasked, and told them; one that keeps dying is replaced after a pause and reported",
  ignore: !LINUX,
  ...sanitized,
  fn: async () => {
    const guard = new ProcessGuard({ killGraceMs: 200 });
    const group = new Deno.Command("sleep", {
      args: ["30"],
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    /** Kills the current watchdog; resolves with its replacement's pid and how long it took. */
    const killWatchdog = async (): Promise<[number, number]> => {
      const old = guard.watchdogPid;
      assert.ok(old !== null, "a watchdog runs");
      Deno.kill(old, "SIGKILL");
      const killed = performance.now();
      for (;;) {
        const pid = guard.watchdogPid;
        if (pid !== null && pid !== old) return [pid, performance.now() - killed];
        assert.ok(performance.now() - killed < 5_000, "a new watchdog within 5 s");
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await guard.register(group.pid, "a");
      assert.equal(guard.trouble, null);
      // No registration follows: the guard notices the death by itself.
      const [first, quick] = await killWatchdog();
      assert.ok(quick < 1_000, `replaced at once (${quick.toFixed(0)}ms)`);
      assert.ok(await startTimeOf(first) !== null);
      // Dying again at once: the next replacement waits (250 ms, then 500 ms).
      const [, second] = await killWatchdog();
      assert.ok(second >= 200, `the second replacement in a row waits (${second.toFixed(0)}ms)`);
      assert.equal(guard.trouble, null, "two deaths are not yet trouble");
      const [third, wait] = await killWatchdog();
      assert.ok(wait >= 450, `the third waits longer (${wait.toFixed(0)}ms)`);
      assert.match(guard.trouble ?? "", /the process watchdog died 3 times in the last minute/);
      // The last replacement knows the group: when its pipe ends without "bye", it stops it.
      assert.equal(guard.watchdogPid, third);
      await guard.abandon();
      assert.equal(await groupAlive(group.pid), false, "the replacement stopped the group");
    } finally {
      await guard.close();
      try {
        Deno.kill(-group.pid, "SIGKILL");
      } catch {
        // Gone.
      }
      await group.status;
    }
  },
});

Deno.test({
  name:
    "process guard: the watchdog measures the kill grace on the clock, not by counting its polls",
  ignore: !LINUX,
  ...sanitized,
  fn: async () => {
    // A `sleep` 5 times slower than asked (a loaded machine, exaggerated): counting 50 ms polls
    // would stretch a 1 s grace to 5 s.
    const real = (await new Deno.Command("sh", { args: ["-c", "command -v sleep"] }).output())
      .stdout;
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/sleep`,
      `#!/bin/sh\nexec ${new TextDecoder().decode(real).trim()} 0.25\n`,
    );
    await Deno.chmod(`${dir}/sleep`, 0o755);
    const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
    const guard = new ProcessGuard({ killGraceMs: 1_000 });
    const group = new Deno.Command("sh", {
      args: ["-c", "trap '' TERM; sleep 30"],
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      Deno.env.set("PATH", `${dir}:${path}`);
      await guard.register(group.pid, "a");
      Deno.env.set("PATH", path);
      const t0 = performance.now();
      await guard.abandon();
      const took = performance.now() - t0;
      assert.equal(await groupAlive(group.pid), false);
      assert.ok(took >= 950 && took < 1_600, `SIGKILL at the grace (${took.toFixed(0)}ms)`);
    } finally {
      Deno.env.set("PATH", path);
      await guard.close();
      try {
        Deno.kill(-group.pid, "SIGKILL");
      } catch {
        // Gone.
      }
      await group.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "command: a program whose group cannot be registered never runs",
  ...sanitized,
  fn: async () => {
    const guard = new ProcessGuard({ killGraceMs: 100 });
    await guard.close(); // a closed guard registers nothing
    const dir = await Deno.makeTempDir();
    try {
      await withExecutor(createCommandJob({ guard }), {}, async (executor) => {
        const { id } = await executor.enqueue({
          kind: "command",
          payload: { cmd: ["sh", "-c", `echo ran > ${dir}/ran`] },
          attempts: 1,
        });
        const record = await executor.waitFor(id);
        assert.notEqual(record.state, "succeeded");
        assert.match(record.lastError?.message ?? "", /process guard is closed/);
      });
      await assert.rejects(Deno.stat(`${dir}/ran`), Deno.errors.NotFound, "nothing ran");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "command: nice or ionice without its program fails the job for good, saying so",
  ...sanitized,
  fn: async () => {
    const empty = await Deno.makeTempDir();
    const path = Deno.env.get("PATH");
    Deno.env.set("PATH", empty);
    try {
      await withExecutor(commandJob, {}, async (executor) => {
        for (
          const [extra, message] of [
            [{ nice: 5 }, /"nice" was asked for but the nice program is not installed here/],
            [{ ionice: "idle" }, /"ionice" was asked for but the ionice program is not installed/],
          ] as const
        ) {
          const { id } = await executor.enqueue({
            kind: "command",
            payload: { cmd: ["/bin/true"], ...extra },
          });
          const record = await executor.waitFor(id);
          assert.notEqual(record.state, "succeeded");
          assert.equal(record.attempts.length, 1, "no retry: it cannot work here");
          assert.match(record.lastError?.message ?? "", message);
        }
      });
    } finally {
      if (path === undefined) Deno.env.delete("PATH");
      else Deno.env.set("PATH", path);
      await Deno.remove(empty);
    }
  },
});

Deno.test({
  name: "command keeps the tail of its output; a non-zero exit fails the attempt",
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const ok = await executor.enqueue({
        kind: "command",
        payload: {
          cmd: ["sh", "-c", "echo out-line; echo err-line >&2; echo $GREETING"],
          env: { GREETING: "hi" },
        },
      });
      const record = await executor.waitFor(ok.id);
      assert.equal(record.state, "succeeded");
      const result = JSON.parse(record.result!);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, "out-line\nhi\n");
      assert.equal(result.stderr, "err-line\n");
      assert.deepEqual(record.logs.map((l) => l.message).sort(), [
        "stderr: err-line",
        "stdout: hi",
        "stdout: out-line",
      ]);

      const bad = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "echo 'no space left' >&2; exit 3"] },
        attempts: 1,
      });
      const failed = await executor.waitFor(bad.id);
      assert.equal(failed.state, "dead");
      assert.equal(failed.lastError?.message, "sh exited with code 3: no space left");

      const missing = await executor.enqueue({
        kind: "command",
        payload: { cmd: ["definitely-not-a-program-xyz"] },
      });
      const notFound = await executor.waitFor(missing.id);
      assert.equal(notFound.state, "dead", "a missing program is not retried: the job is dead");
      assert.equal(notFound.attempts.length, 1);
      assert.match(
        notFound.lastError?.message ?? "",
        /cannot run "definitely-not-a-program-xyz": not found/,
      );

      await assert.rejects(executor.enqueue({ kind: "command", payload: { cmd: [] } }), (e) =>
        isLiminalError(e, "INVALID_PAYLOAD"));
      await assert.rejects(executor.enqueue({ kind: "command", payload: { cmd: "ls -l" } }), (e) =>
        isLiminalError(e, "INVALID_PAYLOAD"));
    }),
});

Deno.test({
  name:
    "command: abort sends SIGTERM, then SIGKILL after the kill grace (5 s unless set) to a program that ignores it",
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const polite = await executor.enqueue({ kind: "command", payload: { cmd: ["sleep", "30"] } });
      // It also starts a child of its own that ignores SIGTERM: the signals reach it too.
      const pidFile = await Deno.makeTempFile();
      const stubborn = await executor.enqueue({
        kind: "command",
        payload: {
          cmd: [
            "sh",
            "-c",
            `trap '' TERM; sleep 60 & echo $! > ${pidFile}; while true; do sleep 0.1; done`,
          ],
          // The default grace is 5 s (checked below without waiting for it); 1 s keeps this quick.
          killGrace: "1s",
        },
      });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await executor.cancel(polite.id);
      await executor.cancel(stubborn.id);
      assert.equal((await executor.waitFor(polite.id)).state, "cancelled");
      assert.ok(performance.now() - t0 < 1_000, "SIGTERM stops a polite program at once");
      const killed = await executor.waitFor(stubborn.id);
      assert.equal(killed.state, "cancelled");
      assert.doesNotMatch(killed.lastError?.message ?? "", /abandoned/, "the handler saw the exit");
      const took = performance.now() - t0;
      assert.ok(took >= 900 && took < 4_000, `SIGKILL after about 1 s, took ${took}ms`);
      const grandchild = (await Deno.readTextFile(pidFile)).trim();
      await Deno.remove(pidFile);
      assert.match(grandchild, /^\d+$/);
      let state = "gone";
      try {
        state = /State:\s+(\w)/.exec(await Deno.readTextFile(`/proc/${grandchild}/status`))?.[1] ??
          "?";
      } catch {
        // No such process: gone.
      }
      assert.ok(state === "gone" || state === "Z", `the child's own child is ${state}, not killed`);
      // Without killGrace, a command gets the default 5 s between SIGTERM and SIGKILL.
      assert.equal(DEFAULT_KILL_GRACE_MS, 5_000);
      assert.equal(commandJob.killAfterOf?.(commandJob.parsePayload({ cmd: ["true"] })), 7_000);
      assert.equal(
        commandJob.killAfterOf?.(commandJob.parsePayload({ cmd: ["true"], killGrace: "1s" })),
        3_000,
      );
    }),
});

Deno.test({
  name: "command: a cwd that is missing or not a directory is named as such, dead at once",
  ...sanitized,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const file = await Deno.makeTempFile({ prefix: "liminal-cwd-" });
      try {
        for (
          const [cwd, message] of [
            [
              "/nonexistent-liminal-dir",
              'no directory /nonexistent-liminal-dir (the payload\'s "cwd")',
            ],
            [file, `${file} is not a directory (the payload's "cwd")`],
          ]
        ) {
          const { id } = await executor.enqueue({
            kind: "command",
            payload: { cmd: ["true"], cwd: cwd! },
          });
          const job = await executor.waitFor(id);
          assert.equal(job.state, "dead");
          assert.equal(job.attempts.length, 1);
          assert.equal(job.lastError?.message, message);
        }
      } finally {
        await Deno.remove(file);
      }
    }),
});

Deno.test({
  name: "process guard: a program spawned while the guard closes never runs unwatched",
  ...sanitized,
  async fn() {
    const guard = new ProcessGuard({ killGraceMs: 200 });
    const marker = await Deno.makeTempFile({ prefix: "liminal-unwatched-" });
    await Deno.remove(marker);
    // register() reads the group's facts (sh processes) before it records it: close meanwhile.
    const spawned = spawnGuarded(guard, "job-x", "sh", ["-c", `touch ${marker}; sleep 30`], {
      stdout: "null",
      stderr: "null",
    });
    // spawnGuarded is now inside register(), past its first check: close the guard there.
    await guard.close();
    await assert.rejects(spawned, (e) => isLiminalError(e, "RUNTIME_SHUTTING_DOWN"));
    assert.deepEqual(guard.liveGroups, []);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the program never ran");
  },
});

Deno.test({
  name: "command: a process that leaves the group and holds the output open does not hold the job",
  ...sanitized,
  ignore: !LINUX,
  fn: () =>
    withExecutor(commandJob, {}, async (executor) => {
      const started = performance.now();
      const { id } = await executor.enqueue({
        kind: "command",
        // `setsid`: the sleep leaves the job's group (a daemon would) with stdout still open.
        payload: { cmd: ["sh", "-c", "setsid sleep 6 & echo started"] },
      });
      const job = await executor.waitFor(id);
      const took = performance.now() - started;
      assert.equal(job.state, "succeeded");
      assert.equal(JSON.parse(job.result!).stdout, "started\n");
      assert.ok(took < 4_500, `the job took ${Math.round(took)} ms: it waited for the daemon`);
      // The escaped sleep ends by itself; let it, so nothing of this test outlives it.
      await new Promise((resolve) => setTimeout(resolve, 6_500 - took));
    }),
});
