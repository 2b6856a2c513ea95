/**
 * A real PostgreSQL server for tests: `initdb` and `pg_ctl start` in a fresh temporary
 * directory, listening only on a Unix socket in that directory, trusting local connections.
 *
 * - The binaries are found in `$LIMINAL_PG_BINDIR`, the newest `/usr/lib/postgresql/<v>/bin`,
 *   or `pg_config --bindir`. With none of them, {@link startPostgres} returns `null` and the
 *   tests that need a server are ignored (with a printed note).
 * - PostgreSQL refuses to run as root: as root, the server runs as the OS user `postgres`
 *   (through `runuser`, or `su`), and the directory is handed to that user.
 * - Built for speed, not durability: `fsync=off`, no TCP, `--locale=C` (no locale needed).
 * - Every test takes its own database ({@link PostgresServer.createDatabase}), so tests are
 *   independent while sharing one server per test file ({@link sharedPostgres}).
 * - Nothing of Deno's is held between calls (each command is awaited to its end), so tests
 *   that use the server keep Deno's op and resource sanitizers on.
 *
 * @module
 */

/** A running test server. */
export interface PostgresServer {
  /** The URL of database `db` (default `postgres`), through the Unix socket. */
  url(db?: string): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL as the superuser in database `db` with psql; returns psql's output. */
  psql(sql: string, db?: string): Promise<string>;
  /** Stops the server and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  /** The stop, synchronously (for the `unload` event). */
  stopSync(): void;
  /** The directory holding the data and the socket. */
  readonly dir: string;
  /** The directory of the PostgreSQL binaries used. */
  readonly binDir: string;
}

/** The superuser the tests connect as. */
export const SUPERUSER = "postgres";

/** Where the PostgreSQL binaries are, or `null` when none are installed. */
export async function findPostgresBinaries(): Promise<string | null> {
  const env = Deno.env.get("LIMINAL_PG_BINDIR");
  if (env && await hasServer(env)) return env;
  const versions: { version: number; dir: string }[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      const version = Number.parseFloat(entry.name);
      const dir = `/usr/lib/postgresql/${entry.name}/bin`;
      if (Number.isFinite(version) && await hasServer(dir)) versions.push({ version, dir });
    }
  } catch {
    // No Debian layout.
  }
  versions.sort((a, b) => b.version - a.version);
  if (versions[0] !== undefined) return versions[0].dir;
  try {
    const out = await new Deno.Command("pg_config", { args: ["--bindir"], stderr: "null" })
      .output();
    const dir = new TextDecoder().decode(out.stdout).trim();
    if (out.success && dir !== "" && await hasServer(dir)) return dir;
  } catch {
    // No pg_config on PATH.
  }
  return null;
}

