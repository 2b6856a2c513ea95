/**
 * The measuring half of the PostgreSQL benchmark. `bench/postgres.ts` starts the server and
 * runs this script in a child process with `--allow-net` (a Unix-socket connection needs
 * it, and `deno task bench` does not grant it); it prints one JSON document
 * ({@link DriverReport}) on stdout.
 *
 * Parts, each on a fresh database of the same server:
 *
 * - **floor**: a bare job table and the `postgres` client, no liminal: jobs inserted in one
 *   statement, then claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`
 *   and completed with one `UPDATE` per claim batch, by concurrent loops. The least a
 *   Postgres-backed queue of this shape costs on this machine.
 * - **cluster** (1 and 3 runtimes): that many `liminal start` processes (the permissions of
 *   `deno task start`, `--workers 4`, `--log-level warning`) share the database. Each round
 *   enqueues N no-op jobs in one `POST /v1/jobs` to the first runtime and waits until the
 *   queue is empty. Timing comes from the store's own rows: first attempt started → last
 *   job finished. CPU of the runtimes, of the PostgreSQL server processes and of this
 *   driver is read from /proc over each round; statements from `pg_stat_statements`; the
 *   `NOTIFY` traffic from a `LISTEN` on the store's channel.
 * - **latency**: `probe` jobs arrive at a fixed rate (open loop, well below capacity), one
 *   enqueue each, by two paths: through the runtimes' control sockets (round robin), and
 *   from another process straight into the database (a `PostgresStore` that only
 *   inserts; the runtimes hear of the jobs through `LISTEN`/`NOTIFY`). A probe's handler
 *   returns the time it started; latency = that − the time the enqueue call began.
 * - **inproc**: the same executors in this process, each over a `PostgresStore` of its own,
 *   wrapped to count what they ask of the store (claims: jobs asked for and won; settles;
 *   ready-window reads) and how long they wait for it.
 * - **plans**: one runtime drains one round with `auto_explain` logging every statement's
 *   plan; the claim, settle, insert and ready-window reads are summarised from the log.
 *
 * Every runtime started is stopped (SIGTERM, then SIGKILL after 20 s), also on error, and
 * its pid is written to `pidsFile` first so the parent can kill it should this process die.
 *
 * @module
 */
import postgres from "postgres";
import { ControlClient } from "../src/control/client.ts";
import { defineJob, type JobKind, MaintenanceExecutor } from "../src/executor/mod.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import type { JobStore } from "../src/store/types.ts";
import { newJobRows } from "./_stores.ts";
import { BENCH_DIR, ROOT, START_PERMISSIONS } from "./_proc.ts";

// ── Configuration and report ───────────────────────────────────────────────────────────

/** What the parent tells the driver. */
export interface DriverConfig {
  /** The server's Unix socket directory. */
  socketDir: string;
  user: string;
  /** The postmaster's pid, for its CPU and its children's; `null`: not read. */
  postmasterPid: number | null;
  /** Whether `pg_stat_statements` is loaded. */
  statements: boolean;
  /** Whether `auto_explain` is loaded (off until the plans part turns it on). */
  autoExplain: boolean;
  /** The server's log file (where `auto_explain` writes). */
  logFile: string;
  /** A directory for the runtimes' working directories and sockets. */
  work: string;
  /** The driver appends the pid of every runtime it starts here, one per line. */
  pidsFile: string;
  /** Which parts to run. */
  parts: ("floor" | "cluster" | "latency" | "inproc" | "plans" | "peers")[];
  /** Runtimes per cluster, e.g. [1, 3]. */
  clusters: number[];
  /** The peers the `peers` part runs (`bench/_pg_peer.ts`). */
  peers: PeerSystem[];
  /** Workers per runtime. */
  workers: number;
  /** Extra `deno run` flags for the runtimes (e.g. `--cpu-prof`). */
  runtimeFlags: string[];
  /** Jobs per throughput round. */
  jobs: number;
  rounds: number;
  /** Jobs in the untimed warm-up round. */
  warmupJobs: number;
  /** Open-loop arrival rate of the latency probes, jobs/s. */
  latencyRate: number;
  /** Probes per latency run. */
  latencyJobs: number;
  /** Probes sent first, at the same rate, not counted. */
  latencyWarmup: number;
}

/** Totals of one class of statements (`pg_stat_statements`). */
export interface StatementClass {
  name: string;
  calls: number;
  rows: number;
  /** Server execution time, ms. */
  totalMs: number;
  /** The statements of class "other" (for whoever adds a class). */
  samples?: string[];
}

/** CPU time over a measured window, ms. */
export interface CpuSplit {
  wallMs: number;
  /** The liminal runtimes (floor: none). */
  runtimeMs: number;
  /** Every process of the PostgreSQL server. */
  postgresMs: number;
  /** This driver (floor: the claim loops; cluster: enqueue call and polling). */
  driverMs: number;
}

/** One throughput round. */
export interface Round {
  jobs: number;
  /** Enqueue call (cluster) or INSERT (floor), ms. */
  enqueueMs: number;
  /** First attempt started → last job finished, ms. */
  drainMs: number;
  /** Enqueue call → last job finished, ms. */
  endToEndMs: number;
  /** Jobs each runtime ran (cluster). */
  byNode: Record<string, number>;
  cpu: CpuSplit | null;
}

/** A throughput case: its rounds and what they cost the database. */
export interface ThroughputResult {
  id: string;
  name: string;
  /** `liminal start` processes (0: the floor). */
  runtimes: number;
  /** Concurrent workers (or claim loops) in all. */
  concurrency: number;
  /** Jobs per claim statement at most (floor), or the workers per runtime (cluster). */
  batch: number;
  rounds: Round[];
  /** Over the measured rounds; `null` without `pg_stat_statements`. */
  statements: StatementClass[] | null;
  /** `NOTIFY`s received on the store's jobs channel over the measured rounds. */
  notify: { count: number; bytes: number; byKind: Record<string, number> } | null;
}

