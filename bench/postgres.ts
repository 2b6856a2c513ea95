/**
 * The PostgreSQL store's figures: no-op jobs per second with one and with three
 * `liminal start` processes sharing one database, enqueue → start latency, what each job
 * costs the database, against a bare `SKIP LOCKED` claim loop on the same server. Prints
 * one JSON document ({@link PostgresReport}); `bench/report.ts` turns it into the
 * "PostgreSQL store" section.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-run --allow-sys bench/postgres.ts
 *     [--parts floor,cluster,peers,latency,inproc,plans] [--clusters 1,3] [--workers 4]
 *     [--peers graphile,pgboss-batch[,pgboss-loops]]
 *     [--jobs 5000] [--rounds 3] [--warmup 1000] [--rate 200] [--probes 1000]
 *     [--probe-warmup 100] [--runtime-flags "<deno run flags for the runtimes>"]
 *
 * This process needs no network: it starts a throw-away server with
 * `tests/_support/postgres.ts` (Unix socket in a temporary directory, `fsync=off`), loads
 * `pg_stat_statements` and `auto_explain` into it (`ALTER SYSTEM` and a restart), and runs
 * the measuring half,
 * `bench/_pg_driver.ts`, in a child process with `--allow-net` (connecting to a Unix socket
 * needs it). Whatever happens, the server is stopped, every runtime the driver started is
 * killed, and the temporary directories are removed. Without PostgreSQL binaries, or when
 * the server cannot be started, it prints `{ "skipped": "<why>" }` and exits 0.
 *
 * With `LIMINAL_BENCH_SMOKE=1`: tiny sizes, one round.
 *
 * @module
 */
import { pick, SMOKE } from "./_config.ts";
import { BENCH_DIR, parseArgs, ROOT, START_PERMISSIONS } from "./_proc.ts";
import { type DriverConfig, type DriverReport, PEERS, type PeerSystem } from "./_pg_driver.ts";
import { type PostgresServer, startPostgres, SUPERUSER } from "../tests/_support/postgres.ts";

/** What this script prints. */
export interface PostgresReport {
  /** Why nothing was measured, or `null`. */
  skipped: string | null;
  smoke: boolean;
  config:
    | Omit<DriverConfig, "socketDir" | "user" | "postmasterPid" | "work" | "pidsFile" | "logFile">
    | null;
  /** Why `pg_stat_statements` could not be loaded (the statement figures are missing). */
  statementsError: string | null;
  driver: DriverReport | null;
}

const log = (message: string) => console.error(`postgres: ${message}`);

function list(value: string | undefined, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  return value.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
}

