/**
 * `createStore` (src/store): the store a user names, built and not opened: `:memory:`, a
 * `postgres://` URL (the client loaded only then), or a SQLite file.
 */
import assert from "node:assert/strict";
import { createStore, isPostgresUrl } from "../../src/store/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "createStore: :memory:, a SQLite path and a postgres URL, none opened",
  ...sanitized,
  fn: async () => {
    const memory = await createStore(":memory:", { durability: "normal" });
    assert.deepEqual(memory.info, { kind: "memory", location: ":memory:", durable: false });

    const dir = await Deno.makeTempDir({ prefix: "liminal-create-" });
    try {
      const path = `${dir}/jobs.db`;
      const sqlite = await createStore(path, { durability: "full" });
      assert.deepEqual(sqlite.info, { kind: "sqlite", location: path, durable: true });
      // Built, not opened: no file yet.
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }

    const pg = await createStore("postgres://ops:secret@db.example:5432/jobs", {
      durability: "normal",
      nodeId: "node-a",
    });
    assert.equal(pg.info.kind, "postgres");
    assert.ok(!pg.info.location.includes("secret"), pg.info.location);
    assert.equal(pg.nodeId, "node-a");
  },
});

Deno.test("createStore: --node-id with a store that is not shared is refused", async () => {
  await assert.rejects(
    createStore(":memory:.db", { durability: "normal", nodeId: "a" }),
    (error) =>
      isLiminalError(error, "INVALID_ARGUMENT") && /not shared/.test(error.message) &&
      /postgres:\/\//.test(error.hint ?? ""),
  );
});

Deno.test("isPostgresUrl: postgres:// and postgresql://, any case; not a path", () => {
  assert.ok(isPostgresUrl("postgres://h/db"));
  assert.ok(isPostgresUrl("POSTGRESQL://h/db"));
  assert.ok(!isPostgresUrl("./postgres://x"));
  assert.ok(!isPostgresUrl(".liminal/liminal.db"));
});