/** Percentiles of a latency sample, ms. */
export interface Latency {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** One open-loop latency run. */
export interface LatencyResult {
  runtimes: number;
  path: "socket" | "database";
  ratePerSec: number;
  /** Probes that ran / sent. */
  jobs: number;
  sent: number;
  /** Enqueue call → the probe's handler started. */
  enqueueToStart: Latency;
  /** The enqueue call itself (returned after the commit). */
  enqueueCall: Latency;
  /** The driver's lateness behind the schedule (arrival → call). */
  lateness: Latency;
  statements: StatementClass[] | null;
  notify: { count: number; bytes: number; byKind: Record<string, number> } | null;
  /** The slowest probes: when they were sent (ms into the run), their latency, their node. */
  slowest: { sentAtMs: number; ms: number; node: string }[];
  /** Probes that waited 50 ms or more. */
  over50ms: number;
}

/** What the executors asked of their stores, counted on the client side (in-process). */
export interface VerbCounts {
  claimCalls: number;
  /** Jobs asked for in those calls. */
  claimRequested: number;
  /** Jobs the calls returned (the others were gone: taken by another node). */
  claimWon: number;
  /** Time from a claim call to its result, summed, ms. */
  claimMs: number;
  settleCalls: number;
  settled: number;
  settleMs: number;
  loadReadyCalls: number;
  loadReadyRows: number;
  loadReadyMs: number;
}

/** A throughput case run by executors in this process, with what they asked of the store. */
export interface InProcessResult extends ThroughputResult {
  verbs: VerbCounts;
}

/** A scan in a statement's plan: what it read, per execution (median over executions). */
export interface PlanScan {
  /** "Bitmap Index Scan on jobs_ready", "Seq Scan on job_attempts", … */
  node: string;
  /** Rows the node returned plus rows its filter removed, per execution. */
  rows: number;
}

/** How the server ran one of liminal's statements (`auto_explain`, every execution). */
export interface PlanSummary {
  statement: string;
  executions: number;
  medianMs: number;
  /** Jobs the statement was about, per execution (rows it returned), median. */
  medianRows: number;
  /** The most common plan: its scans, and how many executions used it. */
  scans: PlanScan[];
  sharedBy: number;
}

/** What the driver prints. */
export interface DriverReport {
  server: { version: string; settings: Record<string, string>; statements: boolean };
  floor: ThroughputResult[];
  clusters: ThroughputResult[];
  /** graphile-worker and pg-boss on the same server, the same jobs and concurrency. */
  peers: ThroughputResult[];
  /** graphile-worker's enqueue → start (`addJob` call → handler), open loop. */
  peerLatency: {
    id: string;
    name: string;
    runtimes: number;
    /** Probes whose start was seen within 60 s of the last one sent. */
    jobs: number;
    sent: number;
    enqueueToStart: Latency;
  }[];
  /** Peers that could not be measured: id → why. */
  peerErrors: Record<string, string>;
  inProcess: InProcessResult[];
  latency: LatencyResult[];
  /** The plans part: 1 runtime draining one round with every statement's plan logged. */
  plans: { jobs: number; backlog: number; summaries: PlanSummary[] } | null;
}

// ── Small helpers ──────────────────────────────────────────────────────────────────────

const log = (message: string) => console.error(`postgres: ${message}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Epoch milliseconds with sub-millisecond digits, comparable across processes. */
const hrNow = () => performance.timeOrigin + performance.now();

type Sql = postgres.Sql<Record<string, never>>;

function connect(config: DriverConfig, database: string, max = 2): Sql {
  return postgres({
    host: config.socketDir,
    user: config.user,
    database,
    max,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: "liminal-bench" },
  }) as unknown as Sql;
}

function urlOf(config: DriverConfig, database: string): string {
  return `postgres://${config.user}@/${database}?host=${encodeURIComponent(config.socketDir)}`;
}

export function latencyOf(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0
      ? Number.NaN
      : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return {
    n: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

// ── CPU from /proc (through `cat`: Deno wants --allow-all to read /proc itself) ────────

async function cat(paths: string[]): Promise<string> {
  if (paths.length === 0) return "";
  try {
    const out = await new Deno.Command("cat", { args: paths, stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return "";
  }
}

/** utime + stime of each pid, in ms (processes gone are left out). */
async function cpuOf(pids: number[]): Promise<Map<number, number>> {
  const text = await cat(pids.map((pid) => `/proc/${pid}/stat`));
  const ticks = new Map<number, number>();
  for (const line of text.split("\n")) {
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    const pid = Number(line.slice(0, line.indexOf(" ")));
    const fields = line.slice(close + 2).split(" ");
    // After "pid (comm) ": state ppid … utime is field 14 of the line, stime 15.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (Number.isFinite(utime) && Number.isFinite(stime)) ticks.set(pid, (utime + stime) * 10);
  }
  return ticks;
}

/** The server's processes: the postmaster and its children. */
async function postgresPids(config: DriverConfig): Promise<number[]> {
  const pm = config.postmasterPid;
  if (pm === null) return [];
  const children = await cat([`/proc/${pm}/task/${pm}/children`]);
  return [pm, ...children.trim().split(/\s+/).filter((s) => s !== "").map(Number)];
}

class CpuMeter {
  #started = 0;
  #before = new Map<number, number>();
  #pg: number[] = [];

  constructor(readonly config: DriverConfig, readonly runtimePids: number[]) {}

  async start(): Promise<void> {
    this.#pg = await postgresPids(this.config);
    this.#before = await cpuOf([...this.runtimePids, ...this.#pg, Deno.pid]);
    this.#started = performance.now();
  }

  async stop(): Promise<CpuSplit | null> {
    const wallMs = performance.now() - this.#started;
    const after = await cpuOf([...this.runtimePids, ...this.#pg, Deno.pid]);
    if (after.size === 0) return null; // no /proc
    const sum = (pids: number[]) =>
      pids.reduce((total, pid) => {
        const a = this.#before.get(pid);
        const b = after.get(pid);
        return a === undefined || b === undefined ? total : total + (b - a);
      }, 0);
    return {
      wallMs,
      runtimeMs: sum(this.runtimePids),
      postgresMs: sum(this.#pg),
      driverMs: sum([Deno.pid]),
    };
  }
}

// ── Statements (pg_stat_statements) and NOTIFY traffic ──────────────────────────────────

/**
 * Classes of statements, first match wins. `pg_stat_statements` shows each statement with
 * its constants replaced by `$n`, so the patterns match the statements' shapes.
 */
const CLASSES: [string, RegExp][] = [
  ["bench driver (not liminal)", /\/\* bench \*\//],
  ["floor: claim", /UPDATE q SET state = \$\d+, worker/],
  ["floor: complete", /UPDATE q SET state = \$\d+, finished_at/],
  ["floor: insert", /INSERT INTO q /],
  ["claim", /INSERT INTO job_attempts/],
  ["settle", /UPDATE job_attempts a SET ended_at/],
  ["insert (enqueue)", /INSERT INTO jobs /],
  ["load ready window", /SELECT id, kind, priority, seq, ready_at, leases FROM jobs/],
  ["seq / kind advisory lock", /pg_advisory_xact_lock/],
  ["pg_notify (separate)", /^\s*SELECT pg_notify/],
  ["begin / commit", /^\s*(begin|commit)\b/i],
  ["promote due / next due", /run_at <=|SELECT run_at FROM jobs/],
  [
    "heartbeat and liveness",
    /\bnodes\b|cancel_requested_at IS NOT NULL|FROM jobs WHERE state = \$\d+ AND node_id = /,
  ],
  ["counts", /GROUP BY state, priority/],
  ["leases", /\bleases\b/],
  ["schedules", /\bschedules\b/],
];

async function resetStatements(config: DriverConfig, sql: Sql): Promise<void> {
  if (config.statements) await sql`/* bench */ SELECT pg_stat_statements_reset()`;
}

async function readStatements(config: DriverConfig, sql: Sql): Promise<StatementClass[] | null> {
  if (!config.statements) return null;
  const rows = await sql`/* bench */
    SELECT query, calls::float8 AS calls, rows::float8 AS rows,
      total_exec_time::float8 AS total_ms
    FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  const classes = new Map<string, StatementClass>();
  for (const row of rows) {
    const query = String(row.query);
    const name = CLASSES.find(([, re]) => re.test(query))?.[0] ?? "other";
    // pg_stat_statements misses most COMMITs the postgres client sends (40 transactions
    // showed 40 begin, 2 commit): each BEGIN is counted with its COMMIT instead.
    if (name === "begin / commit" && !/^\s*begin/i.test(query)) continue;
    const c = classes.get(name) ?? { name, calls: 0, rows: 0, totalMs: 0 };
    if (name === "other") (c.samples ??= []).push(query.replace(/\s+/g, " ").slice(0, 160));
    c.calls += Number(row.calls) * (name === "begin / commit" ? 2 : 1);
    c.rows += Number(row.rows);
    c.totalMs += Number(row.total_ms);
    classes.set(name, c);
  }
  return [...classes.values()].sort((a, b) => b.calls - a.calls);
}

class NotifyCounter {
  count = 0;
  bytes = 0;
  byKind: Record<string, number> = {};
  #unlisten: (() => Promise<void>) | null = null;

  async start(sql: Sql, channel: string): Promise<void> {
    const { unlisten } = await sql.listen(channel, (payload) => {
      this.count++;
      this.bytes += payload.length;
      let kind = "?";
      try {
        kind = String((JSON.parse(payload) as { kind?: unknown }).kind);
      } catch {
        // not JSON
      }
      this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    });
    this.#unlisten = unlisten;
  }

  reset(): void {
    this.count = 0;
    this.bytes = 0;
    this.byKind = {};
  }

  snapshot(): { count: number; bytes: number; byKind: Record<string, number> } {
    return { count: this.count, bytes: this.bytes, byKind: { ...this.byKind } };
  }

  async stop(): Promise<void> {
    await this.#unlisten?.().catch(() => {});
  }
}

// ── Runtimes ───────────────────────────────────────────────────────────────────────────

class RuntimeProcess {
  readonly child: Deno.ChildProcess;
  readonly client: ControlClient;
  #tail = "";
  #exited: Deno.CommandStatus | null = null;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #reading: Promise<void>;

  constructor(
    readonly node: string,
    readonly socket: string,
    cwd: string,
    url: string,
    workers: number,
    flags: string[],
  ) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--config=${ROOT}deno.json`,
        ...START_PERMISSIONS,
        ...flags,
        `${ROOT}main.ts`,
        "start",
        "--no-tui",
        "--store",
        url,
        "--node-id",
        node,
        "--socket",
        socket,
        "--workers",
        String(workers),
        "--jobs",
        `${BENCH_DIR}_pg_jobs.ts`,
        "--log-level",
        "warning",
      ],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.client = new ControlClient(socket);
    this.#status = child.status.then((status) => (this.#exited = status));
    this.#reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of child.stderr) {
          this.#tail = (this.#tail + decoder.decode(chunk, { stream: true })).slice(-8_000);
        }
      } catch {
        // the process went away
      }
    })();
  }

  get pid(): number {
    return this.child.pid;
  }

  get stderrTail(): string {
    return this.#tail.trim();
  }

  /** Waits until the control socket answers (the runtime starts the socket last). */
  async ready(deadlineMs: number): Promise<void> {
    const until = performance.now() + deadlineMs;
    while (performance.now() < until) {
      if (this.#exited !== null) {
        throw new Error(
          `runtime ${this.node} exited ${this.#exited.code} while starting:\n${this.stderrTail}`,
        );
      }
      try {
        await Deno.stat(this.socket);
        await this.client.status({ timeoutMs: 5_000 });
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(
      `runtime ${this.node} did not start within ${deadlineMs} ms:\n${this.stderrTail}`,
    );
  }

  /** SIGTERM (the ordered shutdown), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    this.client.close();
    if (this.#exited === null) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // gone already
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#status, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      if (this.#exited === null) {
        log(`runtime ${this.node} did not stop within ${graceMs} ms; killing it`);
        try {
          this.child.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    }
    await this.#status;
    await this.#reading;
  }
}

async function startRuntimes(
  config: DriverConfig,
  label: string,
  url: string,
  count: number,
): Promise<RuntimeProcess[]> {
  const runtimes: RuntimeProcess[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const node = `${label}-n${i}`;
      const cwd = `${config.work}/${node}`;
      await Deno.mkdir(cwd, { recursive: true });
      const runtime = new RuntimeProcess(
        node,
        `${cwd}.sock`,
        cwd,
        url,
        config.workers,
        config.runtimeFlags,
      );
      runtimes.push(runtime);
      await Deno.writeTextFile(config.pidsFile, `${runtime.pid}\n`, { append: true });
    }
    await Promise.all(runtimes.map((r) => r.ready(90_000)));
    return runtimes;
  } catch (error) {
    await stopRuntimes(runtimes);
    throw error;
  }
}

async function stopRuntimes(runtimes: RuntimeProcess[]): Promise<void> {
  await Promise.all(runtimes.map((r) => r.stop()));
}

function describeRuntimes(runtimes: RuntimeProcess[]): string {
  return runtimes.map((r) => `--- ${r.node} (pid ${r.pid}) stderr:\n${r.stderrTail || "(nothing)"}`)
    .join("\n");
}

// ── Databases ──────────────────────────────────────────────────────────────────────────

async function createDatabase(config: DriverConfig, admin: Sql, name: string): Promise<Sql> {
  await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`/* bench */ CREATE DATABASE ${name}`);
  const sql = connect(config, name, 4);
  if (config.statements) await sql`/* bench */ CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
  return sql;
}

// ── Floor: bare SKIP LOCKED claim loops ────────────────────────────────────────────────

async function measureFloor(
  config: DriverConfig,
  admin: Sql,
  concurrency: number,
  batch: number,
): Promise<ThroughputResult> {
  const db = await createDatabase(config, admin, "bench_floor");
  const workers = connect(config, "bench_floor", concurrency);
  const result: ThroughputResult = {
    id: `floor.c${concurrency}.b${batch}`,
    name: `bare SKIP LOCKED loop, ${concurrency} connection${concurrency === 1 ? "" : "s"}, ${
      batch === 1 ? "1 job" : `≤ ${batch} jobs`
    } per claim`,
    runtimes: 0,
    concurrency,
    batch,
    rounds: [],
    statements: null,
    notify: null,
  };
  try {
    await db.unsafe(`/* bench */
      CREATE TABLE q (id bigserial PRIMARY KEY, kind text NOT NULL, payload text NOT NULL,
        state text NOT NULL DEFAULT 'queued', worker text, started_at bigint, finished_at bigint);
      CREATE INDEX q_ready ON q (id) WHERE state = 'queued'`);
    // Every connection opened before timing.
    await Promise.all(Array.from({ length: concurrency }, () => workers`SELECT 1`));
    const noop = async () => {};
    const loop = async (worker: string) => {
      for (;;) {
        const claimed = await workers`
          UPDATE q SET state = 'running', worker = ${worker}, started_at = ${Date.now()}
          WHERE id IN (SELECT id FROM q WHERE state = 'queued' ORDER BY id LIMIT ${batch}
            FOR UPDATE SKIP LOCKED)
          RETURNING id, kind, payload`;
        if (claimed.length === 0) return;
        for (const _ of claimed) await noop();
        const ids = `{${claimed.map((row) => String(row.id)).join(",")}}`;
        await workers`
          UPDATE q SET state = 'succeeded', finished_at = ${Date.now()}
          WHERE id = ANY(${ids}::bigint[])`;
      }
    };
    const round = async (jobs: number): Promise<Round> => {
      const cpu = new CpuMeter(config, []);
      await cpu.start();
      const t0 = performance.now();
      await db`INSERT INTO q (kind, payload) SELECT 'noop', 'null' FROM generate_series(1, ${jobs})`;
      const t1 = performance.now();
      await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(`w${i + 1}`)));
      const t2 = performance.now();
      const split = await cpu.stop();
      const [span] = await db`/* bench */
        SELECT count(*)::int AS n, min(started_at)::float8 AS first, max(finished_at)::float8 AS last
        FROM q WHERE state = 'succeeded'`;
      await db`/* bench */ TRUNCATE q`;
      if (Number(span?.n) !== jobs) throw new Error(`floor ran ${span?.n} of ${jobs} jobs`);
      return {
        jobs,
        enqueueMs: t1 - t0,
        drainMs: t2 - t1,
        endToEndMs: t2 - t0,
        byNode: {},
        cpu: split,
      };
    };
    await round(config.warmupJobs);
    await resetStatements(config, db);
    for (let r = 0; r < config.rounds; r++) {
      const done = await round(config.jobs);
      result.rounds.push(done);
      log(`${result.name}: ${(done.jobs / done.drainMs * 1000).toFixed(0)} jobs/s`);
    }
    result.statements = await readStatements(config, db);
    return result;
  } finally {
    await workers.end({ timeout: 1 }).catch(() => {});
    await db.end({ timeout: 1 }).catch(() => {});
    await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS bench_floor WITH (FORCE)`).catch(
      () => {},
    );
  }
}

// ── Clusters of `liminal start` processes ─────────────────────────────────────────────

/** Waits until no job of `kind` is queued or running; throws after `deadlineMs`. */
async function untilEmpty(
  sql: Sql,
  kind: string,
  deadlineMs: number,
  describe: () => string,
): Promise<void> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const [row] = await sql`/* bench */
      SELECT count(*)::int AS n FROM liminal.jobs
      WHERE state IN ('queued', 'running', 'scheduled') AND kind = ${kind}`;
    if (Number(row?.n) === 0) return;
    if (performance.now() > until) {
      throw new Error(
        `${row?.n} ${kind} job(s) still queued or running after ${deadlineMs} ms\n${describe()}`,
      );
    }
    await sleep(25);
  }
}

/** How a round hands its jobs over: resolves with how many were enqueued. */
type Enqueue = (jobs: number) => Promise<number>;

async function throughputRound(
  config: DriverConfig,
  sql: Sql,
  enqueue: Enqueue,
  pids: number[],
  describe: () => string,
  jobs: number,
): Promise<Round> {
  const cpu = new CpuMeter(config, pids);
  await cpu.start();
  const wall0 = Date.now();
  const t0 = performance.now();
  const enqueued = await enqueue(jobs);
  const t1 = performance.now();
  if (enqueued !== jobs) throw new Error(`enqueued ${enqueued} of ${jobs} jobs`);
  await untilEmpty(sql, "noop", 60_000 + jobs * 5, describe);
  const split = await cpu.stop();
  const rows = await sql`/* bench */
    SELECT j.node_id, count(*)::int AS n, min(a.started_at)::float8 AS first,
      max(j.finished_at)::float8 AS last, count(*) FILTER (WHERE j.state <> 'succeeded')::int AS bad
    FROM liminal.jobs j JOIN liminal.job_attempts a ON a.job_id = j.id
    WHERE j.kind = 'noop' AND j.created_at >= ${wall0}
    GROUP BY j.node_id`;
  const byNode: Record<string, number> = {};
  let n = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const row of rows) {
    byNode[String(row.node_id)] = Number(row.n);
    n += Number(row.n);
    first = Math.min(first, Number(row.first));
    last = Math.max(last, Number(row.last));
    if (Number(row.bad) > 0) throw new Error(`${row.bad} job(s) did not succeed on ${row.node_id}`);
  }
  if (n !== jobs) throw new Error(`${n} attempts for ${jobs} jobs (a job ran twice, or not)`);
  return {
    jobs,
    enqueueMs: t1 - t0,
    drainMs: Math.max(1, last - first),
    endToEndMs: Math.max(1, last - wall0),
    byNode,
    cpu: split,
  };
}

/** Probes at a fixed rate by one path; returns the latency run. */
async function latencyRun(
  config: DriverConfig,
  sql: Sql,
  runtimes: RuntimeProcess[],
  path: "socket" | "database",
  url: string,
  notify: NotifyCounter,
): Promise<LatencyResult> {
  const total = config.latencyJobs;
  const rate = config.latencyRate;
  let producer: PostgresStore | null = null;
  if (path === "database") {
    producer = new PostgresStore({ url, nodeId: "bench-producer", maxConnections: 2 });
    await producer.open();
  }
  try {
    let sent = new Map<string, { t0: number; call: number; late: number }>();
    const failures: string[] = [];
    const fire = async (i: number, due: number) => {
      const t0 = hrNow();
      const late = performance.now() - due;
      try {
        let id: string;
        if (producer !== null) {
          const now = Date.now();
          const [job] = newJobRows(1, now, "probe");
          id = job!.id;
          await producer.insert([job!], now);
        } else {
          const client = runtimes[i % runtimes.length]!.client;
          const answer = await client.enqueue({ kind: "probe" });
          id = answer.jobs[0]!.id;
        }
        sent.set(id, { t0, call: hrNow() - t0, late });
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    };
    /** `total` probes at `rate`, each at its due time; resolves with the loop's start. */
    const openLoop = async (total: number): Promise<number> => {
      const interval = 1_000 / rate;
      const start = performance.now() + 20;
      const calls: Promise<void>[] = [];
      let i = 0;
      while (i < total) {
        const wait = start + i * interval - performance.now();
        if (wait > 0) await sleep(wait);
        const now = performance.now();
        while (i < total && start + i * interval <= now) {
          calls.push(fire(i, start + i * interval));
          i++;
        }
      }
      await Promise.all(calls);
      if (failures.length > 0) {
        throw new Error(
          `${failures.length} enqueue(s) failed: ${failures.slice(0, 3).join("; ")}`,
        );
      }
      await untilEmpty(sql, "probe", 60_000, () => describeRuntimes(runtimes));
      return start;
    };
    // Warm-up (not counted): every runtime's enqueue path and wake-up path runs first.
    await openLoop(config.latencyWarmup);
    sent = new Map();
    await resetStatements(config, sql);
    notify.reset();
    const wall0 = Date.now();
    const start = await openLoop(total);
    const statements = await readStatements(config, sql);
    const notified = notify.snapshot();
    const rows = await sql`/* bench */
      SELECT id, result, node_id FROM liminal.jobs
      WHERE kind = 'probe' AND state = 'succeeded' AND created_at >= ${wall0}`;
    const toStart: number[] = [];
    const slow: LatencyResult["slowest"] = [];
    const origin = hrNow() - (performance.now() - start);
    for (const row of rows) {
      const probe = sent.get(String(row.id));
      const at = (JSON.parse(String(row.result)) as { at: number }).at;
      if (probe === undefined) continue;
      toStart.push(at - probe.t0);
      slow.push({ sentAtMs: probe.t0 - origin, ms: at - probe.t0, node: String(row.node_id) });
    }
    slow.sort((a, b) => b.ms - a.ms);
    const values = [...sent.values()];
    return {
      runtimes: runtimes.length,
      path,
      ratePerSec: rate,
      jobs: toStart.length,
      sent: sent.size,
      enqueueToStart: latencyOf(toStart),
      enqueueCall: latencyOf(values.map((v) => v.call)),
      lateness: latencyOf(values.map((v) => Math.max(0, v.late))),
      statements,
      notify: notified,
      slowest: slow.slice(0, 10),
      over50ms: toStart.filter((ms) => ms >= 50).length,
    };
  } finally {
    await producer?.close();
  }
}

async function measureCluster(
  config: DriverConfig,
  admin: Sql,
  count: number,
  report: DriverReport,
): Promise<void> {
  const name = `bench_rt${count}`;
  const sql = await createDatabase(config, admin, name);
  const url = urlOf(config, name);
  let runtimes: RuntimeProcess[] = [];
  const notify = new NotifyCounter();
  try {
    runtimes = await startRuntimes(config, `rt${count}`, url, count);
    await notify.start(sql, "liminal_jobs");
    if (config.parts.includes("cluster")) {
      const result: ThroughputResult = {
        id: `cluster.${count}`,
        name: `liminal: ${count} × \`liminal start\``,
        runtimes: count,
        concurrency: count * config.workers,
        batch: config.workers,
        rounds: [],
        statements: null,
        notify: null,
      };
      const enqueue: Enqueue = async (jobs) =>
        (await runtimes[0]!.client.enqueue({ kind: "noop", count: jobs }, { timeoutMs: 120_000 }))
          .jobs.length;
      const pids = runtimes.map((r) => r.pid);
      const describe = () => describeRuntimes(runtimes);
      await throughputRound(config, sql, enqueue, pids, describe, config.warmupJobs);
      await resetStatements(config, sql);
      notify.reset();
      for (let r = 0; r < config.rounds; r++) {
        const round = await throughputRound(config, sql, enqueue, pids, describe, config.jobs);
        result.rounds.push(round);
        log(`${result.name}: ${(round.jobs / round.drainMs * 1000).toFixed(0)} jobs/s`);
      }
      result.statements = await readStatements(config, sql);
      result.notify = notify.snapshot();
      report.clusters.push(result);
    }
    if (config.parts.includes("latency")) {
      for (const path of ["socket", "database"] as const) {
        const run = await latencyRun(config, sql, runtimes, path, url, notify);
        log(
          `latency, ${count} runtime(s), ${path}: p50 ${
            run.enqueueToStart.p50.toFixed(2)
          } ms, p99 ${run.enqueueToStart.p99.toFixed(2)} ms`,
        );
        report.latency.push(run);
      }
    }
  } finally {
    await notify.stop();
    await stopRuntimes(runtimes);
    await sql.end({ timeout: 1 }).catch(() => {});
    await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

// ── Executors in this process (client-side counts of the store's verbs) ────────────────

function emptyCounts(): VerbCounts {
  return {
    claimCalls: 0,
    claimRequested: 0,
    claimWon: 0,
    claimMs: 0,
    settleCalls: 0,
    settled: 0,
    settleMs: 0,
    loadReadyCalls: 0,
    loadReadyRows: 0,
    loadReadyMs: 0,
  };
}

/** The store, counting what the executor asks of it (every other member passes through). */
function counted(store: PostgresStore, counts: { current: VerbCounts }): JobStore {
  const time = async <T>(work: Promise<T>, add: (ms: number, value: T) => void): Promise<T> => {
    const t = performance.now();
    const value = await work;
    add(performance.now() - t, value);
    return value;
  };
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const c = counts.current;
      switch (property) {
        case "claim":
          return (requests: Parameters<PostgresStore["claim"]>[0]) =>
            time(target.claim(requests), (ms, claimed) => {
              c.claimCalls++;
              c.claimRequested += requests.length;
              c.claimWon += claimed.filter((x) => x !== null && x !== "busy").length;
              c.claimMs += ms;
            });
        case "settle":
          return (settlements: Parameters<PostgresStore["settle"]>[0]) =>
            time(target.settle(settlements), (ms) => {
              c.settleCalls++;
              c.settled += settlements.length;
              c.settleMs += ms;
            });
        case "loadReady":
          return (level: number, after: number, limit: number) =>
            time(target.loadReady(level, after, limit), (ms, rows) => {
              c.loadReadyCalls++;
              c.loadReadyRows += rows.length;
              c.loadReadyMs += ms;
            });
        default:
          return (value as (...args: unknown[]) => unknown).bind(target);
      }
    },
  }) as unknown as JobStore;
}

