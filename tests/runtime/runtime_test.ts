/**
 * Runtime lifecycle, with Deno's op and resource sanitizers on: after shutdown() nothing of
 * ours is left running.
 */
import assert from "node:assert/strict";
import { defineJob, type JobKind } from "../../src/executor/mod.ts";
import { Runtime } from "../../src/runtime/mod.ts";
import { isLiminalError, LiminalError } from "../../src/shared/errors.ts";
import type { RuntimeState, ShutdownPhaseEvent } from "../../src/shared/snapshot.ts";
import { MemoryStore } from "../../src/store/mod.ts";

const lifecycle = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };

/** A job that ignores its signal and never settles. */
const stubborn = defineJob({
  kind: "stubborn",
  handler: () => new Promise<never>(() => {}),
}) as JobKind;

Deno.test({
  name: "new Runtime() starts nothing; start() and shutdown() walk the states in order",
  ...lifecycle,
  async fn() {
    const runtime = new Runtime({ workers: 2 });
    const states: RuntimeState[] = [runtime.state];
    runtime.on("state:changed", ({ from, to }) => {
      assert.equal(from, states.at(-1));
      states.push(to);
    });
    assert.equal(runtime.state, "created");
    await runtime.start();
    assert.equal(runtime.state, "running");
    const { id } = await runtime.executor.enqueue({ kind: "sleep", payload: { ms: 10 } });
    assert.equal((await runtime.executor.waitFor(id)).state, "succeeded");
    const report = await runtime.shutdown();
    assert.deepEqual(states, ["created", "starting", "running", "stopping", "stopped"]);
    assert.equal(report.forced, false);
    assert.deepEqual(report.errors, []);
  },
});

Deno.test({
  name: "a second runtime in the same process is refused while one runs",
  ...lifecycle,
  async fn() {
    await using first = new Runtime();
    await first.start();
    const second = new Runtime();
    await assert.rejects(
      second.start(),
      (e) => isLiminalError(e, "RUNTIME_ALREADY_RUNNING") && /pid \d+/.test(e.message),
    );
    assert.equal(second.state, "created");
    await first.shutdown();
    const third = new Runtime();
    await third.start();
    await third.shutdown();
  },
});

Deno.test({
  name: "shutdown runs the phases in order and lets running jobs finish within the grace",
  ...lifecycle,
  async fn() {
    const runtime = new Runtime({ grace: "5s" });
    const phases: ShutdownPhaseEvent[] = [];
    runtime.on("shutdown:phase", (e) => phases.push(e));
    await runtime.start();
    const running = await runtime.executor.enqueue({ kind: "sleep", payload: { ms: 200 } });
    const queuedLater = await runtime.executor.enqueue({
      kind: "sleep",
      payload: { ms: 1 },
      delay: "1h",
    });
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    const report = await runtime.shutdown();
    const took = performance.now() - started;
    assert.ok(took >= 150 && took < 2_000, `took ${took}ms`);
    assert.deepEqual(
      phases.filter((p) => p.status !== "started").map((p) => `${p.index}:${p.phase}:${p.status}`),
      [
        "1:intake-closed:finished",
        "2:drain:finished",
        "3:cancel:finished",
        "4:router-closed:finished",
        "5:control-closed:skipped",
        "6:store-closed:finished",
      ],
    );
    assert.equal(report.finished, 1);
    assert.equal(report.interrupted, 0);
    assert.equal(report.queuedKept, 1);
    assert.equal((await runtime.store.get(running.id))?.state, "succeeded");
    void queuedLater;
  },
});

Deno.test({
  name: "a job that ignores its signal is interrupted at the hard deadline and requeued",
  ...lifecycle,
  async fn() {
    const store = new MemoryStore();
    const runtime = new Runtime({ store, grace: "100ms", hardDeadline: "100ms", jobs: [stubborn] });
    await runtime.start();
    const { id } = await runtime.executor.enqueue({ kind: "stubborn" });
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    const report = await runtime.shutdown();
    const took = performance.now() - started;
    assert.ok(took >= 190 && took < 1_500, `took ${took}ms`);
    assert.equal(report.interrupted, 1);
    await store.open();
    const record = await store.get(id);
    assert.equal(record?.state, "queued");
    assert.equal(record?.attempts[0]?.outcome, "interrupted");
    await store.close();
  },
});

Deno.test({
  name: "a forced shutdown skips the drain",
  ...lifecycle,
  async fn() {
    const runtime = new Runtime({ grace: "30s" });
    await runtime.start();
    await runtime.executor.enqueue({ kind: "sleep", payload: { ms: 60_000 } });
    await new Promise((r) => setTimeout(r, 20));
    const shutting = runtime.shutdown();
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    assert.equal(runtime.interrupt("SIGINT"), "force");
    const report = await shutting;
    assert.ok(performance.now() - started < 1_000);
    assert.equal(report.forced, true);
    assert.equal(report.interrupted, 1);
    assert.equal(runtime.interrupt("SIGINT"), "ignored");
  },
});

Deno.test({
  name: "shutdown() is safe to call twice and await using shuts down",
  ...lifecycle,
  async fn() {
    let runtime: Runtime;
    {
      await using r = new Runtime();
      runtime = r;
      await r.start();
      const a = r.shutdown();
      const b = r.shutdown();
      assert.equal(a, b);
      await a;
    }
    assert.equal(runtime.state, "stopped");
    {
      await using r = new Runtime();
      await r.start();
      runtime = r;
    }
    assert.equal(runtime.state, "stopped");
  },
});

Deno.test({
  name: "with handleSignals the listeners are removed at shutdown",
  ...lifecycle,
  async fn() {
    const runtime = new Runtime({ handleSignals: true });
    await runtime.start();
    assert.equal(runtime.interrupt("SIGTERM"), "shutdown");
    await runtime.stopped();
    assert.equal(runtime.state, "stopped");
  },
});

Deno.test({
  name: "a part that fails to start stops the parts already started",
  ...lifecycle,
  async fn() {
    const store = new MemoryStore();
    let closed = false;
    const broken = Object.assign(Object.create(store), {
      open: () => store.open(),
      close: async () => {
        closed = true;
        await store.close();
      },
      recoverInterrupted: () => Promise.reject(new LiminalError("STORE_ERROR", "disk gone")),
    });
    const runtime = new Runtime({ store: broken });
    await assert.rejects(runtime.start(), (e) => isLiminalError(e, "STORE_ERROR"));
    assert.equal(runtime.state, "stopped");
    assert.ok(closed);
    const next = new Runtime();
    await next.start();
    await next.shutdown();
  },
});
