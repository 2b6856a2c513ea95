/**
 * The stores every executor behaviour test runs against (one shared suite, parameterised by
 * store).
 *
 * @module
 */
import { MemoryStore } from "../../src/store/mod.ts";
import type { JobStore } from "../../src/store/types.ts";

/** A store under test: a name and a factory of fresh, unopened stores. */
export interface StoreCase {
  name: string;
  make(): Promise<JobStore> | JobStore;
  /** Called after the store is closed, to remove files. */
  cleanup?(): Promise<void> | void;
}

/** Every store implementation. */
export const STORE_CASES: StoreCase[] = [
  { name: "memory", make: () => new MemoryStore() },
];