async function measureInProcess(
  config: DriverConfig,
  admin: Sql,
  count: number,
): Promise<InProcessResult> {
  const name = `bench_ip${count}`;
  const sql = await createDatabase(config, admin, name);
  const url = urlOf(config, name);
  const counts = { current: emptyCounts() };
  const stores: PostgresStore[] = [];
  const executors: MaintenanceExecutor[] = [];
  const noop = defineJob({ kind: "noop", handler: async () => {} }) as JobKind;
  try {
    for (let i = 1; i <= count; i++) {
      const store = new PostgresStore({ url, nodeId: `ip${count}-n${i}` });
      stores.push(store);
      await store.open();
      executors.push(
        new MaintenanceExecutor({
          store: counted(store, counts),
          kinds: [noop],
          workers: config.workers,
        }),
      );
    }
    await Promise.all(executors.map((e) => e.start()));
    const result: InProcessResult = {
      id: `inproc.${count}`,
      name: `in-process: ${count} executor${count === 1 ? "" : "s"}, a PostgresStore each`,
      runtimes: count,
      concurrency: count * config.workers,
      batch: config.workers,
      rounds: [],
      statements: null,
      notify: null,
      verbs: emptyCounts(),
    };
    const specs = (n: number) => Array.from({ length: n }, () => ({ kind: "noop" }));
    const enqueue: Enqueue = async (jobs) => (await executors[0]!.enqueueMany(specs(jobs))).length;
    const describe = () => `${count} in-process executor(s)`;
    await throughputRound(config, sql, enqueue, [], describe, config.warmupJobs);
    await resetStatements(config, sql);
    counts.current = result.verbs;
    for (let r = 0; r < config.rounds; r++) {
      const round = await throughputRound(config, sql, enqueue, [], describe, config.jobs);
      result.rounds.push(round);
      log(`${result.name}: ${(round.jobs / round.drainMs * 1000).toFixed(0)} jobs/s`);
    }
    counts.current = emptyCounts();
    result.statements = await readStatements(config, sql);
    return result;
  } finally {
    await Promise.all(executors.map((e) => e.stop().catch(() => {})));
    for (const store of stores) await store.close().catch(() => {});
    await sql.end({ timeout: 1 }).catch(() => {});
    await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

// ── Plans (auto_explain) ──────────────────────────────────────────────────────────────

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
};

/** Summarises the `auto_explain` entries of liminal's statements in a server log. */
export function summarisePlans(log: string): PlanSummary[] {
  const entries = log.split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)/).filter((e) =>
    e.includes("duration:") && e.includes("plan:")
  );
  type Seen = { ms: number[]; rows: number[]; shapes: Map<string, PlanScan[][]> };
  const by = new Map<string, Seen>();
  const scan =
    /(Seq Scan|Index Scan|Index Only Scan|Bitmap Index Scan|Bitmap Heap Scan)(?: Backward)?(?: using (\S+))? on (\S+)(?: \w+)?\s+\(cost=[^)]*\) \(actual (?:time=\S+ )?rows=(\d+) loops=(\d+)\)/;
  for (const entry of entries) {
    const text = entry.slice(entry.indexOf("Query Text:"));
    const statement = CLASSES.find(([, re]) => re.test(text))?.[0];
    if (
      statement === undefined ||
      !["claim", "settle", "load ready window", "insert (enqueue)"].includes(statement)
    ) continue;
    const ms = Number(/duration: ([\d.]+) ms/.exec(entry)?.[1]);
    const scans: PlanScan[] = [];
    let top = Number.NaN;
    let last: { scan: PlanScan; loops: number } | null = null;
    for (const line of text.split("\n")) {
      const m = scan.exec(line);
      if (m !== null) {
        const [, type, index, relation, rows, loops] = m;
        const node = index === undefined ? `${type} on ${relation}` : `${type} using ${index}`;
        last = { scan: { node, rows: Number(rows) * Number(loops) }, loops: Number(loops) };
        scans.push(last.scan);
        continue;
      }
      const removed = /Rows Removed by (?:Filter|Index Recheck): (\d+)/.exec(line);
      if (removed !== null && last !== null) last.scan.rows += Number(removed[1]) * last.loops;
      if (Number.isNaN(top)) {
        const first = /\(actual (?:time=\S+ )?rows=(\d+) loops=(\d+)\)/.exec(line);
        if (first !== null) top = Number(first[1]) * Number(first[2]);
      }
    }
    const entryOf: Seen = by.get(statement) ?? { ms: [], rows: [], shapes: new Map() };
    entryOf.ms.push(ms);
    entryOf.rows.push(top);
    const shape = scans.map((s) => s.node).join(" | ");
    entryOf.shapes.set(shape, [...(entryOf.shapes.get(shape) ?? []), scans]);
    by.set(statement, entryOf);
  }
  return [...by.entries()].map(([statement, e]) => {
    const [, runs] = [...e.shapes.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
    return {
      statement,
      executions: e.ms.length,
      medianMs: median(e.ms),
      medianRows: median(e.rows.filter((r) => Number.isFinite(r))),
      scans: runs[0]!.map((s, i) => ({ node: s.node, rows: median(runs.map((r) => r[i]!.rows)) })),
      sharedBy: runs.length,
    };
  });
}

