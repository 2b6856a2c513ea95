/**
 * The executor with a store shared by other runtimes, simulated in memory: a memory store
 * that reports changes (`onChange`) and whose claims can be held back, so the races of a
 * cluster can be set up exactly. And, for every store: jobs of kinds this runtime lacks do
 * not fill its window.
 */
import assert from "node:assert/strict";
import { defineJob, type JobKind, MaintenanceExecutor } from "../../src/executor/mod.ts";
import { MemoryStore } from "../../src/store/mod.ts";
import type { ClaimedJob, ClaimRequest, StoreChange } from "../../src/store/types.ts";

/** A memory store that behaves as if other runtimes shared it. */
class SharedMemoryStore extends MemoryStore {
  readonly nodeId = "here";
  readonly #listeners = new Set<(change: StoreChange) => void>();
  /** Resolved to let held claims answer. */
  hold: Promise<void> | null = null;
  claimed = 0;

  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    for (const listener of this.#listeners) listener(change);
  }

  override async claim(
    requests: readonly ClaimRequest[],
  ): Promise<(ClaimedJob | null)[]> {
    const result = await super.claim(requests);
    this.claimed += result.filter((r) => r !== null).length;
    if (this.hold !== null) await this.hold;
    return result;
  }
}

function slowKind(ms: number): JobKind {
  return defineJob({
    kind: "slow",
    handler: ({ signal }) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => resolve("ran to the end"), ms);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      }),
  }) as JobKind;
}

async function until(condition: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * One slow job whose claim the store has committed but not yet answered; `release()` lets the
 * answer through.
 */
async function claimOnItsWay() {
  const store = new SharedMemoryStore();
  await store.open();
  const executor = new MaintenanceExecutor({ store, kinds: [slowKind(1_000)], workers: 1 });
  await executor.start();
  let open!: () => void;
  store.hold = new Promise((r) => (open = r));
  const { id } = await executor.enqueue({ kind: "slow" });
  await until(() => store.claimed === 1, "the claim to be committed");
  const release = () => {
    store.hold = null;
    open();
  };
  return { store, executor, id, release };
}

Deno.test({
  name: "a cancel heard while the job's claim is on its way aborts the job when it starts",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { store, executor, id, release } = await claimOnItsWay();
    // Another runtime cancels it now: the store tells this one, whose claim has not answered.
    store.emit({ kind: "cancel", id });
    release();
    const started = performance.now();
    const record = await executor.waitFor(id);
    assert.equal(record.state, "cancelled");
    assert.ok(performance.now() - started < 500, "aborted at once, not run to its end");
    await executor.stop();
    await store.close();
  },
});

Deno.test({
  name: "a lease taken over while the job's claim is on its way stops the job when it starts",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { store, executor, id, release } = await claimOnItsWay();
    assert.equal(executor.preempt(id, "lease db/x was taken over by ops"), true);
    const interrupted = new Promise((r) => executor.once("job:interrupted", r));
    release();
    await interrupted;
    const record = await executor.get(id);
    assert.equal(record?.attempts[0]?.outcome, "interrupted");
    assert.match(record?.attempts[0]?.error?.message ?? "", /taken over by ops/);
    await executor.stop();
    await store.close();
  },
});

Deno.test({
  name: "jobs of a kind this runtime lacks do not fill its window ahead of jobs it can run",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const store = new MemoryStore();
    await store.open();
    const other = defineJob({ kind: "other", handler: () => {} }) as JobKind;
    const noop = defineJob({ kind: "noop", handler: () => {} }) as JobKind;
    const first = new MaintenanceExecutor({ store, kinds: [other], workers: 1 });
    await first.start();
    first.pause();
    await first.enqueueMany(Array.from({ length: 10 }, () => ({ kind: "other" })));
    await first.stop();

    const executor = new MaintenanceExecutor({ store, kinds: [noop], workers: 2, window: 4 });
    await executor.start();
    const { id } = await executor.enqueue({ kind: "noop" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const record = await Promise.race([
      executor.waitFor(id),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 2_000)),
    ]);
    clearTimeout(timer);
    assert.equal(record?.state, "succeeded", "the runnable job ran despite the others ahead");
    const snapshot = await executor.snapshot();
    assert.ok(
      snapshot.warnings.some((w) =>
        w.code === "UNKNOWN_KIND_QUEUED" && w.message.startsWith('10 queued job(s) of kind "other"')
      ),
      JSON.stringify(snapshot.warnings),
    );
    await executor.stop();
    await store.close();
  },
});
