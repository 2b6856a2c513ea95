/**
 * The built-in kinds, run for real through an executor.
 */
import assert from "node:assert/strict";
import { MaintenanceExecutor } from "../../src/executor/mod.ts";
import { builtinJobs } from "../../src/jobs/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { MemoryStore } from "../../src/store/mod.ts";

async function withExecutor(fn: (executor: MaintenanceExecutor) => Promise<void>): Promise<void> {
  const store = new MemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({ store, kinds: builtinJobs(), workers: 2 });
  await executor.start();
  try {
    await fn(executor);
  } finally {
    await executor.stop();
    await store.close();
  }
}

const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "sleep waits and honours its signal at once",
  ...sanitized,
  fn: () =>
    withExecutor(async (executor) => {
      const started = performance.now();
      const ok = await executor.enqueue({ kind: "sleep", payload: { ms: 50 } });
      assert.equal((await executor.waitFor(ok.id)).state, "succeeded");
      assert.ok(performance.now() - started >= 45);
      const long = await executor.enqueue({ kind: "sleep", payload: { ms: 60_000 } });
      await new Promise((r) => setTimeout(r, 20));
      const cancelledAt = performance.now();
      await executor.cancel(long.id);
      const record = await executor.waitFor(long.id);
      assert.equal(record.state, "cancelled");
      assert.ok(performance.now() - cancelledAt < 500);
      await assert.rejects(executor.enqueue({ kind: "sleep", payload: { ms: -1 } }), (e) =>
        isLiminalError(e, "INVALID_PAYLOAD") && /"ms" must be a number/.test(e.message));
      await assert.rejects(executor.enqueue({ kind: "sleep", payload: { sec: 1 } }), (e) =>
        isLiminalError(e, "INVALID_PAYLOAD") && /unknown field "sec"/.test(e.message));
    }),
});

Deno.test({
  name: "fail always fails with its message",
  ...sanitized,
  fn: () =>
    withExecutor(async (executor) => {
      const { id } = await executor.enqueue({
        kind: "fail",
        payload: { message: "disk on fire" },
        attempts: 1,
      });
      const record = await executor.waitFor(id);
      assert.equal(record.state, "dead");
      assert.equal(record.lastError?.message, "disk on fire");
    }),
});

Deno.test({
  name: "command keeps the tail of its output; a non-zero exit fails the attempt",
  ...sanitized,
  fn: () =>
    withExecutor(async (executor) => {
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
  name: "command: abort sends SIGTERM, then SIGKILL 5 s later to a program that ignores it",
  ...sanitized,
  fn: () =>
    withExecutor(async (executor) => {
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
      assert.ok(took >= 4_900 && took < 8_000, `SIGKILL after about 5 s, took ${took}ms`);
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
    }),
});