/**
 * One runtime drains one round with `auto_explain` logging every statement's plan (with
 * row counts, without timing): how the server runs the claim and the settle.
 */
async function measurePlans(
  config: DriverConfig,
  admin: Sql,
): Promise<NonNullable<DriverReport["plans"]>> {
  const name = "bench_plans";
  const sql = await createDatabase(config, admin, name);
  let runtimes: RuntimeProcess[] = [];
  const explain = async (on: boolean) => {
    for (
      const [setting, value] of on
        ? [["log_min_duration", "0"], ["log_analyze", "on"], ["log_timing", "off"]]
        : [["log_min_duration", "-1"]]
    ) {
      await admin.unsafe(`/* bench */ ALTER SYSTEM SET auto_explain.${setting} = '${value}'`);
    }
    await admin`/* bench */ SELECT pg_reload_conf()`;
    await sleep(200); // the backends read the configuration at their next command
  };
  try {
    runtimes = await startRuntimes(config, "plans", urlOf(config, name), 1);
    const enqueue: Enqueue = async (jobs) =>
      (await runtimes[0]!.client.enqueue({ kind: "noop", count: jobs }, { timeoutMs: 120_000 }))
        .jobs.length;
    const describe = () => describeRuntimes(runtimes);
    await throughputRound(config, sql, enqueue, [], describe, config.warmupJobs);
    const before = (await Deno.stat(config.logFile)).size;
    await explain(true);
    try {
      await throughputRound(config, sql, enqueue, [], describe, config.jobs);
    } finally {
      await explain(false);
    }
    const log = new TextDecoder().decode((await Deno.readFile(config.logFile)).subarray(before));
    return { jobs: config.jobs, backlog: config.jobs, summaries: summarisePlans(log) };
  } finally {
    await stopRuntimes(runtimes);
    await sql.end({ timeout: 1 }).catch(() => {});
    await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  }
}

