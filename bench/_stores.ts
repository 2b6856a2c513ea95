/**
 * The stores a benchmark can run on: the memory store always, the SQLite store once
 * `src/store/sqlite/mod.ts` exists (someone else is building it; until then every SQLite
 * figure in the report reads "not built yet").
 *
 * @module
 */
import type { JobStore } from "../mod.ts";
import { newId } from "../src/shared/ids.ts";
import type { NewJob } from "../src/store/types.ts";
import { ROOT } from "./_proc.ts";

/** Where the SQLite store will live. */
export const SQLITE_MODULE: string = `${ROOT}src/store/sqlite/mod.ts`;

/** Whether the SQLite store exists in this checkout. */
export function sqliteBuilt(): boolean {
  try {
    return Deno.statSync(SQLITE_MODULE).isFile;
  } catch {
    return false;
  }
}

/**
 * Opens a SQLite store on a new file in `dir`: `new SqliteStore({ path })`, the API of
 * `src/store/sqlite/sqlite_store.ts` today. Should that change, any exported class named
 * like `SqliteStore` is tried with `{ path }`; it throws, saying what it tried, when none fits.
 */
export async function openSqliteStore(dir: string): Promise<JobStore> {
  const mod = await import(SQLITE_MODULE) as Record<string, unknown>;
  const path = `${dir}/bench.db`;
  const tried: string[] = [];
  const names = Object.keys(mod).filter((name) => /sqlite.*store/i.test(name));
  names.sort((a, b) => (a === "SqliteStore" ? -1 : b === "SqliteStore" ? 1 : 0));
  for (const name of names) {
    const Store = mod[name];
    if (typeof Store !== "function") continue;
    try {
      const store = new (Store as new (options: { path: string }) => JobStore)({ path });
      await store.open();
      return store;
    } catch (error) {
      tried.push(`new ${name}({ path }): ${String(error)}`);
    }
  }
  throw new Error(
    `could not open the SQLite store from ${SQLITE_MODULE}${
      tried.length > 0 ? `; tried ${tried.join("; ")}` : ": no export named like SqliteStore"
    }`,
  );
}

/**
 * `size` new jobs of `kind` (no payload) as the executor hands them to `JobStore.insert`. Built as a plain
 * object and cast, so that a field added to `NewJob` later does not break the benchmarks
 * that store alone: fields the store does not know are ignored, and `leases` (being added)
 * is already there.
 */
export function newJobRows(size: number, now = Date.now(), kind = "noop"): NewJob[] {
  const jobs: NewJob[] = new Array(size);
  for (let i = 0; i < size; i++) {
    jobs[i] = {
      id: newId(now),
      kind,
      payload: "null",
      priority: "coordinate",
      timeoutMs: null,
      maxAttempts: 3,
      backoff: { baseMs: 1_000, maxMs: 300_000 },
      uniqueKey: null,
      leases: [],
      createdAt: now,
      runAt: now,
    } as unknown as NewJob;
  }
  return jobs;
}
