/**
 * Choosing a store from where the user says it is: `:memory:`, a `postgres://` URL, or a
 * SQLite file path. The Postgres client is loaded only when a URL asks for it.
 *
 * @module
 */
import type { Duration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { MemoryStore } from "./memory/memory_store.ts";
import { type Durability, SqliteStore } from "./sqlite/mod.ts";
import type { JobStore } from "./types.ts";

/** What a store may be told besides where it is. */
export interface StoreChoice {
  durability: Durability;
  /** This runtime's id among those sharing a Postgres store. */
  nodeId?: string;
  /** Postgres: how often this runtime beats its heartbeat. */
  heartbeat?: Duration;
  /** Postgres: silence after which a runtime is dead. */
  nodeTimeout?: Duration;
}

/** Whether `location` names a PostgreSQL database rather than a file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Builds (without opening) the store a user named: `:memory:`, a `postgres://` URL (several
 * runtimes share it), or a SQLite file. The Postgres client is loaded only when asked for.
 *
 * @example
 * ```ts
 * const store = await createStore(".liminal/liminal.db", { durability: "normal" });
 * ```
 */
export async function createStore(location: string, choice: StoreChoice): Promise<JobStore> {
  if (location === ":memory:") return new MemoryStore();
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import("./postgres/mod.ts");
    return new PostgresStore({
      url: location,
      ...(choice.nodeId === undefined ? {} : { nodeId: choice.nodeId }),
      ...(choice.heartbeat === undefined ? {} : { heartbeatInterval: choice.heartbeat }),
      ...(choice.nodeTimeout === undefined ? {} : { nodeTimeout: choice.nodeTimeout }),
    });
  }
  if (choice.nodeId !== undefined) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      "--node-id names this runtime among those sharing a Postgres store; this store is not shared",
      { hint: "use --store postgres://user@host/database, or leave --node-id out" },
    );
  }
  return new SqliteStore({ path: location, durability: choice.durability });
}
