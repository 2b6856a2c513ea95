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
