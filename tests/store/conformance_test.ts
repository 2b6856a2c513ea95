/**
 * The `JobStore` conformance suite (tests/store/conformance.ts) against every store: memory,
 * SQLite and PostgreSQL (a real server, tests/_support/postgres.ts; ignored, with a printed
 * note, when no PostgreSQL binaries are installed).
 */
import { MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import type { JobStore } from "../../src/store/types.ts";
import { freshDatabase, POSTGRES_INSTALLED, stopSharedPostgres } from "../_support/postgres.ts";
import { runStoreConformance } from "./conformance.ts";

Deno.test("JobStore conformance: memory", (t) =>
  runStoreConformance(t, {
    name: "memory",
    shared: false,
    make: async () => new MemoryStore(),
    // A memory store keeps its jobs across close and open: the same object is the "restart".
    reopen: async (store) => store,
  }));

const sqliteDirs = new WeakMap<JobStore, string>();

Deno.test("JobStore conformance: sqlite", (t) =>
  runStoreConformance(t, {
    name: "sqlite",
    shared: false,
    async make() {
      const dir = await Deno.makeTempDir({ prefix: "liminal-conformance-" });
      const store = new SqliteStore({ path: `${dir}/liminal.db` });
      sqliteDirs.set(store, dir);
      return store;
    },
    async reopen(store) {
      const dir = sqliteDirs.get(store)!;
      const again = new SqliteStore({ path: `${dir}/liminal.db` });
      sqliteDirs.set(again, dir);
      return again;
    },
    async cleanup(store) {
      const dir = sqliteDirs.get(store);
      if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  }));

const postgresUrls = new WeakMap<JobStore, string>();

Deno.test({
  name: "JobStore conformance: postgres",
  ignore: !POSTGRES_INSTALLED,
  fn: async (t) => {
    try {
      await runStoreConformance(t, {
        name: "postgres",
        shared: true,
        async make() {
          const db = await freshDatabase("conformance");
          if (db === null) throw new Error("no PostgreSQL server");
          const store = new PostgresStore({ url: db.url, maxConnections: 4 });
          postgresUrls.set(store, db.url);
          return store;
        },
        async reopen(store) {
          const url = postgresUrls.get(store)!;
          const again = new PostgresStore({ url, maxConnections: 4 });
          postgresUrls.set(again, url);
          return again;
        },
      });
    } finally {
      await stopSharedPostgres();
    }
  },
});
