/**
 * The stores every executor behaviour test runs against (one shared suite, parameterised by
 * store).
 *
 * @module
 */
import { MemoryStore, SqliteStore } from "../../src/store/mod.ts";
import type { JobStore } from "../../src/store/types.ts";

/** A store under test: a name and a factory of fresh, unopened stores. */
export interface StoreCase {
  name: string;
  make(): Promise<JobStore> | JobStore;
  /** Called after the store is closed, to remove files. */
  cleanup?(): Promise<void> | void;
}

let dir: string | null = null;

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
];
