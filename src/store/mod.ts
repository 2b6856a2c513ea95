/**
 * Job stores: the `JobStore` interface and its implementations.
 *
 * @module
 */
export type {
  ClaimedJob,
  ClaimRequest,
  InsertResult,
  JobCounts,
  JobFilter,
  JobStore,
  LeaseRecord,
  NewJob,
  NextState,
  PruneOptions,
  ReadyEntry,
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreInfo,
} from "./types.ts";
export { MemoryStore, type MemoryStoreOptions } from "./memory/memory_store.ts";
export { type Durability, SqliteStore, type SqliteStoreOptions } from "./sqlite/mod.ts";
