/**
 * The numbered migrations of the SQLite store, in order. Each runs once, in a transaction,
 * and is recorded in `liminal_migrations`. Never edit a released migration: add the next.
 *
 * @module
 */
import { sql as initial } from "./0001_initial.ts";
import { sql as schedulesLeases } from "./0002_schedules_leases.ts";
import { sql as failedIsDead } from "./0003_failed_is_dead.ts";

/** One migration. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "initial", sql: initial },
  { version: 2, name: "schedules and leases", sql: schedulesLeases },
  { version: 3, name: "failed jobs are dead", sql: failedIsDead },
];

/** The schema version this liminal writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;