// ── Main ───────────────────────────────────────────────────────────────────────────────

// ── Peers: graphile-worker and pg-boss, each in processes of their own ─────────────────

/** The peer queues measured beside liminal (`bench/_pg_peer.ts`). */
export const PEERS = {
  graphile: { name: "graphile-worker", version: "0.18.0", how: "`run()`, `concurrency: N`" },
  "pgboss-batch": {
    name: "pg-boss",
    version: "12.38.1",
    how: "1 fetch loop, batches of N (`batchSize`)",
  },
  "pgboss-loops": {
    name: "pg-boss",
    version: "12.38.1",
    how: "N fetch loops of 1 job (`localConcurrency`)",
  },
} as const;
export type PeerSystem = keyof typeof PEERS;

/** One `bench/_pg_peer.ts` process: a line-per-command conversation over its stdio. */
class PeerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncIterator<string>;
  readonly pid: number;

  constructor(
    readonly node: string,
    system: PeerSystem,
    config: DriverConfig,
    database: string,
  ) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `--config=${ROOT}deno.json`,
        "--allow-env",
        "--allow-net",
        "--allow-read",
        "--allow-sys",
        // node:net asks for write access to connect to a Unix socket.
        `--allow-write=${config.socketDir}`,
        `${BENCH_DIR}_pg_peer.ts`,
        system,
        urlOf(config, database),
        String(config.workers),
        node,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    let buffer = "";
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>({
        transform(chunk, controller) {
          buffer += chunk;
          let i;
          while ((i = buffer.indexOf("\n")) >= 0) {
            controller.enqueue(buffer.slice(0, i));
            buffer = buffer.slice(i + 1);
          }
        },
      }),
    )[Symbol.asyncIterator]();
  }

  async #line(timeoutMs: number): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.node} (pid ${this.pid}) did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const next = await Promise.race([this.#lines.next(), timeout]);
      if (next.done) throw new Error(`${this.node} (pid ${this.pid}) exited`);
      return next.value;
    } finally {
      clearTimeout(timer);
    }
  }

  ready(timeoutMs: number): Promise<string> {
    return this.#line(timeoutMs);
  }

  async ask<T>(command: string, timeoutMs = 120_000): Promise<T> {
    await this.#writer.write(new TextEncoder().encode(`${command}\n`));
    return JSON.parse(await this.#line(timeoutMs)) as T;
  }

  /** Closes its stdin (it stops its worker and exits); SIGKILL after 20 s. */
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 20_000);
    try {
      await this.#child.status;
    } finally {
      clearTimeout(timer);
      await this.#lines.return?.().catch(() => {});
    }
  }
}

