/**
 * The embedded, durable `sqlite` store.
 *
 * @module
 */
export { type Durability, migrate, SqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";
