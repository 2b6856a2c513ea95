/**
 * Connecting to PostgreSQL and bringing the schema up to date: the client's options from a
 * parsed URL, and the numbered migrations applied in one transaction under an advisory lock
 * (runtimes starting together do not race; a schema of a newer liminal is refused).
 *
 * @module
 */
import postgres from "postgres";
import { getLogger } from "@logtape/logtape";
import { LiminalError } from "../../shared/errors.ts";
import { VERSION } from "../../shared/version.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";
import type { parseConnectionUrl } from "./_url.ts";
import { lockAdvisory, type PostgresState, type Sql, type Tx } from "./_state.ts";

const log = getLogger(["liminal", "store"]);

/** A pool of `max` connections to `target`, with `schema` as its `search_path`. */
export function connect(
  target: ReturnType<typeof parseConnectionUrl>,
  options: { schema: string; max: number; connectTimeoutS: number },
): Sql {
  const t = target;
  return postgres({
    host: t.host,
    port: t.port,
    ...(t.database === "" ? {} : { database: t.database }),
    ...(t.user === "" ? {} : { user: t.user }),
    ...(t.password === "" ? {} : { password: t.password }),
    ...(t.ssl === null ? {} : { ssl: sslOption(t.ssl) }),
    max: options.max,
    connect_timeout: options.connectTimeoutS,
    fetch_types: false,
    onnotice: () => {},
    connection: {
      application_name: t.applicationName ?? "liminal",
      search_path: options.schema,
      // Batches come as arrays and JSON: a plan made for the values at hand looks jobs up
      // by id, where a generic plan would scan every queued job (measured: a claim of 4
      // read the whole backlog).
      plan_cache_mode: "force_custom_plan",
    },
  }) as unknown as Sql;
}

/** Creates the schema when missing and applies the migrations it lacks, under a lock. */
export async function migrate(sql: Sql, state: PostgresState): Promise<void> {
  const schema = state.schema;
  const ctx = state.ctx;
  await sql.begin(async (transaction) => {
    const tx = transaction as unknown as Tx;
    await lockAdvisory(tx, state.migrateLockKey);
    const [found] = await tx`
      SELECT (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid
                AND c.relkind IN ('r', 'p', 'v', 'm'))::int AS relations,
        to_regclass(quote_ident(${schema}) || '.liminal_migrations') IS NOT NULL AS ours
      FROM pg_namespace n WHERE n.nspname = ${schema}`;
    if (found === undefined) {
      await tx.unsafe(`CREATE SCHEMA ${quoteIdent(schema)}`);
    } else if (found.ours !== true && Number(found.relations) > 0) {
      throw new LiminalError(
        "STORE_CORRUPT",
        `schema "${schema}" of database "${ctx.database}" holds tables of another application; it was left untouched`,
        { hint: "give liminal a schema of its own (the store's schema option)" },
      );
    }
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS ${
        quoteIdent(schema)
      }.liminal_migrations (version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), liminal text NOT NULL)`,
    );
    const [version] = await tx.unsafe(
      `SELECT coalesce(max(version), 0)::int AS v FROM ${quoteIdent(schema)}.liminal_migrations`,
    );
    const current = Number(version?.v ?? 0);
    if (current > SCHEMA_VERSION) {
      throw new LiminalError(
        "STORE_UNAVAILABLE",
        `schema "${schema}" of database "${ctx.database}" at ${ctx.server} was written by a newer liminal (schema version ${current}; this one knows up to ${SCHEMA_VERSION})`,
        { hint: "upgrade liminal, or use another schema" },
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await tx.unsafe(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
      await tx.unsafe(migration.sql);
      await tx.unsafe(
        `INSERT INTO ${quoteIdent(schema)}.liminal_migrations (version, name, liminal)
         VALUES ($1, $2, $3)`,
        [migration.version, migration.name, VERSION],
      );
      log.info("store {schema}: applied migration {version} ({name})", {
        schema,
        version: migration.version,
        name: migration.name,
      });
    }
  });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The `postgres` package's `ssl` option for a libpq `sslmode`. */
function sslOption(mode: string): boolean | "prefer" | "require" | "verify-full" {
  switch (mode) {
    case "disable":
      return false;
    case "allow":
    case "prefer":
      return "prefer";
    case "verify-ca":
    case "verify-full":
      return "verify-full";
    default:
      return "require";
  }
}