interface PeerStats {
  count: number;
  first: number | null;
  last: number;
}

/**
 * `runtimes` processes of a peer on a fresh database, `config.workers` concurrent jobs each;
 * rounds of `config.jobs` no-op jobs added in bulk by the first process, timed from the
 * handlers' own first start → last finish.
 */
async function measurePeer(
  config: DriverConfig,
  admin: Sql,
  system: PeerSystem,
  runtimes: number,
  report: DriverReport,
): Promise<ThroughputResult> {
  const database = `bench_${system.replace("-", "_")}_${runtimes}`;
  const db = await createDatabase(config, admin, database);
  const peer = PEERS[system];
  const result: ThroughputResult = {
    id: `peer.${system}.${runtimes}`,
    name: `${peer.name} ${peer.version}, ${peer.how.replace("N", String(config.workers))}`,
    runtimes,
    concurrency: runtimes * config.workers,
    batch: config.workers,
    rounds: [],
    statements: null,
    notify: null,
  };
  const processes: PeerProcess[] = [];
  try {
    // One after the other: the first installs the schema, which the others then find.
    for (let i = 1; i <= runtimes; i++) {
      const p = new PeerProcess(`${system}-n${i}`, system, config, database);
      processes.push(p);
      await Deno.writeTextFile(config.pidsFile, `${p.pid}\n`, { append: true });
      const line = await p.ready(90_000);
      if (line !== "ready") throw new Error(`${p.node}: expected "ready", got ${line}`);
    }
    const pids = processes.map((p) => p.pid);
    const round = async (jobs: number): Promise<Round> => {
      await Promise.all(processes.map((p) => p.ask("reset")));
      const cpu = new CpuMeter(config, pids);
      await cpu.start();
      const t0 = performance.now();
      const wall0 = hrNow();
      const { ms } = await processes[0]!.ask<{ ms: number }>(`enqueue ${jobs}`);
      const until = performance.now() + 120_000;
      let stats: PeerStats[] = [];
      for (;;) {
        stats = await Promise.all(processes.map((p) => p.ask<PeerStats>("stats")));
        const ran = stats.reduce((n, s) => n + s.count, 0);
        if (ran >= jobs) break;
        if (performance.now() > until) {
          throw new Error(`${result.name}: ${ran} of ${jobs} jobs ran in 120 s`);
        }
        await sleep(20);
      }
      const split = await cpu.stop();
      // Settle: nothing runs twice.
      await sleep(200);
      stats = await Promise.all(processes.map((p) => p.ask<PeerStats>("stats")));
      const ran = stats.reduce((n, s) => n + s.count, 0);
      if (ran !== jobs) throw new Error(`${result.name}: ${ran} runs of ${jobs} jobs`);
      const first = Math.min(...stats.map((s) => s.first ?? Number.POSITIVE_INFINITY));
      const last = Math.max(...stats.map((s) => s.last));
      return {
        jobs,
        enqueueMs: ms,
        drainMs: last - first,
        endToEndMs: last - wall0,
        byNode: Object.fromEntries(stats.map((s, i) => [processes[i]!.node, s.count])),
        cpu: split === null ? null : { ...split, wallMs: performance.now() - t0 },
      };
    };
    await round(config.warmupJobs);
    await resetStatements(config, db);
    for (let r = 0; r < config.rounds; r++) {
      const done = await round(config.jobs);
      result.rounds.push(done);
      log(
        `${result.name}, ${runtimes} process(es): ${
          (done.jobs / done.drainMs * 1000).toFixed(0)
        } jobs/s (${Object.values(done.byNode).join("/")})`,
      );
    }
    result.statements = await readStatements(config, db);
    if (system === "graphile" && config.parts.includes("latency")) {
      // Open loop from the first process, as liminal's latency rows; the probes run anywhere.
      const probe = async (n: number): Promise<number[]> => {
        await processes[0]!.ask(`probe ${n} ${config.latencyRate}`, 300_000);
        const ms: number[] = [];
        const until = performance.now() + 60_000;
        while (ms.length < n && performance.now() < until) {
          for (const p of processes) ms.push(...(await p.ask<{ ms: number[] }>("probes")).ms);
          if (ms.length < n) await sleep(20);
        }
        return ms;
      };
      await probe(config.latencyWarmup);
      const ms = await probe(config.latencyJobs);
      report.peerLatency.push({
        id: result.id,
        name: result.name,
        runtimes,
        jobs: ms.length,
        sent: config.latencyJobs,
        enqueueToStart: latencyOf(ms),
      });
      const l = latencyOf(ms);
      log(
        `${result.name}, ${runtimes} process(es): latency p50 ${l.p50.toFixed(2)} ms, p99 ${
          l.p99.toFixed(2)
        } ms`,
      );
    }
    return result;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await db.end({ timeout: 1 }).catch(() => {});
    await admin.unsafe(`/* bench */ DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(
      () => {},
    );
  }
}

async function main(config: DriverConfig): Promise<DriverReport> {
  const admin = connect(config, "postgres", 1);
  try {
    const [version] = await admin`/* bench */ SELECT version() AS v`;
    const settings: Record<string, string> = {};
    for (
      const name of ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers"]
    ) {
      const [row] = await admin.unsafe(`/* bench */ SHOW ${name}`);
      settings[name] = String(Object.values(row ?? {})[0]);
    }
    const report: DriverReport = {
      server: {
        version: String(version?.v ?? "?").split(" on ")[0]!,
        settings,
        statements: config.statements,
      },
      floor: [],
      clusters: [],
      peers: [],
      peerErrors: {},
      peerLatency: [],
      inProcess: [],
      latency: [],
      plans: null,
    };
    if (config.parts.includes("floor")) {
      for (const runtimes of config.clusters) {
        report.floor.push(await measureFloor(config, admin, runtimes * config.workers, 1));
        report.floor.push(await measureFloor(config, admin, runtimes, config.workers));
      }
    }
    if (config.parts.includes("cluster") || config.parts.includes("latency")) {
      for (const count of config.clusters) await measureCluster(config, admin, count, report);
    }
    if (config.parts.includes("peers")) {
      for (const system of config.peers) {
        for (const count of config.clusters) {
          try {
            report.peers.push(await measurePeer(config, admin, system, count, report));
          } catch (error) {
            const why = (error as Error).message.slice(0, 500);
            log(`${PEERS[system].name}, ${count} process(es): not measured: ${why}`);
            report.peerErrors[`peer.${system}.${count}`] = why;
          }
        }
      }
    }
    if (config.parts.includes("inproc")) {
      for (const count of config.clusters) {
        report.inProcess.push(await measureInProcess(config, admin, count));
      }
    }
    if (config.parts.includes("plans") && config.autoExplain) {
      report.plans = await measurePlans(config, admin);
    }
    return report;
  } finally {
    await admin.end({ timeout: 1 }).catch(() => {});
  }
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    console.error("usage: _pg_driver.ts <config.json> (bench/postgres.ts runs it)");
    Deno.exit(2);
  }
  const config = JSON.parse(await Deno.readTextFile(path)) as DriverConfig;
  const report = await main(config);
  console.log(JSON.stringify(report));
}