async function hasServer(dir: string): Promise<boolean> {
  for (const name of ["initdb", "pg_ctl", "postgres"]) {
    try {
      if (!(await Deno.stat(`${dir}/${name}`)).isFile) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * Starts a fresh server. `null` only when no PostgreSQL binaries are installed; any other
 * failure (initdb or start failing) throws with the server's log.
 */
export async function startPostgres(): Promise<PostgresServer | null> {
  const binDir = await findPostgresBinaries();
  if (binDir === null) return null;
  const asRoot = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "liminal-pg-" });
  const data = `${dir}/data`;
  const logFile = `${dir}/server.log`;
  const run = runner(asRoot);
  let started = false;
  try {
    if (asRoot) {
      const { uid, gid } = await osUser("postgres");
      await Deno.chown(dir, uid, gid);
    }
    await Deno.chmod(dir, 0o755);
    await run(`${binDir}/initdb`, [
      "-D",
      data,
      "-U",
      SUPERUSER,
      "--auth=trust",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ], "initdb");
    const settings = [
      "-c listen_addresses=''",
      `-c unix_socket_directories='${dir}'`,
      "-c unix_socket_permissions=0777",
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c max_connections=200",
      "-c shared_buffers=32MB",
      "-c log_min_messages=warning",
    ].join(" ");
    try {
      await run(`${binDir}/pg_ctl`, [
        "start",
        "-D",
        data,
        "-w",
        "-t",
        "60",
        "-l",
        logFile,
        "-o",
        settings,
      ], "pg_ctl start");
    } catch (error) {
      const log = await Deno.readTextFile(logFile).catch(() => "");
      throw new Error(`${(error as Error).message}\n--- server log ---\n${log}`);
    }
    started = true;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }

  const url = (db = "postgres") =>
    `postgres://${SUPERUSER}@/${encodeURIComponent(db)}?host=${encodeURIComponent(dir)}`;
  const psql = async (sql: string, db = "postgres") => {
    const out = await new Deno.Command(`${binDir}/psql`, {
      args: ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", dir, "-U", SUPERUSER, "-d", db],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = out.stdin.getWriter();
    await writer.write(new TextEncoder().encode(sql));
    await writer.close();
    const result = await out.output();
    const text = new TextDecoder().decode(result.stdout);
    if (!result.success) {
      throw new Error(`psql failed: ${new TextDecoder().decode(result.stderr).trim()}`);
    }
    return text;
  };
  let stopped = false;
  const stopArgs = ["stop", "-D", data, "-m", "immediate", "-w"];
  return {
    dir,
    binDir,
    url,
    psql,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${name}`);
      await psql(`CREATE DATABASE ${name}`);
      return url(name);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (started) await run(`${binDir}/pg_ctl`, stopArgs, "pg_ctl stop").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    stopSync() {
      if (stopped) return;
      stopped = true;
      try {
        const [command, args] = commandLine(asRoot, `${binDir}/pg_ctl`, stopArgs);
        new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync();
      } catch {
        // Best effort: the process is exiting.
      }
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Best effort.
      }
    },
  };
}

let shared: Promise<PostgresServer | null> | null = null;
let noted = false;

/**
 * One server per test file, started on first use and stopped when the file's tests end (the
 * `unload` event), or earlier with {@link stopSharedPostgres}.
 */
export function sharedPostgres(): Promise<PostgresServer | null> {
  if (shared === null) {
    shared = startPostgres().then((server) => {
      if (server === null) {
        if (!noted) {
          noted = true;
          console.warn(
            "%cpostgres: no PostgreSQL binaries found (/usr/lib/postgresql/*/bin, pg_config --bindir, $LIMINAL_PG_BINDIR); the postgres tests are ignored",
            "color: yellow",
          );
        }
        return null;
      }
      globalThis.addEventListener("unload", () => server.stopSync());
      return server;
    });
  }
  return shared;
}

/** Stops the shared server now (the last test of a file may call it). */
export async function stopSharedPostgres(): Promise<void> {
  const server = await shared;
  shared = null;
  await server?.stop();
}

let databases = 0;

/** A fresh database on the shared server. */
export interface TestDatabase {
  name: string;
  url: string;
  server: PostgresServer;
  /** Runs SQL in this database with psql: the rows, columns split on `|`. */
  query(sql: string): Promise<string[][]>;
}

/** A fresh database on the shared server, named after `prefix`; `null` without a server. */
export async function freshDatabase(prefix = "t"): Promise<TestDatabase | null> {
  const server = await sharedPostgres();
  if (server === null) return null;
  const name = `${prefix}_${Deno.pid}_${++databases}`;
  const url = await server.createDatabase(name);
  return {
    name,
    url,
    server,
    async query(sql: string) {
      const out = await server.psql(sql, name);
      return out.split("\n").filter((line) => line !== "").map((line) => line.split("|"));
    },
  };
}

/**
 * Whether the PostgreSQL tests run (to `ignore` tests that need them): its binaries are
 * installed, and `LIMINAL_TEST_POSTGRES` is not `0` (`deno task test:unit` sets it: a real
 * server is a real process).
 */
export const POSTGRES_INSTALLED: boolean = Deno.env.get("LIMINAL_TEST_POSTGRES") !== "0" &&
  await findPostgresBinaries() !== null;

function runner(asRoot: boolean) {
  return async (binary: string, args: string[], what: string): Promise<void> => {
    const [command, argv] = commandLine(asRoot, binary, args);
    const out = await new Deno.Command(command, {
      args: argv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      cwd: "/",
    }).output();
    if (!out.success) {
      const decode = (b: Uint8Array) => new TextDecoder().decode(b).trim();
      throw new Error(
        `${what} failed (exit ${out.code}): ${decode(out.stderr) || decode(out.stdout)}`,
      );
    }
  };
}

/** The command line that runs `binary` as the `postgres` user when we are root. */
function commandLine(asRoot: boolean, binary: string, args: string[]): [string, string[]] {
  if (!asRoot) return [binary, args];
  if (existsSync("/usr/sbin/runuser") || existsSync("/sbin/runuser")) {
    return ["runuser", ["-u", "postgres", "--", binary, ...args]];
  }
  const quoted = [binary, ...args].map((a) => `'${a.replaceAll("'", `'"'"'`)}'`).join(" ");
  return ["su", ["postgres", "-s", "/bin/sh", "-c", quoted]];
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid] = line.split(":");
    if (user === name) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`there is no OS user "${name}" to run PostgreSQL as (it refuses to run as root)`);
}

// ── Fake time ─────────────────────────────────────────────────────────────────────────────

/** The real timers, taken before any test fakes them (this module loads first). */
export const REAL_TIMERS = {
  setTimeout: globalThis.setTimeout.bind(globalThis),
  clearTimeout: globalThis.clearTimeout.bind(globalThis),
  now: performance.now.bind(performance),
};

/** The store's own timers on real time (`PostgresStoreOptions.timers`). */
export const REAL_STORE_TIMERS = {
  setTimeout: (callback: () => void, ms: number): unknown => REAL_TIMERS.setTimeout(callback, ms),
  clearTimeout: (handle: unknown): void =>
    REAL_TIMERS.clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: (): number => REAL_TIMERS.now(),
};

function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => REAL_TIMERS.setTimeout(resolve, ms));
}

