/**
 * Job stores: the `JobStore` interface and its implementations.
 *
 * @module
 */
export type {
  ClaimBusy,
  ClaimedJob,
  ClaimRequest,
  InsertResult,
  JobCounts,
  JobFilter,
  JobStore,
  LeaseRecord,
  NewJob,
  NextState,
  NodeInfo,
  PruneOptions,
  ReadyEntry,
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreChange,
  StoreInfo,
} from "./types.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory/memory_store.ts";
export { type Durability, SqliteStore, type SqliteStoreOptions } from "./sqlite/mod.ts";
export { createStore, isPostgresUrl, type StoreChoice } from "./create_store.ts";
// The postgres store is not re-exported here: it loads an npm client that most runs never
// need. Import it from `src/store/postgres/mod.ts` (`createStore` does, for a postgres URL).
