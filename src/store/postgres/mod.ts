/**
 * The `postgres` store: one queue shared by several runtimes (nodes) through PostgreSQL.
 *
 * @module
 */
export {
  ADVISORY_LOCK_CLASS,
  PostgresStore,
  type PostgresStoreOptions,
  type StoreTimers,
} from "./postgres_store.ts";
export type { NodeInfo, StoreChange } from "../types.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";
export { parseConnectionUrl, redactUrl } from "./_url.ts";