interface FakeTimer {
  callAt: number;
}

interface FakeClockLike {
  now: number;
  timers?: Map<number, FakeTimer>;
  tickAsync(ms: number): Promise<number>;
}

/** The fake clock installed on the global timers, if any (fake-timers marks its fakes). */
function installedFakeClock(): FakeClockLike | null {
  const clock = (globalThis.setTimeout as unknown as { clock?: FakeClockLike }).clock;
  return clock !== undefined && typeof clock.tickAsync === "function" ? clock : null;
}

/**
 * Adapts a store on a real database to tests that run under a fake clock
 * (`tests/_support/fake_time.ts`), and returns it.
 *
 * Under fake time a test moves the clock with `tickAsync` and lets "pending work" finish with
 * `tickAsync(0)`. With the embedded stores every store call completes within those yields;
 * a round trip to a real server takes real time, which a fake clock neither waits for nor
 * lets pass. So, while the store is open:
 *
 * - `clock.tickAsync(ms)` first waits (in real time) until no store call is in flight, then
 *   moves the fake clock timer by timer, waiting for the store again after each timer fires.
 *   From the test's point of view every store call completes in zero fake time, exactly as
 *   with the embedded stores; no expectation of the suite changes.
 * - `open()` and `close()` keep firing zero-delay fake timers (`tickAsync(0)`) until they
 *   complete: the `postgres` package connects from a `setTimeout(…, 0)`.
 *
 * The store's own timers (heartbeat, batching) must be real: pass {@link REAL_STORE_TIMERS}.
 * Without a fake clock installed, the store is returned as it is.
 */
export function adaptToFakeTime<T extends object>(store: T): T {
  const clock = installedFakeClock();
  if (clock === null) return store;
  const tickAsync = clock.tickAsync.bind(clock);
  let inFlight = 0;
  let started = 0;

  /** Waits in real time until no store call is in flight (twice in a row). */
  const quiesce = async () => {
    let calm = 0;
    let busySince = REAL_TIMERS.now();
    const giveUpAt = busySince + 30_000;
    while (calm < 2) {
      if (REAL_TIMERS.now() > giveUpAt) {
        throw new Error(`${inFlight} store call(s) did not complete within 30 s of real time`);
      }
      const before = started;
      await realDelay(inFlight > 0 ? 1 : 0);
      if (inFlight === 0 && started === before) {
        calm++;
        busySince = REAL_TIMERS.now();
      } else {
        calm = 0;
        // A call waiting on a zero-delay fake timer (a reconnect) needs the clock to fire it.
        if (REAL_TIMERS.now() - busySince > 50) await tickAsync(0);
      }
    }
  };

  const steppingTick = async (ms: number): Promise<number> => {
    const target = clock.now + Math.max(0, ms);
    for (let i = 0; i < 100_000; i++) {
      await quiesce();
      let next = Number.POSITIVE_INFINITY;
      for (const timer of clock.timers?.values() ?? []) next = Math.min(next, timer.callAt);
      if (next > target) {
        await tickAsync(target - clock.now);
        break;
      }
      await tickAsync(Math.max(0, next - clock.now));
    }
    await quiesce();
    return clock.now;
  };

  const pump = async <R>(work: Promise<R>): Promise<R> => {
    let done = false;
    const watched = work.finally(() => (done = true));
    watched.catch(() => {});
    while (!done) {
      await tickAsync(0);
      if (!done) await realDelay(1);
    }
    return await watched;
  };

  const track = <R>(result: R): R => {
    if (!(result instanceof Promise)) return result;
    inFlight++;
    started++;
    return result.finally(() => inFlight--) as R;
  };

  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      if (property === "open") {
        return async () => {
          clock.tickAsync = steppingTick;
          try {
            await pump((value as () => Promise<void>).call(target));
          } catch (error) {
            clock.tickAsync = tickAsync;
            throw error;
          }
        };
      }
      if (property === "close") {
        return async () => {
          try {
            await pump((value as () => Promise<void>).call(target));
          } finally {
            clock.tickAsync = tickAsync;
          }
        };
      }
      return (...args: unknown[]) =>
        track((value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}
