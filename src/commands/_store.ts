/**
 * `--store` and `--durability`: which store `liminal start` opens.
 *
 * @module
 */
import type { Duration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { type Durability, MemoryStore, SqliteStore } from "../store/mod.ts";
import type { JobStore } from "../store/types.ts";

/** Where `liminal start` keeps jobs when nothing else is said. */
export const DEFAULT_STORE = ".liminal/liminal.db";

/** The store from `--store`, else `LIMINAL_STORE`, else the default SQLite file. */
export function resolveStoreOption(option: string | undefined): string {
  if (option !== undefined && option !== "") return option;
  const fromEnv = Deno.env.get("LIMINAL_STORE");
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_STORE;
}

/** Checks `--durability`. */
export function parseDurability(value: string): Durability {
  if (value === "normal" || value === "full") return value;
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `invalid --durability "${value}"; use normal (safe against a crash) or full (also against power loss)`,
  );
}

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
 */
export async function createStore(location: string, choice: StoreChoice): Promise<JobStore> {
  if (location === ":memory:") return new MemoryStore();
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import("../store/postgres/mod.ts");
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
