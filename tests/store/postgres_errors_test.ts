/**
 * PostgreSQL errors hide the password only where it appears in a connection URL: a password
 * that is also a word (`postgres`, `app`) leaves the database, user and server of that name
 * readable in the message.
 */
import assert from "node:assert/strict";
import { openError, writeError } from "../../src/store/postgres/_errors.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { POSTGRES_INSTALLED, sharedPostgres, stopSharedPostgres } from "../_support/postgres.ts";
import { runLiminal } from "../_support/cli.ts";

const ctx = { server: "postgres:5432", database: "postgres", user: "postgres", schema: "liminal" };

/** An error as the `postgres` driver throws it for a server's answer. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "PostgresError", code });
}

Deno.test("a missing database named like the password is named in full", () => {
  const error = openError(serverError("3D000", 'database "postgres" does not exist'), ctx);
  assert.equal(error.code, "STORE_UNAVAILABLE");
  assert.match(
    error.message,
    /^database "postgres" does not exist at PostgreSQL at postgres:5432$/,
  );
  assert.match(error.hint ?? "", /createdb postgres/);
});

Deno.test("a URL a driver echoes has its password hidden, and only that", () => {
  const echoed = new Error(
    "connect failed for postgres://postgres:postgres@postgres:5432/postgres?sslmode=disable",
  );
  const opened = openError(echoed, ctx);
  assert.match(
    opened.message,
    /postgres:\/\/postgres:\*\*\*@postgres:5432\/postgres\?sslmode=disable/,
  );
  assert.doesNotMatch(opened.message, /:postgres@/);
  const written = writeError(
    Object.assign(new Error("no pool for postgresql://app:s3cr3t@db/app?password=s3cr3t"), {}),
    "enqueue",
    ctx,
  );
  assert.ok(isLiminalError(written, "STORE_ERROR"));
  assert.doesNotMatch(written.message, /s3cr3t/);
  assert.match(written.message, /postgresql:\/\/app:\*\*\*@db\/app\?password=\*\*\*/);
  const refused = writeError(
    serverError("42501", 'permission denied for schema postgres (user "postgres")'),
    "enqueue",
    ctx,
  );
  assert.match(refused.message, /permission denied for schema postgres \(user "postgres"\)/);
});

Deno.test({
  name: "liminal start against a real server: a missing database named like the password",
  ignore: !POSTGRES_INSTALLED,
  async fn() {
    const server = (await sharedPostgres())!;
    try {
      // postgres://postgres@/app?host=… with the password "app" (trust auth ignores it).
      const store = server.url("app").replace("postgres://postgres@", "postgres://postgres:app@");
      assert.match(store, /^postgres:\/\/postgres:app@\/app\?/);
      const dir = await Deno.makeTempDir({ prefix: "liminal-pgmask-" });
      try {
        const result = await runLiminal(["start", "--no-tui", "--store", store], { cwd: dir });
        assert.equal(result.code, 2, result.stderr);
        assert.match(result.stderr, /STORE_UNAVAILABLE: database "app" does not exist/);
        assert.match(result.stderr, /createdb app/);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } finally {
      await stopSharedPostgres();
    }
  },
});
