/**
 * The stores every executor behaviour test runs against (one shared suite, parameterised by
 * store).
 *
 * @module
 */
import { MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import { PostgresStore } from "../../src/store/postgres/mod.ts";
import type { JobStore } from "../../src/store/types.ts";
import {
  adaptToFakeTime,
  freshDatabase,
  POSTGRES_INSTALLED,
  REAL_STORE_TIMERS,
} from "./postgres.ts";

/** A store under test: a name and a factory of fresh, unopened stores. */
export interface StoreCase {
  name: string;
  make(): Promise<JobStore> | JobStore;
  /** Called after the store is closed, to remove files. */
  cleanup?(): Promise<void> | void;
}

let dir: string | null = null;

/**
 * The `postgres` case: a real server (tests/_support/postgres.ts, one per test file), a
 * fresh database per store. Its heartbeat and batching timers run on real time, and the
 * suite's fake clock waits for the store's round trips (see `adaptToFakeTime`). Left out,
 * with a printed note, only when no PostgreSQL binaries are installed.
 */
const POSTGRES_CASE: StoreCase = {
  name: "postgres",
  async make() {
    const db = await freshDatabase("executor");
    if (db === null) throw new Error("no PostgreSQL server");
    return adaptToFakeTime(
      new PostgresStore({ url: db.url, maxConnections: 4, timers: REAL_STORE_TIMERS }),
    );
  },
};

if (!POSTGRES_INSTALLED && Deno.env.get("LIMINAL_TEST_POSTGRES") !== "0") {
  console.warn(
    "stores: no PostgreSQL binaries (/usr/lib/postgresql/*/bin, pg_config); the postgres case is left out",
  );
}

/** Every store implementation. */
export const STORE_CASES: StoreCase[] = [
  { name: "memory", make: () => new MemoryStore() },
  {
    name: "sqlite",
    async make() {
      dir = await Deno.makeTempDir({ prefix: "liminal-store-" });
      return new SqliteStore({ path: `${dir}/liminal.db` });
    },
    async cleanup() {
      if (dir !== null) await Deno.remove(dir, { recursive: true });
      dir = null;
    },
  },
  ...(POSTGRES_INSTALLED ? [POSTGRES_CASE] : []),
];
