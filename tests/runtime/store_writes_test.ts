/**
 * Status warns while the store refuses writes, and stops once they succeed again: a real
 * SQLite store that fills up (its size limit, SQLite's own SQLITE_FULL), seen through the
 * control API and `liminal status`; the watch's rules on a store that refuses on demand.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../src/control/client.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { StoreWriteWatch } from "../../src/runtime/store_writes.ts";
import { isLiminalError, LiminalError } from "../../src/shared/errors.ts";
import type { Warning } from "../../src/shared/snapshot.ts";
import { MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import { isSharedStore } from "../../src/store/types.ts";
import { runLiminal } from "../_support/cli.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

function storeWarning(warnings: Warning[]): Warning | undefined {
  return warnings.find((w) => w.code === "STORE_WRITE_FAILING");
}

Deno.test({
  name: "a full SQLite store: status warns until an enqueue succeeds again",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-refused-" });
    const socket = `${dir}/liminal.sock`;
    const store = new SqliteStore({ path: `${dir}/small.db`, maxSizeBytes: 200 * 1024 });
    const runtime = new Runtime({ socket, store });
    await runtime.start();
    const client = new ControlClient(socket);
    try {
      runtime.executor.pause();
      assert.equal(storeWarning((await client.status()).warnings), undefined);
      let refusal: unknown = null;
      for (let i = 0; i < 500 && refusal === null; i++) {
        try {
          await client.enqueue({
            kind: "command",
            payload: { cmd: ["true"], env: { PAD: "x".repeat(2000) } },
            count: 5,
          });
        } catch (error) {
          refusal = error;
        }
      }
      assert.ok(isLiminalError(refusal, "STORE_FULL"), `expected STORE_FULL, got ${refusal}`);

      const warning = storeWarning((await client.status()).warnings);
      assert.ok(warning, "status warns");
      assert.match(warning.message, /^the store refuses writes \(enqueue\) for \S+: STORE_FULL: /);
      assert.match(warning.message, /database or disk is full/);
      assert.match(warning.message, /free space on the store's disk/);

      const shown = await runLiminal(["status", "--socket", socket]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /warnings[\s\S]*the store refuses writes \(enqueue\)/);

      // Room again: cancel the queued jobs and prune them, then one enqueue succeeds.
      for (const job of await client.listJobs({ state: "queued", limit: 10_000 })) {
        await client.cancelJob(job.id);
      }
      assert.ok((await client.pruneJobs({ olderThan: "0s" })).removed > 0);
      assert.ok(storeWarning((await client.status()).warnings), "still warns: no enqueue yet");
      await client.enqueue({ kind: "sleep", payload: { ms: 1 } });
      assert.equal(storeWarning((await client.status()).warnings), undefined, "writes work");
    } finally {
      client.close();
      await runtime.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the watch: per verb, only store refusals, cleared by that verb's success", async () => {
  let now = 1_000;
  const watch = new StoreWriteWatch(() => now);
  const inner = new MemoryStore();
  let refuse: LiminalError | null = null;
  const flaky = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "insert" || property === "settle") {
        return (...args: unknown[]) =>
          refuse === null ? value.apply(target, args) : Promise.reject(refuse);
      }
      return value.bind(target);
    },
  });
  const store = watch.watch(flaky);
  await store.open();
  try {
    assert.equal(watch.warning(), null);
    refuse = new LiminalError(
      "STORE_UNAVAILABLE",
      "enqueue failed: the database is read-only (attempt to write a readonly database)",
    );
    await assert.rejects(store.insert([], now));
    now += 12_000;
    await assert.rejects(store.settle([]));
    const warning = watch.warning()!;
    assert.equal(
      warning.message,
      "the store refuses writes (enqueue, settle) for 12s: STORE_UNAVAILABLE: enqueue failed: the database is read-only (attempt to write a readonly database); make the store (its file and directory, or the database server) writable again",
    );
    refuse = null;
    await store.settle([]);
    assert.match(watch.warning()!.message, /refuses writes \(enqueue\)/, "settle is fine again");
    await store.insert([], now);
    assert.equal(watch.warning(), null);
    // A job in the wrong state is not the store refusing.
    await assert.rejects(store.cancel("01890a5d-ac96-774b-bcce-b302099a8057", now));
    assert.equal(watch.warning(), null);
    // Reads pass through, unwatched; identity-free checks still see the store's shape.
    assert.equal(isSharedStore(store), isSharedStore(inner));
    assert.equal(store.info, inner.info);
  } finally {
    await store.close();
  }
});
