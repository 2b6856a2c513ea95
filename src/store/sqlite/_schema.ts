/**
 * Opening a SQLite file as liminal's: its directory, whose database it is, and the numbered
 * migrations that bring its schema up to date.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";

const log = getLogger(["liminal", "store"]);

type Row = Record<string, unknown>;

/** `PRAGMA application_id` of a liminal database: "LMNL". */
export const APPLICATION_ID = 0x4c4d4e4c;

/** Creates the directory of the database file (0700) when missing. */
export async function ensureDirectory(path: string): Promise<void> {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  if (dir === "") return;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return;
    throw new LiminalError(
      "STORE_UNAVAILABLE",
      `cannot create the store directory ${dir}: ${errorMessage(error)}`,
      {
        cause: error,
        hint: "check the permissions of its parent directory, or pass --store another path",
      },
    );
  }
}

/** Refuses a SQLite database of another application. */
export function checkApplication(db: DatabaseSync, path: string): void {
  const id = Number((db.prepare("PRAGMA application_id").get() as Row).application_id);
  if (id === APPLICATION_ID) return;
  if (id !== 0) {
    throw new LiminalError(
      "STORE_CORRUPT",
      `${path} belongs to another application (application_id ${id}); it was left untouched`,
    );
  }
  const tables = db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
  ).all()
    .map((r) => String(r.name));
  if (tables.length > 0 && !tables.includes("liminal_migrations")) {
    throw new LiminalError(
      "STORE_CORRUPT",
      `${path} is a SQLite database of another application (tables: ${
        tables.slice(0, 5).join(", ")
      }); it was left untouched`,
    );
  }
}

/** Applies the migrations this database lacks; refuses one from a newer liminal. */
export function migrate(db: DatabaseSync, path: string): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS liminal_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT",
  );
  const current = Number(
    (db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM liminal_migrations").get() as Row).v,
  );
  if (current > SCHEMA_VERSION) {
    throw new LiminalError(
      "STORE_UNAVAILABLE",
      `${path} was written by a newer liminal (schema version ${current}; this one knows up to ${SCHEMA_VERSION})`,
      { hint: "upgrade liminal, or start with --store pointing to another file" },
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migration.sql);
      db.prepare("INSERT INTO liminal_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        Date.now(),
      );
      db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
    log.info("store {path}: applied migration {version} ({name})", {
      path,
      ...migration,
      sql: undefined,
    });
  }
}
