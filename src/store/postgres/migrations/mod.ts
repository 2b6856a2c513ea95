/**
 * The numbered migrations of the PostgreSQL store, in order. Each runs once, recorded in the
 * schema's `liminal_migrations`, under a transaction-scoped advisory lock, so runtimes that
 * start together do not race. Never edit a released migration: add the next.
 *
 * @module
 */
import { sql as jobs } from "./0001_jobs.ts";
import { sql as nodes } from "./0002_nodes.ts";
import { sql as failedIsDead } from "./0003_failed_is_dead.ts";

/** One migration. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "jobs, schedules and leases", sql: jobs },
  { version: 2, name: "nodes", sql: nodes },
  { version: 3, name: "failed jobs are dead", sql: failedIsDead },
];

/** The schema version this liminal writes. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;
