/**
 * `--store` and `--durability`: which store `liminal start` opens (the store itself is built by
 * `createStore` in `src/store`).
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import type { Durability } from "../store/mod.ts";

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
