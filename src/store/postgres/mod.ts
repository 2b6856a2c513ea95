/**
 * The `postgres` store: one queue shared by several runtimes (nodes) through PostgreSQL.
 *
 * @module
 */
export {
  ADVISORY_LOCK_CLASS,
  type NodeInfo,
  PostgresStore,
  type PostgresStoreOptions,
  type StoreChange,
  type StoreTimers,
} from "./postgres_store.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";
export { parseConnectionUrl, redactUrl } from "./_url.ts";
