/**
 * `--store` and `--durability`: which store `liminal start` opens.
 *
 * @module
 */
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

/** Builds (without opening) the store a user named. */
export function createStore(location: string, durability: Durability): JobStore {
  if (location === ":memory:") return new MemoryStore();
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `--store ${
        location.replace(/:[^:@/]*@/, ":***@")
      }: the postgres store is not available in this build`,
      {
        hint: "use a SQLite file path (the default .liminal/liminal.db) or :memory:",
      },
    );
  }
  return new SqliteStore({ path: location, durability });
}