function number(value: string | undefined, fallback: number): number {
  const n = value === undefined ? Number.NaN : Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** The server's data directory, where `startPostgres` put it. */
const dataDir = (server: PostgresServer) => `${server.dir}/data`;

/** Runs a PostgreSQL binary as the server's OS user (`postgres` when we are root). */
async function asServerUser(server: PostgresServer, binary: string, args: string[]): Promise<void> {
  const path = `${server.binDir}/${binary}`;
  const [command, argv] = Deno.uid() === 0
    ? ["runuser", ["-u", "postgres", "--", path, ...args]]
    : [path, args];
  const out = await new Deno.Command(command, {
    args: argv,
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim() ||
      new TextDecoder().decode(out.stdout).trim();
    throw new Error(`${binary} ${args[0]} failed (exit ${out.code}): ${text}`);
  }
}

/** What the server could be given for the statement and plan figures. */
interface Instruments {
  statements: boolean;
  autoExplain: boolean;
  /** Why `pg_stat_statements` is missing, or `null`. */
  error: string | null;
}

async function readText(path: string): Promise<string> {
  // Through `cat`: the data directory belongs to the server's OS user.
  const out = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : "";
}

/** Whether the server's library directory holds `name` (a loadable module). */
async function hasLibrary(server: PostgresServer, name: string): Promise<boolean> {
  const dirs = [`${server.binDir}/../lib`];
  try {
    const out = await new Deno.Command(`${server.binDir}/pg_config`, {
      args: ["--pkglibdir"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) dirs.push(new TextDecoder().decode(out.stdout).trim());
  } catch {
    // no pg_config next to the server
  }
  for (const dir of dirs) {
    try {
      if ((await Deno.stat(`${dir}/${name}.so`)).isFile) return true;
    } catch {
      // not there
    }
  }
  return false;
}

/**
 * Loads `pg_stat_statements` and `auto_explain` (preload libraries: `ALTER SYSTEM`, then
 * `pg_ctl restart`, which keeps the options the server was started with). Should the
 * restart fail, the server is started again without them, with the options it had.
 */
async function loadInstruments(server: PostgresServer): Promise<Instruments> {
  const none = (error: string): Instruments => ({ statements: false, autoExplain: false, error });
  const libraries = [];
  for (const name of ["pg_stat_statements", "auto_explain"]) {
    if (await hasLibrary(server, name)) libraries.push(name);
  }
  if (!libraries.includes("pg_stat_statements")) {
    return none(`no pg_stat_statements.so next to ${server.binDir}`);
  }
  const data = dataDir(server);
  const logFile = `${server.dir}/server.log`;
  const options = await readText(`${data}/postmaster.opts`);
  try {
    await server.psql(
      `ALTER SYSTEM SET shared_preload_libraries = ${libraries.map((l) => `'${l}'`).join(", ")}`,
    );
    await asServerUser(server, "pg_ctl", [
      "restart",
      ...["-D", data, "-m", "fast", "-w", "-t", "60", "-l", logFile],
    ]);
    await server.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    return { statements: true, autoExplain: libraries.includes("auto_explain"), error: null };
  } catch (error) {
    const why = (error as Error).message.slice(0, 500);
    // Up again as it was: the options of its first start, no preload library.
    try {
      await server.psql("SELECT 1");
    } catch {
      const args = [...options.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
      const kept = args.filter((_, i) => args[i] !== "-D" && args[i - 1] !== "-D");
      const quoted = [...kept, "-c", "shared_preload_libraries="]
        .map((a) => `'${a.replaceAll("'", `'"'"'`)}'`).join(" ");
      await asServerUser(server, "pg_ctl", [
        "start",
        ...["-D", data, "-w", "-t", "60", "-l", logFile, "-o", quoted],
      ]);
    }
    await server.psql("ALTER SYSTEM RESET shared_preload_libraries").catch(() => {});
    return none(why);
  }
}

async function postmasterPid(server: PostgresServer): Promise<number | null> {
  try {
    const out = await new Deno.Command("cat", {
      args: [`${dataDir(server)}/postmaster.pid`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const pid = Number(new TextDecoder().decode(out.stdout).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Kills the runtimes the driver started that still run (it stops them itself normally). */
async function killLeftovers(pidsFile: string): Promise<void> {
  let text = "";
  try {
    text = await Deno.readTextFile(pidsFile);
  } catch {
    return;
  }
  for (const pid of text.split("\n").filter((s) => s !== "").map(Number)) {
    try {
      const cmdline = await new Deno.Command("cat", {
        args: [`/proc/${pid}/cmdline`],
        stdout: "piped",
        stderr: "null",
      }).output();
      // Only a process that is still ours (pids are reused).
      const line = new TextDecoder().decode(cmdline.stdout);
      if (!line.includes(`${ROOT}main.ts`) && !line.includes("_pg_peer.ts")) continue;
      log(`killing runtime pid ${pid}, left running`);
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

async function main(): Promise<PostgresReport> {
  const args = parseArgs(Deno.args);
  const parts = (args.get("parts") ?? "floor,cluster,peers,latency,inproc,plans").split(",")
    .filter((p): p is DriverConfig["parts"][number] =>
      p === "floor" || p === "cluster" || p === "latency" || p === "inproc" || p === "plans" ||
      p === "peers"
    );
  const config: PostgresReport["config"] = {
    statements: false,
    autoExplain: false,
    parts,
    clusters: list(args.get("clusters"), [1, 3]),
    // pgboss-loops (4 fetch loops of one job) is poll-bound: ~8 jobs/s a process; not by default.
    peers: (args.get("peers") ?? "graphile,pgboss-batch").split(",").map((p) => p.trim())
      .filter((p): p is PeerSystem => p in PEERS),
    workers: number(args.get("workers"), 4),
    // Taken verbatim: the value starts with "--".
    runtimeFlags: (Deno.args[Deno.args.indexOf("--runtime-flags") + 1] ?? "")
      .split(" ").filter((f) => Deno.args.includes("--runtime-flags") && f !== ""),
    jobs: number(args.get("jobs"), pick(5_000, 200)),
    rounds: number(args.get("rounds"), pick(3, 1)),
    warmupJobs: number(args.get("warmup"), pick(1_000, 20)),
    latencyRate: number(args.get("rate"), pick(200, 100)),
    latencyJobs: number(args.get("probes"), pick(1_000, 20)),
    latencyWarmup: number(args.get("probe-warmup"), pick(100, 5)),
  };
  const skipped = (why: string): PostgresReport => ({
    skipped: why,
    smoke: SMOKE,
    config,
    statementsError: null,
    driver: null,
  });

  let server: PostgresServer | null;
  try {
    server = await startPostgres();
  } catch (error) {
    return skipped(`PostgreSQL could not be started: ${(error as Error).message.slice(0, 1_000)}`);
  }
  if (server === null) {
    return skipped(
      "no PostgreSQL binaries (/usr/lib/postgresql/*/bin, pg_config --bindir, $LIMINAL_PG_BINDIR)",
    );
  }
  const work = await Deno.makeTempDir({ prefix: "liminal-bench-pg-" });
  const pidsFile = `${work}/runtimes.pid`;
  const cleanup = async () => {
    await killLeftovers(pidsFile);
    await server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  };
  // Ctrl-C or a kill of `deno task bench`: still stop the server and the runtimes.
  const onSignal = () => {
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    log(`server in ${server.dir}; loading pg_stat_statements and auto_explain`);
    const instruments = await loadInstruments(server);
    const statementsError = instruments.error;
    if (statementsError !== null) log(`no statement figures: ${statementsError}`);
    const driverConfig: DriverConfig = {
      ...config,
      statements: instruments.statements,
      autoExplain: instruments.autoExplain,
      logFile: `${server.dir}/server.log`,
      socketDir: server.dir,
      user: SUPERUSER,
      postmasterPid: await postmasterPid(server),
      work,
      pidsFile,
    };
    const configPath = `${work}/driver.json`;
    await Deno.writeTextFile(configPath, JSON.stringify(driverConfig));
    const driver = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--config=${ROOT}deno.json`,
        ...START_PERMISSIONS,
        `${BENCH_DIR}_pg_driver.ts`,
        configPath,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!driver.success) {
      throw new Error(`bench/_pg_driver.ts exited ${driver.code} (its messages are above)`);
    }
    const report = JSON.parse(new TextDecoder().decode(driver.stdout)) as DriverReport;
    return {
      skipped: null,
      smoke: SMOKE,
      config: {
        ...config,
        statements: instruments.statements,
        autoExplain: instruments.autoExplain,
      },
      statementsError,
      driver: report,
    };
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await cleanup();
  }
}

if (import.meta.main) {
  const report = await main();
  if (report.skipped !== null) log(`skipped: ${report.skipped}`);
  console.log(JSON.stringify(report, null, 2));
}
