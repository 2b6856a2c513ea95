/**
 * The `postgres` store: jobs in a PostgreSQL database that several runtimes (nodes) share,
 * through the `postgres` package (porsager's client).
 *
 * - Everything lives in one schema (default `liminal`, created when missing), set as the
 *   connections' `search_path`. The numbered migrations in `migrations/` are applied in one
 *   transaction under a transaction-scoped advisory lock, so runtimes starting together do
 *   not race; a schema written by a newer liminal is refused (`STORE_UNAVAILABLE`).
 * - Commit before acknowledge: every verb resolves after its transaction commits; batches
 *   (`insert`, `claim`, `settle`, `promoteDue`) are one transaction each. Progress and log
 *   lines, which no caller waits on, are group-committed within 100 ms, and always before
 *   the next write of this store. Verbs run concurrently on a pool of connections, but their
 *   promises resolve in call order, as they would over one connection (a claim made after a
 *   settle never reports back before it).
 * - Queue order: a job takes `nextval('job_seq')` every time it enters `queued`. Writes that
 *   hand out `seq` values take a cluster-wide transaction-scoped advisory lock first and
 *   hold it to their commit (and are serialised within this store), so `seq` values become
 *   visible in increasing order: a reader that has seen `seq` n has seen every queued job
 *   below n, which is what the executor's windows over `loadReady` rely on.
 * - Claims (`claim`) lock the still-queued rows with `FOR UPDATE SKIP LOCKED` in one
 *   statement: two nodes never claim the same job; a job locked or taken by someone else
 *   comes back `null`. `promoteDue` and the liveness sweep skip locked rows the same way, so
 *   no job is promoted or recovered twice.
 * - Unique keys hold across nodes through the partial unique index `jobs_unique_live`
 *   (`INSERT … ON CONFLICT DO NOTHING`, then the live holder is looked up).
 * - Nodes: `open()` registers this runtime in `nodes` and a timer (every `heartbeatInterval`,
 *   real time, cleared by `close()`) beats its heartbeat, requeues the running jobs of nodes
 *   whose heartbeat is older than `nodeTimeout` (attempt closed as `interrupted`,
 *   `interruptions` + 1, their leases released), and re-announces cancellations asked of
 *   this node's jobs. Liveness is judged on the database's clock (`now()`), never on the
 *   nodes' clocks. Jobs record the node that runs them (`jobs.node_id`, and
 *   `job_attempts.node_id`: an attempt's worker reads `<node>/<worker>`).
 * - Wake-ups: `NOTIFY` on `<schema>_jobs` when jobs become queued (insert, requeue, promote,
 *   retry, recovery) or scheduled, when a job stops running (`finished`, with its kind), when
 *   jobs reach a final state (`ended`, with their ids, for waiters on other nodes) and
 *   when leases change; on `<schema>_cancel` when a job running on some node is cancelled.
 *   Each is sent in the transaction of its change (delivered at commit). One `LISTEN`
 *   connection turns them into {@link StoreChange}s for
 *   {@link PostgresStore.onChange} listeners. When that connection comes back after a loss,
 *   listeners get a `ready` (notifications sent meanwhile are gone).
 * - `counts()` groups the whole table, so its result is kept for up to 1 s; a write of this
 *   store drops it at once (other nodes' writes show within that second).
 * - A connection lost while running: the verb fails with `STORE_ERROR` (the executor retries
 *   settle batches with backoff) and the `postgres` package reconnects on the next query.
 *   Settling is idempotent (only the open attempt of a job still running is settled), so a
 *   retried batch whose first commit did happen changes nothing. A claim whose reply was
 *   lost leaves a job running on this node that no worker runs: the liveness timer finds
 *   such jobs (running here, never handed out) on two beats in a row and requeues them.
 *
 * @module
 */
import postgres from "postgres";
import { getLogger } from "@logtape/logtape";
import { formatDuration, parseDuration } from "../../shared/duration.ts";
import type { Duration } from "../../shared/duration.ts";
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import {
  type AttemptError,
  type AttemptOutcome,
  type AttemptRecord,
  FINAL_STATES,
  JOB_STATES,
  type JobLogLine,
  type JobProgress,
  type JobRecord,
  type JobState,
  MAX_LOG_LINES,
  storedJobState,
} from "../../shared/job.ts";
import { PRIORITIES, type Priority, priorityAt, priorityLevel } from "../../shared/priority.ts";
import { VERSION } from "../../shared/version.ts";
import type {
  ClaimBusy,
  ClaimedJob,
  ClaimRequest,
  InsertResult,
  JobCounts,
  JobFilter,
  JobStore,
  LeaseRecord,
  LeaseVictim,
  NewJob,
  NodeInfo,
  PruneOptions,
  ReadyEntry,
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreChange,
  StoreInfo,
} from "../types.ts";
import { type ErrorContext, isUniqueViolation, openError, writeError } from "./_errors.ts";
import { describeTarget, parseConnectionUrl } from "./_url.ts";
import { overlaps } from "../../shared/resource.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";

const log = getLogger(["liminal", "store"]);

/** The first key of every advisory lock liminal takes: "LMNL". */
export const ADVISORY_LOCK_CLASS = 0x4c4d4e4c;

/** Timer functions for the store's own timers (heartbeat, batching, the counts cache). */
export interface StoreTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** A monotonic clock in milliseconds. */
  now(): number;
}

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * Where the database is: `postgres://user[:password]@host[:port]/database`, or through a
   * Unix socket `postgres://user@/database?host=/run/postgresql`. The password never shows
   * in messages or in `info.location`.
   */
  url: string;
  /** The schema holding liminal's tables, created when missing. @default "liminal" */
  schema?: string;
  /** Queued jobs per priority the executor keeps in memory. @default 1024 */
  window?: number;
  /**
   * This runtime's id among the nodes sharing the database. Two live runtimes cannot share
   * one (`CONFLICT`); a runtime restarted with the id of a dead one takes over its jobs.
   * @default "<host>-<pid>-<random>"
   */
  nodeId?: string;
  /** How often this node beats its heartbeat and sweeps for dead nodes. @default "5s" */
  heartbeatInterval?: Duration;
  /**
   * A node whose heartbeat is older than this is dead: its running jobs are requeued.
   * At least twice `heartbeatInterval`. @default "30s"
   */
  nodeTimeout?: Duration;
  /**
   * Connections in the pool (the `LISTEN` connection comes on top). All are opened by
   * `open()`, so a server that cannot give them fails the start, not a later verb.
   * @default 8
   */
  maxConnections?: number;
  /** How long to wait for a connection. @default "10s" (or the URL's `connect_timeout`) */
  connectTimeout?: Duration;
  /**
   * The timers of the store's own heartbeat, batching and cache. For tests that fake the
   * global timers: the store's liveness must follow real time.
   * @default the global `setTimeout`, `clearTimeout` and `performance.now`
   */
  timers?: StoreTimers;
}

type Sql = postgres.Sql<Record<string, never>>;
type Tx = postgres.TransactionSql<Record<string, never>>;
type Row = Record<string, unknown>;

const STATE_INDEX: Readonly<Record<JobState, number>> = Object.fromEntries(
  JOB_STATES.map((state, i) => [state, i]),
) as Record<JobState, number>;

/** Progress and log writes wait at most this long to be group-committed. */
const SIDE_WRITE_DELAY_MS = 100;
/** How long `counts()` keeps its result. */
const COUNTS_TTL_MS = 1_000;
/** Job ids per `ended` notification (a NOTIFY payload holds at most 8,000 bytes). */
const ENDED_IDS_PER_NOTIFY = 150;
/** Rows recovered per statement by the liveness sweep. */
const SWEEP_BATCH = 1_000;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
const NODE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

const GLOBAL_TIMERS: StoreTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/** The columns of a job row a record is built from, with its attempts and logs as JSON. */
const RECORD_COLUMNS = `j.*,
  (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'worker', a.worker,
      'node', a.node_id, 'started_at', a.started_at, 'ended_at', a.ended_at,
      'outcome', a.outcome, 'error', a.error) ORDER BY a.attempt), '[]')
   FROM job_attempts a WHERE a.job_id = j.id) AS attempts_json,
  (SELECT coalesce(json_agg(json_build_object('at', l.at, 'message', l.message) ORDER BY l.line), '[]')
   FROM job_logs l WHERE l.job_id = j.id) AS logs_json`;

/**
 * A {@link JobStore} in a PostgreSQL database shared by several runtimes. See the module doc
 * for how claims, ordering, liveness and wake-ups work.
 *
 * @example
 * ```ts
 * await using store = new PostgresStore({ url: "postgres://liminal@db.internal/jobs" });
 * await store.open();
 * const stop = store.onChange((change) => console.log(change));
 * ```
 */
export class PostgresStore implements JobStore, AsyncDisposable {
  readonly info: StoreInfo;
  readonly windowHint: number;
  /** This runtime's id among the nodes. */
  readonly nodeId: string;
  readonly #schema: string;
  readonly #target: ReturnType<typeof parseConnectionUrl>;
  readonly #ctx: ErrorContext;
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  readonly #maxConnections: number;
  readonly #connectTimeoutS: number;
  readonly #timers: StoreTimers;
  readonly #jobsChannel: string;
  readonly #cancelChannel: string;
  readonly #seqLockKey: number;
  readonly #migrateLockKey: number;
  readonly #leaseLockKey: number;
  #sql: Sql | null = null;
  #opening: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #unlisten: (() => Promise<void>)[] = [];
  #listeners = new Set<(change: StoreChange) => void>();
  /** Changes queued for the next microtask, by key (coalesced). */
  #pendingChanges = new Set<string>();
  /** The levels of the `ready` change about to be emitted ("any": every level). */
  #readyLevels: Set<number> | "any" | null = null;
  /** Writes that hand out `seq` values run one at a time, in call order. */
  #seqChain: Promise<unknown> = Promise.resolve();
  /** The last verb's result: the next one resolves after it. */
  #lastResult: Promise<void> = Promise.resolve();
  #progress = new Map<string, JobProgress>();
  #logs: { id: string; line: JobLogLine }[] = [];
  #sideTimer: unknown;
  #sideFlush: Promise<void> | null = null;
  #counts: { at: number; value: JobCounts } | null = null;
  /** Bumped by every write: a count read across a write is not kept. */
  #writes = 0;
  #beatTimer: unknown;
  #beating: Promise<void> | null = null;
  #beatFailing = false;
  /** Jobs claimed through this store and not settled yet: what this node's workers run. */
  #delivered = new Set<string>();
  #claimsInFlight = 0;
  /** Jobs running here that were never handed out, seen on the last beat. */
  #suspects = new Set<string>();
  /** Cancellations of this node's jobs already announced to listeners. */
  #announcedCancels = new Set<string>();
  /** Jobs of a dead earlier run of this node id, requeued by `open()`. */
  #takenOver = 0;
  /** Self-fencing: after this long without a successful heartbeat (ms), `null`: never. */
  #fenceAfterMs: number | null = null;
  /** When the last successful heartbeat was sent (the store timers' clock). */
  #lastBeatAt = 0;
  #fenceTimer: unknown;
  /** Whether this node fenced itself (its heartbeat is too old): claims are refused. */
  #fenced = false;

  constructor(options: PostgresStoreOptions) {
    if (typeof options?.url !== "string" || options.url.trim() === "") {
      throw new LiminalError("INVALID_ARGUMENT", "the postgres store needs a URL");
    }
    this.#target = parseConnectionUrl(options.url);
    const schema = options.schema ?? "liminal";
    if (!SCHEMA_NAME.test(schema)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid schema "${schema}": use lowercase letters, digits and _ (at most 48, not starting with a digit)`,
      );
    }
    const window = options.window ?? 1024;
    if (!Number.isInteger(window) || window < 1) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid window ${window}: use a whole number of at least 1`,
      );
    }
    const heartbeatMs = parseDuration(options.heartbeatInterval ?? "5s", "heartbeat interval");
    const nodeTimeoutMs = parseDuration(options.nodeTimeout ?? "30s", "node timeout");
    if (heartbeatMs < 10) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid heartbeat interval ${formatDuration(heartbeatMs)}: use at least 10ms`,
      );
    }
    if (nodeTimeoutMs < 2 * heartbeatMs) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid node timeout ${
          formatDuration(nodeTimeoutMs)
        }: use at least twice the heartbeat interval (${formatDuration(heartbeatMs)})`,
      );
    }
    const maxConnections = options.maxConnections ?? 8;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid maxConnections ${maxConnections}: use a whole number of at least 1`,
      );
    }
    const nodeId = options.nodeId ?? defaultNodeId();
    if (!NODE_ID.test(nodeId)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid node id "${nodeId}": use letters, digits and . _ : @ - (at most 128)`,
      );
    }
    const connectTimeoutMs = options.connectTimeout !== undefined
      ? parseDuration(options.connectTimeout, "connect timeout")
      : (this.#target.connectTimeoutSeconds ?? 10) * 1000;
    this.#schema = schema;
    this.#heartbeatMs = heartbeatMs;
    this.#nodeTimeoutMs = nodeTimeoutMs;
    this.#maxConnections = maxConnections;
    this.#connectTimeoutS = Math.max(1, Math.ceil(connectTimeoutMs / 1000));
    this.#timers = options.timers ?? GLOBAL_TIMERS;
    this.#jobsChannel = `${schema}_jobs`;
    this.#cancelChannel = `${schema}_cancel`;
    this.#seqLockKey = hash32(`seq:${schema}`);
    this.#migrateLockKey = hash32(`migrate:${schema}`);
    this.#leaseLockKey = hash32(`leases:${schema}`);
    this.nodeId = nodeId;
    this.windowHint = window;
    this.info = { kind: "postgres", location: this.#target.redacted, durable: true };
    const user = this.#target.user || env("PGUSER") || "(default user)";
    this.#ctx = {
      server: describeTarget(this.#target),
      database: this.#target.database || env("PGDATABASE") || user,
      user,
      schema,
    };
  }

  /** How the other nodes judge this one alive: its heartbeat interval and their timeout. */
  get liveness(): { heartbeatMs: number; nodeTimeoutMs: number } {
    return { heartbeatMs: this.#heartbeatMs, nodeTimeoutMs: this.#nodeTimeoutMs };
  }

  /**
   * Self-fencing: once no heartbeat has succeeded for `ms` (counted from when the last good
   * one was sent), listeners get a `fenced` change (stop every running job) and claims are
   * refused until a heartbeat succeeds again (then `unfenced`). The runtime sets it to
   * `nodeTimeout − killGrace − heartbeat`, so this node's jobs are stopped before another
   * node may take this one for dead and run them again. Call before `open()`.
   */
  fenceAfter(ms: number): void {
    this.#fenceAfterMs = ms;
  }

  /** Whether this node fenced itself (see {@link fenceAfter}). */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.#schema;
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────────

  /**
   * Connects (the whole pool and the `LISTEN` connection), migrates the schema, registers
   * this node and starts its heartbeat. Errors: `STORE_UNAVAILABLE` (unreachable server,
   * wrong credentials, missing database or permission, newer schema), `CONFLICT` (a live
   * node holds this node id).
   */
  open(): Promise<void> {
    if (this.#closing !== null) {
      return Promise.reject(new LiminalError("STORE_ERROR", "the postgres store was closed"));
    }
    this.#opening ??= this.#open().catch((error) => {
      this.#opening = null;
      throw error;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    const t = this.#target;
    const sql = postgres({
      host: t.host,
      port: t.port,
      ...(t.database === "" ? {} : { database: t.database }),
      ...(t.user === "" ? {} : { user: t.user }),
      ...(t.password === "" ? {} : { password: t.password }),
      ...(t.ssl === null ? {} : { ssl: sslOption(t.ssl) }),
      max: this.#maxConnections,
      connect_timeout: this.#connectTimeoutS,
      fetch_types: false,
      onnotice: () => {},
      connection: {
        application_name: t.applicationName ?? "liminal",
        search_path: this.#schema,
        // Batches come as arrays and JSON: a plan made for the values at hand looks jobs up
        // by id, where a generic plan would scan every queued job (measured: a claim of 4
        // read the whole backlog).
        plan_cache_mode: "force_custom_plan",
      },
    }) as unknown as Sql;
    let registered = false;
    let registeredAt = 0;
    try {
      // The whole pool now: each query takes a connection of its own while the others connect.
      await Promise.all(Array.from({ length: this.#maxConnections }, () => sql`SELECT 1`));
      await this.#migrate(sql);
      registeredAt = this.#timers.now();
      await this.#register(sql);
      registered = true;
      for (const channel of [this.#jobsChannel, this.#cancelChannel]) {
        const { unlisten } = await sql.listen(
          channel,
          (payload) => this.#onNotify(channel, payload),
          () => this.#emitReady(),
        );
        this.#unlisten.push(unlisten);
      }
    } catch (error) {
      this.#unlisten = [];
      if (registered) await sql`DELETE FROM nodes WHERE id = ${this.nodeId}`.catch(() => {});
      await sql.end({ timeout: 0 }).catch(() => {});
      throw openError(error, this.#ctx);
    }
    this.#sql = sql;
    this.#beatSucceeded(registeredAt);
    this.#scheduleBeat();
  }

  /**
   * Flushes pending progress and logs, stops the heartbeat, removes this node from `nodes`
   * (its jobs still running, if any, go back to the queue through the other nodes'
   * sweeps), and closes every connection, `LISTEN` included. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#opening?.catch(() => {});
    const sql = this.#sql;
    if (sql === null) return;
    if (this.#beatTimer !== undefined) this.#timers.clearTimeout(this.#beatTimer);
    this.#beatTimer = undefined;
    await this.#beating?.catch(() => {});
    if (this.#fenceTimer !== undefined) this.#timers.clearTimeout(this.#fenceTimer);
    this.#fenceTimer = undefined;
    await this.#flushSideWrites();
    try {
      await sql`DELETE FROM nodes WHERE id = ${this.nodeId}`;
    } catch (error) {
      log.warn("could not unregister node {node}: {error}", {
        node: this.nodeId,
        error: errorMessage(error),
      });
    }
    this.#listeners.clear();
    this.#sql = null;
    const unlisten = this.#unlisten;
    this.#unlisten = [];
    await Promise.all(unlisten.map((u) => u().catch(() => {})));
    // Nothing of ours is in flight now. The short grace matters after a lost connection:
    // `end()` then waits for a close that never comes (porsager/postgres#1097) until the
    // timeout destroys the sockets.
    await sql.end({ timeout: 1 }).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Tells the other nodes this one is shutting down (`nodes.stopping`); it stays alive (and
   * keeps its jobs) until it closes or stops beating.
   */
  async markStopping(): Promise<void> {
    const sql = this.#pool();
    try {
      await sql`UPDATE nodes SET stopping = true WHERE id = ${this.nodeId}`;
    } catch (error) {
      throw writeError(error, "mark the node stopping", this.#ctx);
    }
  }

  /**
   * Subscribes to changes made by other nodes (from `LISTEN`): jobs that became ready or
   * scheduled, and cancellations of jobs running on this node. `ready` is coalesced, and
   * also sent after the `LISTEN` connection comes back (notifications may have been missed
   * meanwhile). Returns the unsubscribe function.
   */
  onChange(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every node that shares the database, oldest first, with its liveness. */
  async nodes(): Promise<NodeInfo[]> {
    const sql = this.#pool();
    let rows: Row[];
    try {
      rows = await sql`
        SELECT n.id, n.host, n.pid, n.version, n.stopping,
          (extract(epoch FROM n.started_at) * 1000)::float8 AS started_ms,
          (extract(epoch FROM n.heartbeat_at) * 1000)::float8 AS heartbeat_ms,
          n.heartbeat_at > now() - ${this.#nodeTimeoutMs}::float8 * interval '1 millisecond' AS alive,
          (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.node_id = n.id)::int AS running
        FROM nodes n ORDER BY n.started_at, n.id`;
    } catch (error) {
      throw writeError(error, "list nodes", this.#ctx);
    }
    return rows.map((row) => ({
      id: String(row.id),
      host: String(row.host),
      pid: Number(row.pid),
      version: String(row.version),
      startedAt: Math.round(Number(row.started_ms)),
      heartbeatAt: Math.round(Number(row.heartbeat_ms)),
      alive: row.alive === true,
      stopping: row.stopping === true,
      running: Number(row.running),
      self: row.id === this.nodeId,
    }));
  }

  // ── Jobs ──────────────────────────────────────────────────────────────────────────────

  insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    return this.#ordered(this.#insert(jobs, now));
  }

  async #insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    if (jobs.length === 0) return [];
    const anyQueued = jobs.some((job) => job.runAt <= now);
    const write = () =>
      this.#write("enqueue", async (tx) => {
        if (anyQueued) await this.#lockSeq(tx);
        const results = await this.#insertRows(tx, jobs, now);
        const earliest = jobs.reduce(
          (min, job, i) =>
            results[i]!.created && results[i]!.state === "scheduled"
              ? Math.min(min, job.runAt)
              : min,
          Number.POSITIVE_INFINITY,
        );
        const levels = new Set<number>();
        for (const r of results) if (r.entry !== null) levels.add(r.entry.level);
        if (levels.size > 0) await this.#notifyReady(tx, levels);
        if (earliest !== Number.POSITIVE_INFINITY) {
          await tx`SELECT pg_notify(${this.#jobsChannel}, ${
            JSON.stringify({ node: this.nodeId, kind: "scheduled", runAt: earliest })
          })`;
        }
        return results;
      });
    return anyQueued ? await this.#sequenced(write) : await write();
  }

  async #insertRows(tx: Tx, jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    const results: (InsertResult | undefined)[] = new Array(jobs.length);
    let pending = jobs.map((job, i) => ({ job, i }));
    for (let round = 0; pending.length > 0; round++) {
      if (round === 5) {
        throw new LiminalError(
          "STORE_ERROR",
          "enqueue failed: unique keys kept changing hands; try again",
        );
      }
      const rows = pending.map(({ job, i }) => ({
        i,
        id: job.id,
        kind: job.kind,
        payload: job.payload,
        priority: priorityLevel(job.priority),
        created_at: roundMs(job.createdAt),
        run_at: roundMs(job.runAt),
        timeout_ms: job.timeoutMs === null ? null : roundMs(job.timeoutMs),
        max_attempts: job.maxAttempts,
        backoff_base_ms: roundMs(job.backoff.baseMs),
        backoff_max_ms: roundMs(job.backoff.maxMs),
        unique_key: job.uniqueKey,
        leases: job.leases.length === 0 ? null : job.leases,
      }));
      const input = JSON.stringify(rows);
      const inserted = await tx`
        INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, ready_at, seq,
          timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms, unique_key, leases, updated_at)
        SELECT x.id, x.kind, x.payload, x.priority,
          CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN 'queued' ELSE 'scheduled' END,
          x.created_at, x.run_at,
          CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN ${roundMs(now)}::bigint END,
          CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN nextval('job_seq') ELSE 0 END,
          x.timeout_ms, x.max_attempts, x.backoff_base_ms, x.backoff_max_ms, x.unique_key, x.leases,
          ${roundMs(now)}::bigint
        FROM jsonb_to_recordset(${input}::text::jsonb) AS x(i int, id text, kind text,
          payload text, priority smallint, created_at bigint, run_at bigint, timeout_ms bigint,
          max_attempts int, backoff_base_ms bigint, backoff_max_ms bigint, unique_key text, leases jsonb)
        ORDER BY x.i
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
          AND state IN ('scheduled', 'queued', 'running') DO NOTHING
        RETURNING id, state, seq, leases, kind, priority`;
      const created = new Map<string, Row>();
      for (const row of inserted) created.set(String(row.id), row);
      const missing: { job: NewJob; i: number }[] = [];
      for (const { job, i } of pending) {
        const row = created.get(job.id);
        if (row === undefined) {
          missing.push({ job, i });
          continue;
        }
        const state = row.state as JobState;
        results[i] = {
          id: job.id,
          created: true,
          state,
          entry: state === "queued"
            ? {
              id: job.id,
              kind: job.kind,
              level: Number(row.priority),
              seq: Number(row.seq),
              readyAt: now,
              leases: job.leases,
            }
            : null,
        };
      }
      if (missing.length === 0) break;
      const keys = [...new Set(missing.map(({ job }) => job.uniqueKey))].filter(
        (k): k is string => k !== null,
      );
      const holders = new Map<string, Row>();
      if (keys.length > 0) {
        const keyList = JSON.stringify(keys);
        for (
          const row of await tx`
          SELECT id, state, unique_key FROM jobs
          WHERE unique_key IN (SELECT jsonb_array_elements_text(${keyList}::text::jsonb))
            AND state IN ('scheduled', 'queued', 'running')`
        ) holders.set(String(row.unique_key), row);
      }
      pending = [];
      for (const { job, i } of missing) {
        const holder = job.uniqueKey === null ? undefined : holders.get(job.uniqueKey);
        if (holder === undefined) {
          // The holder finished between the insert and the look-up (or the id is taken).
          if (job.uniqueKey === null) {
            throw new LiminalError("STORE_ERROR", `enqueue failed: job id ${job.id} exists`);
          }
          pending.push({ job, i });
          continue;
        }
        results[i] = {
          id: String(holder.id),
          created: false,
          state: holder.state as JobState,
          entry: null,
        };
      }
    }
    return results as InsertResult[];
  }

  loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    return this.#ordered(this.#loadReady(level, afterSeq, limit));
  }

  async #loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    const rows = await this.#read("load ready jobs", (sql) =>
      sql`
      SELECT id, kind, priority, seq, ready_at, leases FROM jobs
      WHERE state = 'queued' AND priority = ${level} AND seq > ${roundMs(afterSeq)}::bigint
      ORDER BY seq LIMIT ${Math.max(0, Math.floor(limit))}`);
    return rows.map((row) => ({
      id: String(row.id),
      kind: String(row.kind),
      level: Number(row.priority),
      seq: Number(row.seq),
      readyAt: Number(row.ready_at),
      leases: leasesOf(row.leases),
    }));
  }

  claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null | ClaimBusy)[]> {
    return this.#ordered(this.#claim(requests));
  }

  async #claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null | ClaimBusy)[]> {
    const claimed: (ClaimedJob | null | ClaimBusy)[] = new Array(requests.length).fill(null);
    if (requests.length === 0) return claimed;
    if (this.#fenced) {
      // Another node may take this one for dead at any moment: a job started here now could
      // run twice.
      throw new LiminalError(
        "STORE_UNAVAILABLE",
        `node ${this.nodeId} fenced itself: its heartbeat has not succeeded for ${
          formatDuration(this.#timers.now() - this.#lastBeatAt)
        }; it starts no job until one does`,
      );
    }
    const seen = new Set<string>();
    const unique = requests.filter((r) => !seen.has(r.id) && seen.add(r.id));
    const toRow = (r: ClaimRequest) => ({ id: r.id, worker: r.worker, at: roundMs(r.at) });
    const statement = (q: Sql | Tx, rows: { id: string; worker: string; at: number }[]) =>
      q`
        WITH req AS MATERIALIZED (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
            AS r(id text, worker text, at bigint)
        ), picked AS MATERIALIZED (
          SELECT j.id FROM jobs j
          WHERE j.id = ${anyId(q, rows.map((r) => r.id))} AND j.state = 'queued'
          ORDER BY j.id
          FOR UPDATE SKIP LOCKED
        ), claimed AS (
          UPDATE jobs j SET state = 'running', ready_at = NULL, progress = NULL,
            attempt_count = j.attempt_count + 1, updated_at = r.at, node_id = ${this.nodeId},
            cancel_requested_at = NULL
          FROM req r
          WHERE j.id = r.id AND j.id IN (SELECT id FROM picked)
          RETURNING j.id, j.kind, j.payload, j.priority, j.timeout_ms, j.max_attempts,
            j.backoff_base_ms, j.backoff_max_ms, j.unique_key, j.leases, j.created_at,
            j.attempt_count, j.failures, j.interruptions, r.worker, r.at
        ), opened AS (
          INSERT INTO job_attempts (job_id, attempt, worker, node_id, started_at)
          SELECT id, attempt_count, worker, ${this.nodeId}, at FROM claimed
        )
        SELECT * FROM claimed`;
    const limited = unique.filter((r) =>
      r.kind !== undefined && typeof r.limit === "number" && Number.isFinite(r.limit)
    );
    const busy = new Set<string>();
    this.#claimsInFlight++;
    let result: Row[];
    try {
      if (limited.length === 0) {
        result = await this.#exec("claim", (sql) => statement(sql, unique.map(toRow)));
      } else {
        // Kinds with a concurrency limit: their running jobs are counted across every node
        // under a per-kind advisory lock held to the commit, so two nodes never both take
        // the last slot.
        result = await this.#write("claim", async (tx) => {
          const kinds = [...new Set(limited.map((r) => r.kind!))].sort();
          for (const kind of kinds) {
            await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${
              hash32(`kind:${this.#schema}:${kind}`)
            }::int)`;
          }
          const counts = await tx`
            SELECT kind, count(*)::int AS n FROM jobs
            WHERE state = 'running' AND kind IN ${tx(kinds)} GROUP BY kind`;
          const room = new Map<string, number>();
          for (const r of limited) room.set(r.kind!, r.limit!);
          for (const row of counts) {
            const kind = String(row.kind);
            room.set(kind, (room.get(kind) ?? 0) - Number(row.n));
          }
          const allowed = unique.filter((r) => {
            if (!limited.includes(r)) return true;
            const left = room.get(r.kind!) ?? 0;
            if (left <= 0) {
              busy.add(r.id);
              return false;
            }
            room.set(r.kind!, left - 1);
            return true;
          });
          return allowed.length === 0 ? [] : await statement(tx, allowed.map(toRow));
        });
      }
    } finally {
      this.#claimsInFlight--;
    }
    for (let i = 0; i < requests.length; i++) {
      if (busy.has(requests[i]!.id)) claimed[i] = "busy";
    }
    const byId = new Map<string, Row>();
    for (const row of result) byId.set(String(row.id), row);
    for (let i = 0; i < requests.length; i++) {
      const row = byId.get(requests[i]!.id);
      if (row === undefined) continue;
      byId.delete(requests[i]!.id);
      this.#delivered.add(String(row.id));
      claimed[i] = {
        id: String(row.id),
        kind: String(row.kind),
        payload: String(row.payload),
        priority: priorityAt(Number(row.priority)),
        timeoutMs: row.timeout_ms === null ? null : Number(row.timeout_ms),
        maxAttempts: Number(row.max_attempts),
        backoff: { baseMs: Number(row.backoff_base_ms), maxMs: Number(row.backoff_max_ms) },
        uniqueKey: row.unique_key === null ? null : String(row.unique_key),
        leases: leasesOf(row.leases),
        createdAt: Number(row.created_at),
        attempt: Number(row.attempt_count),
        failures: Number(row.failures),
        interruptions: Number(row.interruptions),
      };
    }
    return claimed;
  }

  settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]> {
    return this.#ordered(this.#settle(settlements));
  }

  async #settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]> {
    if (settlements.length === 0) return [];
    const requeues = settlements.some((s) => s.next === "queued");
    const rows = settlements.map((s, i) => ({
      i,
      id: s.id,
      attempt: s.attempt,
      ended_at: roundMs(s.endedAt),
      outcome: s.outcome,
      error: s.error,
      result: s.result,
      next: s.next,
      run_at: s.next === "scheduled" ? roundMs(s.runAt ?? s.endedAt) : null,
      final: FINAL_STATES.has(s.next as JobState),
    }));
    const ids = settlements.map((s) => s.id);
    // One statement: closes the open attempts and moves the jobs still running that attempt.
    const move = (q: Sql | Tx) =>
      q`
        WITH s AS MATERIALIZED (
          SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
            AS x(i int, id text, attempt int, ended_at bigint, outcome text, error jsonb,
              result text, next text, run_at bigint, final boolean)
        ), closed AS (
          UPDATE job_attempts a SET ended_at = s.ended_at, outcome = s.outcome, error = s.error
          FROM s WHERE a.job_id = s.id AND a.attempt = s.attempt AND a.ended_at IS NULL
            AND a.job_id = ${anyId(q, ids)}
        ), target AS MATERIALIZED (
          SELECT s.*, CASE WHEN s.next = 'queued' THEN nextval('job_seq') END AS new_seq
          FROM s JOIN jobs j ON j.id = s.id
          WHERE j.id = ${anyId(q, ids)} AND j.state = 'running' AND j.attempt_count = s.attempt
          ORDER BY s.i
        ), moved AS (
          UPDATE jobs j SET state = t.next,
            failures = j.failures + CASE WHEN t.outcome IN ('failed', 'timeout') THEN 1 ELSE 0 END,
            interruptions = j.interruptions + CASE WHEN t.outcome = 'interrupted' THEN 1 ELSE 0 END,
            last_error = coalesce(t.error, j.last_error),
            result = coalesce(t.result, j.result),
            run_at = coalesce(t.run_at, j.run_at),
            ready_at = CASE WHEN t.next = 'queued' THEN t.ended_at END,
            seq = coalesce(t.new_seq, j.seq),
            finished_at = CASE WHEN t.final THEN t.ended_at END,
            cancel_requested_at = NULL,
            updated_at = t.ended_at
          FROM target t
          WHERE j.id = t.id AND j.state = 'running' AND j.attempt_count = t.attempt
          RETURNING j.id, j.kind, j.priority, j.seq, j.leases, t.next, t.ended_at, t.final
        )
        SELECT m.*, (SELECT count(pg_notify(${this.#jobsChannel}, json_build_object('node',
            ${this.nodeId}::text, 'kind', 'finished', 'jobKind', k.kind)::text))
          FROM (SELECT DISTINCT kind FROM moved) k) AS notified,
          (SELECT count(pg_notify(${this.#jobsChannel}, json_build_object('node',
            ${this.nodeId}::text, 'kind', 'ended', 'ids', e.ids)::text))
          FROM (SELECT json_agg(f.id) AS ids FROM (
            SELECT id, (row_number() OVER ()) / ${ENDED_IDS_PER_NOTIFY} AS chunk
            FROM moved WHERE final) f GROUP BY f.chunk) e) AS ended
        FROM moved m`;
    const scheduled = settlements.filter((s) => s.next === "scheduled");
    if (!requeues && scheduled.length === 0) {
      // Nothing to number or announce: the statement is its own transaction.
      await this.#exec("settle", (sql) => move(sql));
      for (const s of settlements) {
        this.#delivered.delete(s.id);
        this.#announcedCancels.delete(s.id);
      }
      return [];
    }
    const write = () =>
      this.#write("settle", async (tx) => {
        if (requeues) await this.#lockSeq(tx);
        const moved = await move(tx);
        const requeued: ReadyEntry[] = [];
        for (const row of moved) {
          if (row.next !== "queued") continue;
          requeued.push({
            id: String(row.id),
            kind: String(row.kind),
            level: Number(row.priority),
            seq: Number(row.seq),
            readyAt: Number(row.ended_at),
            leases: leasesOf(row.leases),
          });
        }
        if (requeued.length > 0) await this.#notifyReady(tx);
        if (scheduled.length > 0) {
          const runAt = scheduled.reduce((min, s) => Math.min(min, s.runAt ?? s.endedAt), Infinity);
          await tx`SELECT pg_notify(${this.#jobsChannel}, ${
            JSON.stringify({ node: this.nodeId, kind: "scheduled", runAt })
          })`;
        }
        return requeued.sort((a, b) => a.seq - b.seq);
      });
    const requeued = requeues ? await this.#sequenced(write) : await write();
    for (const s of settlements) {
      this.#delivered.delete(s.id);
      this.#announcedCancels.delete(s.id);
    }
    return requeued;
  }

  async recordProgress(id: string, progress: JobProgress): Promise<void> {
    if (this.#sql === null) return;
    this.#progress.set(id, progress);
    this.#armSideWrites();
  }

  async appendLog(id: string, line: JobLogLine): Promise<void> {
    if (this.#sql === null) return;
    this.#logs.push({ id, line });
    this.#armSideWrites();
  }

  promoteDue(now: number, limit: number): Promise<ReadyEntry[]> {
    return this.#ordered(this.#promoteDue(now, limit));
  }

  async #promoteDue(now: number, limit: number): Promise<ReadyEntry[]> {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    const due = await this.#read("promote due jobs", (sql) =>
      sql`
      SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= ${roundMs(now)}::bigint LIMIT 1`);
    if (due.length === 0) return [];
    return await this.#sequenced(() =>
      this.#write("promote due jobs", async (tx) => {
        await this.#lockSeq(tx);
        const rows = await tx`
          WITH due AS MATERIALIZED (
            SELECT id FROM jobs
            WHERE state = 'scheduled' AND run_at <= ${roundMs(now)}::bigint
            ORDER BY run_at, id LIMIT ${n}
            FOR UPDATE SKIP LOCKED
          ), numbered AS MATERIALIZED (
            SELECT id, nextval('job_seq') AS new_seq FROM due
          )
          UPDATE jobs j SET state = 'queued', ready_at = ${roundMs(now)}::bigint, seq = n.new_seq,
            updated_at = ${roundMs(now)}::bigint
          FROM numbered n WHERE j.id = n.id
          RETURNING j.id, j.kind, j.priority, j.seq, j.leases`;
        if (rows.length > 0) await this.#notifyReady(tx);
        return rows.map((row) => ({
          id: String(row.id),
          kind: String(row.kind),
          level: Number(row.priority),
          seq: Number(row.seq),
          readyAt: now,
          leases: leasesOf(row.leases),
        })).sort((a, b) => a.seq - b.seq);
      })
    );
  }

  nextDueAt(): Promise<number | null> {
    return this.#ordered(this.#nextDueAt());
  }

  async #nextDueAt(): Promise<number | null> {
    const rows = await this.#read("find the next due job", (sql) =>
      sql`
      SELECT run_at FROM jobs WHERE state = 'scheduled' ORDER BY run_at, id LIMIT 1`);
    return rows.length === 0 ? null : Number(rows[0]!.run_at);
  }

  cancel(id: string, at: number): Promise<JobRecord> {
    return this.#ordered(this.#cancel(id, at));
  }

  async #cancel(id: string, at: number): Promise<JobRecord> {
    await this.#write("cancel", async (tx) => {
      const [current] = await tx`SELECT state, node_id FROM jobs WHERE id = ${id} FOR UPDATE`;
      if (current === undefined) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      const state = storedJobState(String(current.state));
      if (state === "scheduled" || state === "queued") {
        await tx`
          UPDATE jobs SET state = 'cancelled', ready_at = NULL, finished_at = ${
          roundMs(at)
        }::bigint,
            updated_at = ${roundMs(at)}::bigint,
            last_error = '{"code":"JOB_CANCELLED","message":"cancelled before it ran"}'::jsonb
          WHERE id = ${id}`;
        await tx`SELECT pg_notify(${this.#jobsChannel}, ${
          JSON.stringify({ node: this.nodeId, kind: "ended", ids: [id] })
        })`;
      } else if (state === "running") {
        await tx`UPDATE jobs SET cancel_requested_at = ${roundMs(at)}::bigint WHERE id = ${id}`;
        await tx`SELECT pg_notify(${this.#cancelChannel}, ${
          JSON.stringify({ id, node: current.node_id ?? null, by: this.nodeId })
        })`;
      } else {
        throw new LiminalError(
          "INVALID_JOB_STATE",
          `job ${id} is ${state}; only scheduled, queued or running jobs can be cancelled`,
        );
      }
    });
    const record = await this.#get(id);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
    return record;
  }

  retry(id: string, at: number): Promise<ReadyEntry> {
    return this.#ordered(this.#retry(id, at));
  }

  async #retry(id: string, at: number): Promise<ReadyEntry> {
    return await this.#sequenced(() =>
      this.#write("retry", async (tx) => {
        await this.#lockSeq(tx);
        const [current] = await tx`
          SELECT state, unique_key FROM jobs WHERE id = ${id} FOR UPDATE`;
        if (current === undefined) {
          throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
        }
        const state = storedJobState(String(current.state));
        if (state !== "dead" && state !== "cancelled") {
          throw new LiminalError(
            "INVALID_JOB_STATE",
            `job ${id} is ${state}; only dead or cancelled jobs can be retried`,
          );
        }
        const key = current.unique_key === null ? null : String(current.unique_key);
        if (key !== null) {
          const [live] = await tx`
            SELECT id FROM jobs WHERE unique_key = ${key}
              AND state IN ('scheduled', 'queued', 'running')`;
          if (live !== undefined) {
            throw new LiminalError(
              "INVALID_JOB_STATE",
              `job ${String(live.id)} already holds unique key "${key}"`,
            );
          }
        }
        let row: Row | undefined;
        try {
          [row] = await tx`
            UPDATE jobs SET state = 'queued', failures = 0, finished_at = NULL,
              ready_at = ${roundMs(at)}::bigint, seq = nextval('job_seq'), updated_at = ${
            roundMs(at)
          }::bigint
            WHERE id = ${id} RETURNING kind, priority, seq, leases`;
        } catch (error) {
          if (isUniqueViolation(error) && key !== null) {
            throw new LiminalError(
              "INVALID_JOB_STATE",
              `another job already holds unique key "${key}"`,
              { cause: error },
            );
          }
          throw error;
        }
        await this.#notifyReady(tx);
        return {
          id,
          kind: String(row!.kind),
          level: Number(row!.priority),
          seq: Number(row!.seq),
          readyAt: at,
          leases: leasesOf(row!.leases),
        };
      })
    );
  }

  /**
   * Requeues the jobs left `running` by nodes that are gone: no heartbeat within the node
   * timeout, or unknown. Jobs running on live nodes (this one included) are left alone.
   * Each open attempt is closed as `interrupted`, `interruptions` + 1, and the leases the
   * jobs held are released. Returns how many (with the jobs of a dead earlier run of this
   * node id, requeued by `open()`).
   */
  recoverInterrupted(at: number): Promise<number> {
    return this.#ordered(this.#recoverInterrupted(at));
  }

  async #recoverInterrupted(at: number): Promise<number> {
    const takenOver = this.#takenOver;
    this.#takenOver = 0;
    return takenOver + await this.#recoverDead(at);
  }

  get(id: string): Promise<JobRecord | null> {
    return this.#ordered(this.#get(id));
  }

  async #get(id: string): Promise<JobRecord | null> {
    const rows = await this.#read("read a job", (sql) =>
      sql`
      SELECT ${sql.unsafe(RECORD_COLUMNS)} FROM jobs j WHERE j.id = ${id}`);
    return rows.length === 0 ? null : recordOf(rows[0]!);
  }

  list(filter: JobFilter = {}): Promise<JobRecord[]> {
    return this.#ordered(this.#list(filter));
  }

  async #list(filter: JobFilter = {}): Promise<JobRecord[]> {
    const limit = Math.max(0, Math.floor(filter.limit ?? 50));
    const rows = await this.#read("list jobs", (sql) =>
      sql`
      SELECT ${sql.unsafe(RECORD_COLUMNS)} FROM jobs j
      WHERE true
        ${filter.state === undefined ? sql`` : sql`AND j.state = ${filter.state}`}
        ${filter.kind === undefined ? sql`` : sql`AND j.kind = ${filter.kind}`}
      ORDER BY j.id DESC LIMIT ${limit}`);
    return rows.map(recordOf);
  }

  /** Counts per state and priority (kept up to 1 s; this store's own writes drop it). */
  counts(): Promise<JobCounts> {
    return this.#ordered(this.#countJobs());
  }

  async #countJobs(): Promise<JobCounts> {
    const now = this.#timers.now();
    if (this.#counts !== null && now - this.#counts.at < COUNTS_TTL_MS) {
      return structuredClone(this.#counts.value);
    }
    const writes = this.#writes;
    const rows = await this.#read("count jobs", (sql) =>
      sql`
      SELECT state, priority, count(*)::int AS n FROM jobs GROUP BY state, priority`);
    const table = JOB_STATES.map(() => PRIORITIES.map(() => 0));
    for (const row of rows) {
      const state = storedJobState(String(row.state));
      if (state in STATE_INDEX) table[STATE_INDEX[state]]![Number(row.priority)]! += Number(row.n);
    }
    const byState = {} as Record<JobState, number>;
    for (const state of JOB_STATES) {
      byState[state] = table[STATE_INDEX[state]]!.reduce((a, b) => a + b, 0);
    }
    const per = (state: JobState) =>
      Object.fromEntries(
        PRIORITIES.map((p, level) => [p, table[STATE_INDEX[state]]![level]!]),
      ) as Record<Priority, number>;
    const value: JobCounts = {
      byState,
      queuedByPriority: per("queued"),
      scheduledByPriority: per("scheduled"),
    };
    if (writes === this.#writes) this.#counts = { at: now, value };
    return structuredClone(value);
  }

  prune(options: PruneOptions): Promise<number> {
    return this.#ordered(this.#prune(options));
  }

  async #prune(options: PruneOptions): Promise<number> {
    const limit = Math.max(0, Math.floor(options.limit ?? 1_000));
    if (limit === 0) return 0;
    return await this.#write("prune", async (tx) => {
      let removed = 0;
      if (options.finishedBefore !== undefined) {
        const rows = await tx`
          DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs
            WHERE finished_at IS NOT NULL AND finished_at < ${
          roundMs(options.finishedBefore)
        }::bigint
            ORDER BY finished_at LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
          RETURNING id`;
        removed += rows.length;
      }
      if (options.keep !== undefined && removed < limit) {
        const [finished] = await tx`
          SELECT count(*)::int AS n FROM jobs WHERE finished_at IS NOT NULL`;
        const excess = Math.min(
          Number(finished?.n ?? 0) - Math.max(0, Math.floor(options.keep)),
          limit - removed,
        );
        if (excess > 0) {
          const rows = await tx`
            DELETE FROM jobs WHERE id IN (
              SELECT id FROM jobs WHERE finished_at IS NOT NULL
              ORDER BY finished_at LIMIT ${excess}
              FOR UPDATE SKIP LOCKED)
            RETURNING id`;
          removed += rows.length;
        }
      }
      return removed;
    });
  }

  // ── Schedules ─────────────────────────────────────────────────────────────────────────

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.#ordered(this.#listSchedules());
  }

  async #listSchedules(): Promise<ScheduleRecord[]> {
    const rows = await this.#read("list schedules", (sql) =>
      sql`
      SELECT * FROM schedules ORDER BY name`);
    return rows.map((row) => ({
      name: String(row.name),
      source: row.source === "api" ? "api" : "module",
      timing: row.timing as ScheduleRecord["timing"],
      job: row.job as ScheduleRecord["job"],
      overlap: row.overlap === "queue" ? "queue" : "skip",
      missed: row.missed === "run-once" ? "run-once" : "skip",
      paused: row.paused === true,
      nextDueAt: numberOrNull(row.next_due_at),
      lastDueAt: numberOrNull(row.last_due_at),
      lastJobId: row.last_job_id === null ? null : String(row.last_job_id),
      lastSkipped: row.last_skipped === null ? null : String(row.last_skipped),
      runs: Number(row.runs),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    }));
  }

  putSchedule(r: ScheduleRecord): Promise<void> {
    return this.#ordered(this.#putSchedule(r));
  }

  async #putSchedule(r: ScheduleRecord): Promise<void> {
    await this.#exec("save schedule", (sql) =>
      sql`
      INSERT INTO schedules (name, source, timing, job, overlap, missed, paused, next_due_at,
        last_due_at, last_job_id, last_skipped, runs, created_at, updated_at)
      VALUES (${r.name}, ${r.source}, ${JSON.stringify(r.timing)}::text::jsonb,
        ${JSON.stringify(r.job)}::text::jsonb, ${r.overlap}, ${r.missed}, ${r.paused},
        ${roundMsOrNull(r.nextDueAt)}::bigint, ${
        roundMsOrNull(r.lastDueAt)
      }::bigint, ${r.lastJobId},
        ${r.lastSkipped}, ${r.runs}, ${roundMs(r.createdAt)}::bigint, ${
        roundMs(r.updatedAt)
      }::bigint)
      ON CONFLICT (name) DO UPDATE SET source = excluded.source, timing = excluded.timing,
        job = excluded.job, overlap = excluded.overlap, missed = excluded.missed,
        paused = excluded.paused, next_due_at = excluded.next_due_at,
        last_due_at = excluded.last_due_at, last_job_id = excluded.last_job_id,
        last_skipped = excluded.last_skipped, runs = excluded.runs, updated_at = excluded.updated_at`);
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.#ordered(this.#deleteSchedule(name));
  }

  async #deleteSchedule(name: string): Promise<boolean> {
    const rows = await this.#exec("remove schedule", (sql) =>
      sql`
      DELETE FROM schedules WHERE name = ${name} RETURNING name`);
    return rows.length > 0;
  }

  recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    return this.#ordered(this.#recordScheduleRun(name, expectedLastDueAt, run));
  }

  async #recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    const rows = await this.#exec("record schedule run", (sql) =>
      sql`
      UPDATE schedules SET last_due_at = ${roundMs(run.lastDueAt)}::bigint,
        next_due_at = ${roundMsOrNull(run.nextDueAt)}::bigint, last_job_id = ${run.lastJobId},
        last_skipped = ${run.lastSkipped}, runs = ${run.runs}, updated_at = ${
        roundMs(run.at)
      }::bigint
      WHERE name = ${name}
        AND last_due_at IS NOT DISTINCT FROM ${roundMsOrNull(expectedLastDueAt)}::bigint
      RETURNING name`);
    return rows.length > 0;
  }

  // ── Leases ────────────────────────────────────────────────────────────────────────────

  listLeases(): Promise<LeaseRecord[]> {
    return this.#ordered(this.#listLeases());
  }

  async #listLeases(): Promise<LeaseRecord[]> {
    const rows = await this.#read("list leases", (sql) =>
      sql`
      SELECT * FROM leases ORDER BY resource`);
    return rows.map((row) => ({
      resource: String(row.resource),
      holder: String(row.holder),
      token: String(row.token),
      priority: priorityAt(Number(row.priority)),
      jobId: row.job_id === null ? null : String(row.job_id),
      acquiredAt: Number(row.acquired_at),
      expiresAt: Number(row.expires_at),
    }));
  }

  swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[] = [],
  ): Promise<boolean> {
    return this.#ordered(this.#swapLease(lease, expectedToken, now, victims));
  }

  async #swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[],
  ): Promise<boolean> {
    // Under one cluster-wide lock: a live lease of someone else on an overlapping resource
    // (`files/*` against `files/a`) refuses the write, as the lease manager would here.
    return await this.#write("lease", async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${this.#leaseLockKey}::int)`;
      const [current] = await tx`
        SELECT token, expires_at FROM leases WHERE resource = ${lease.resource}`;
      if (
        current !== undefined && Number(current.expires_at) > now &&
        String(current.token) !== expectedToken
      ) {
        return false;
      }
      const others = await tx`
        SELECT resource, token FROM leases
        WHERE expires_at > ${roundMs(now)}::bigint AND resource <> ${lease.resource}
          AND holder <> ${lease.holder}`;
      const preempted = new Set(victims.map((v) => `${v.resource}\u0000${v.token}`));
      const blocked = others.some((row) =>
        overlaps(String(row.resource), lease.resource) &&
        !preempted.has(`${row.resource}\u0000${row.token}`)
      );
      if (blocked) return false;
      // The leases it preempts go in the same transaction: nobody ever sees them gone
      // before the new one is there.
      for (const victim of victims) {
        await tx`DELETE FROM leases WHERE resource = ${victim.resource} AND token = ${victim.token}`;
      }
      const rows = await tx`
        INSERT INTO leases (resource, holder, token, priority, job_id, acquired_at, expires_at)
        VALUES (${lease.resource}, ${lease.holder}, ${lease.token}, ${
        priorityLevel(lease.priority)
      },
          ${lease.jobId}, ${roundMs(lease.acquiredAt)}::bigint, ${roundMs(lease.expiresAt)}::bigint)
        ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, token = excluded.token,
          priority = excluded.priority, job_id = excluded.job_id,
          acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
        WHERE leases.expires_at <= ${roundMs(now)}::bigint
          OR leases.token IS NOT DISTINCT FROM ${expectedToken}::text
        RETURNING resource, ${this.#leasesChanged(tx)} AS notified`;
      return rows.length > 0;
    });
  }

  deleteLease(resource: string, token: string): Promise<boolean> {
    return this.#ordered(this.#deleteLease(resource, token));
  }

  async #deleteLease(resource: string, token: string): Promise<boolean> {
    const rows = await this.#exec("release lease", (sql) =>
      sql`
      DELETE FROM leases WHERE resource = ${resource} AND token = ${token}
      RETURNING resource, ${this.#leasesChanged(sql)} AS notified`);
    return rows.length > 0;
  }

  // ── Opening ───────────────────────────────────────────────────────────────────────────

  /** Creates the schema when missing and applies the migrations it lacks, under a lock. */
  async #migrate(sql: Sql): Promise<void> {
    const schema = this.#schema;
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${this.#migrateLockKey}::int)`;
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
          `schema "${schema}" of database "${this.#ctx.database}" holds tables of another application; it was left untouched`,
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
          `schema "${schema}" of database "${this.#ctx.database}" at ${this.#ctx.server} was written by a newer liminal (schema version ${current}; this one knows up to ${SCHEMA_VERSION})`,
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

  /** Registers this node; takes over the jobs of a dead earlier run with the same id. */
  async #register(sql: Sql): Promise<void> {
    const host = hostname();
    await this.#sequenced(() =>
      sql.begin(async (tx) => {
        await this.#lockSeq(tx);
        const [existing] = await tx`
          SELECT host, pid, heartbeat_at > now() - ${this.#nodeTimeoutMs}::float8
              * interval '1 millisecond' AS alive,
            round(extract(epoch FROM now() - heartbeat_at))::int AS silent_s
          FROM nodes WHERE id = ${this.nodeId} FOR UPDATE`;
        if (existing !== undefined && existing.alive === true) {
          throw new LiminalError(
            "CONFLICT",
            `node id "${this.nodeId}" is in use by pid ${existing.pid} on ${existing.host} (heartbeat ${existing.silent_s}s ago)`,
            {
              hint: `stop that runtime, wait ${
                formatDuration(this.#nodeTimeoutMs)
              } for its heartbeat to expire, or use another node id`,
            },
          );
        }
        const taken = await this.#requeueRunning(
          tx,
          tx`j.node_id = ${this.nodeId}`,
          Date.now(),
          "an earlier run of this node stopped while it ran",
        );
        this.#takenOver += taken.length;
        if (taken.length > 0) await this.#notifyReady(tx);
        await tx`
          INSERT INTO nodes (id, host, pid, version) VALUES (${this.nodeId}, ${host}, ${Deno.pid}, ${VERSION})
          ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
            version = excluded.version, started_at = now(), heartbeat_at = now(), stopping = false`;
      })
    );
  }

  // ── Liveness ──────────────────────────────────────────────────────────────────────────

  #scheduleBeat(): void {
    if (this.#sql === null || this.#closing !== null) return;
    this.#beatTimer = this.#timers.setTimeout(() => {
      this.#beatTimer = undefined;
      this.#beating = this.#beat().finally(() => {
        this.#beating = null;
        this.#scheduleBeat();
      });
    }, this.#heartbeatMs);
  }

  /** One heartbeat: beat, sweep dead nodes, re-announce cancels, requeue orphaned claims. */
  async #beat(): Promise<void> {
    try {
      await this.#heartbeat();
      await this.#recoverDead(Date.now());
      await this.#announceCancels();
      await this.#requeueOrphans();
      if (this.#beatFailing) log.info("store: the database answers again");
      this.#beatFailing = false;
    } catch (error) {
      if (!this.#beatFailing) {
        log.warn("store: heartbeat of node {node} failed: {error}", {
          node: this.nodeId,
          error: errorMessage(error),
        });
      }
      this.#beatFailing = true;
    }
  }

  async #heartbeat(): Promise<void> {
    const sql = this.#pool();
    const sentAt = this.#timers.now();
    const rows =
      await sql`UPDATE nodes SET heartbeat_at = now() WHERE id = ${this.nodeId} RETURNING id`;
    if (rows.length > 0) {
      this.#beatSucceeded(sentAt);
      return;
    }
    log.warn(
      "store: node {node} was taken for dead by another node (no heartbeat for {timeout}); its running jobs may run twice",
      { node: this.nodeId, timeout: formatDuration(this.#nodeTimeoutMs) },
    );
    await sql`
      INSERT INTO nodes (id, host, pid, version) VALUES (${this.nodeId}, ${hostname()}, ${Deno.pid}, ${VERSION})
      ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`;
    this.#beatSucceeded(sentAt);
  }

  /** A heartbeat sent at `sentAt` was written: the fence moves on (and is lifted). */
  #beatSucceeded(sentAt: number): void {
    if (sentAt < this.#lastBeatAt) return;
    this.#lastBeatAt = sentAt;
    if (this.#fenced) {
      this.#fenced = false;
      log.info("store: node {node} has its heartbeat again: it takes jobs again", {
        node: this.nodeId,
      });
      this.#emit({ kind: "unfenced" });
    }
    if (this.#fenceAfterMs === null || this.#closing !== null) return;
    if (this.#fenceTimer !== undefined) this.#timers.clearTimeout(this.#fenceTimer);
    const delay = Math.max(0, sentAt + this.#fenceAfterMs - this.#timers.now());
    this.#fenceTimer = this.#timers.setTimeout(() => {
      this.#fenceTimer = undefined;
      if (this.#closing !== null || this.#sql === null) return;
      const silentMs = this.#timers.now() - this.#lastBeatAt;
      this.#fenced = true;
      log.error(
        "store: node {node} has had no heartbeat for {silent}: it stops its running jobs before the other nodes may take it for dead ({timeout}) and starts none until a heartbeat succeeds",
        {
          node: this.nodeId,
          silent: formatDuration(silentMs),
          timeout: formatDuration(this.#nodeTimeoutMs),
        },
      );
      this.#emit({ kind: "fenced", silentMs });
    }, delay);
  }

  /** Requeues the running jobs of dead nodes, batch by batch; drops long-dead node rows. */
  async #recoverDead(at: number): Promise<number> {
    const gone = (q: Sql | Tx) =>
      q`j.node_id IS DISTINCT FROM ${this.nodeId} AND NOT EXISTS (
        SELECT 1 FROM nodes n WHERE n.id = j.node_id
          AND n.heartbeat_at > now() - ${this.#nodeTimeoutMs}::float8 * interval '1 millisecond')`;
    // Most beats find nothing: look first, without the seq lock.
    const any = await this.#read("look for jobs of dead nodes", (sql) =>
      sql`
      SELECT 1 FROM jobs j WHERE j.state = 'running' AND ${gone(sql)} LIMIT 1`);
    let total = 0;
    while (any.length > 0) {
      const batch = await this.#sequenced(() =>
        this.#write("recover jobs of dead nodes", async (tx) => {
          await this.#lockSeq(tx);
          const rows = await this.#requeueRunning(tx, gone(tx), at, null);
          if (rows.length > 0) await this.#notifyReady(tx);
          return rows;
        })
      );
      total += batch.length;
      this.#announceRequeued(batch);
      if (batch.length < SWEEP_BATCH) break;
    }
    if (total > 0) {
      log.warn("store: requeued {count} job(s) left running by nodes that are gone", {
        count: total,
      });
    }
    await this.#pool()`
      DELETE FROM nodes WHERE heartbeat_at < now() - interval '1 hour'
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'running' AND j.node_id = nodes.id)`;
    return total;
  }

  /**
   * Requeues running jobs matching `which` (a condition on `jobs j`), skipping rows others
   * hold: closes their open attempt as interrupted, releases their leases. The caller holds
   * the seq lock.
   */
  async #requeueRunning(
    tx: Tx,
    which: postgres.PendingQuery<postgres.Row[]>,
    at: number,
    message: string | null,
  ): Promise<Row[]> {
    const when = roundMs(at);
    return await tx`
      WITH gone AS MATERIALIZED (
        SELECT j.id, j.node_id, j.attempt_count FROM jobs j
        WHERE j.state = 'running' AND ${which}
        ORDER BY j.id LIMIT ${SWEEP_BATCH}
        FOR UPDATE OF j SKIP LOCKED
      ), numbered AS MATERIALIZED (
        SELECT g.id, g.attempt_count, nextval('job_seq') AS new_seq,
          jsonb_build_object('code', 'JOB_INTERRUPTED', 'message', coalesce(${message}::text,
            'the runtime running it is gone (node ' || coalesce(g.node_id, 'unknown') || ')')) AS error
        FROM gone g
      ), closed AS (
        UPDATE job_attempts a SET ended_at = ${when}::bigint, outcome = 'interrupted', error = n.error
        FROM numbered n
        WHERE a.job_id = n.id AND a.attempt = n.attempt_count AND a.ended_at IS NULL
      ), freed AS (
        DELETE FROM leases l USING numbered n WHERE l.job_id = n.id RETURNING l.resource
      ), moved AS (
        UPDATE jobs j SET state = 'queued', interruptions = j.interruptions + 1,
          ready_at = ${when}::bigint, seq = n.new_seq, updated_at = ${when}::bigint,
          last_error = n.error, cancel_requested_at = NULL
        FROM numbered n WHERE j.id = n.id
        RETURNING j.id, j.kind
      )
      SELECT m.id, m.kind, (SELECT count(pg_notify(${this.#jobsChannel}, json_build_object('node',
          ${this.nodeId}::text, 'kind', 'finished', 'jobKind', k.kind)::text))
        FROM (SELECT DISTINCT kind FROM moved) k) AS finished,
        (SELECT count(pg_notify(${this.#jobsChannel}, json_build_object('node',
          ${this.nodeId}::text, 'kind', 'leases')::text)) FROM freed) AS leases
      FROM moved m`;
  }

  /**
   * Tells this node's listeners what a recovery it made changed (the NOTIFYs it sent reach
   * the other nodes only): jobs ready, leases freed, kinds no longer running.
   */
  #announceRequeued(rows: readonly Row[]): void {
    if (rows.length === 0) return;
    this.#emitReady();
    if (rows.some((row) => Number(row.leases) > 0)) {
      this.#emitCoalesced("leases", { kind: "leases" });
    }
    for (const kind of new Set(rows.map((row) => String(row.kind)))) {
      this.#emitCoalesced(`finished:${kind}`, { kind: "finished", jobKind: kind });
    }
  }

  /** Tells listeners about cancellations of this node's jobs (a missed NOTIFY included). */
  async #announceCancels(): Promise<void> {
    if (this.#listeners.size === 0) return;
    const rows = await this.#pool()`
      SELECT id FROM jobs WHERE state = 'running' AND node_id = ${this.nodeId}
        AND cancel_requested_at IS NOT NULL`;
    for (const row of rows) {
      const id = String(row.id);
      if (this.#announcedCancels.has(id)) continue;
      this.#announcedCancels.add(id);
      this.#emit({ kind: "cancel", id });
    }
  }

  /** Requeues jobs running on this node that no claim of this store handed out. */
  async #requeueOrphans(): Promise<void> {
    if (this.#claimsInFlight > 0) return;
    const rows = await this.#pool()`
      SELECT id FROM jobs WHERE state = 'running' AND node_id = ${this.nodeId}`;
    if (this.#claimsInFlight > 0) return;
    const orphans = new Set<string>();
    for (const row of rows) {
      const id = String(row.id);
      if (!this.#delivered.has(id)) orphans.add(id);
    }
    const confirmed = [...orphans].filter((id) => this.#suspects.has(id));
    this.#suspects = orphans;
    if (confirmed.length === 0) return;
    const ids = JSON.stringify(confirmed);
    const requeued = await this.#sequenced(() =>
      this.#write("requeue lost claims", async (tx) => {
        await this.#lockSeq(tx);
        const rows = await this.#requeueRunning(
          tx,
          tx`j.node_id = ${this.nodeId} AND j.id IN (SELECT jsonb_array_elements_text(${ids}::text::jsonb))`,
          Date.now(),
          "its claim's reply was lost; no worker ran it",
        );
        if (rows.length > 0) await this.#notifyReady(tx);
        return rows;
      })
    );
    for (const id of confirmed) this.#suspects.delete(id);
    if (requeued.length > 0) {
      log.warn("store: requeued {count} job(s) whose claim reply was lost", {
        count: requeued.length,
      });
      this.#announceRequeued(requeued);
    }
  }

  // ── Wake-ups ──────────────────────────────────────────────────────────────────────────

  /** A `pg_notify` announcing changed leases, to put in a `RETURNING` list. */
  #leasesChanged(q: Sql | Tx): postgres.PendingQuery<postgres.Row[]> {
    return q`pg_notify(${this.#jobsChannel}, ${
      JSON.stringify({ node: this.nodeId, kind: "leases" })
    })`;
  }

  /** Tells the others that jobs became queued: at `levels` when given, else at any level. */
  async #notifyReady(tx: Tx, levels?: ReadonlySet<number>): Promise<void> {
    await tx`SELECT pg_notify(${this.#jobsChannel}, ${
      JSON.stringify({
        node: this.nodeId,
        kind: "ready",
        ...(levels === undefined ? {} : { levels: [...levels].sort((a, b) => a - b) }),
      })
    })`;
  }

  #onNotify(channel: string, payload: string): void {
    let message: {
      node?: unknown;
      kind?: unknown;
      runAt?: unknown;
      id?: unknown;
      by?: unknown;
      jobKind?: unknown;
      ids?: unknown;
      levels?: unknown;
    };
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    if (channel === this.#cancelChannel) {
      if (message.node !== this.nodeId || message.by === this.nodeId) return;
      if (typeof message.id !== "string" || this.#announcedCancels.has(message.id)) return;
      // Nobody listens: the next heartbeat announces it to whoever listens then.
      if (this.#listeners.size === 0) return;
      this.#announcedCancels.add(message.id);
      this.#emit({ kind: "cancel", id: message.id });
      return;
    }
    if (message.node === this.nodeId) return;
    if (message.kind === "scheduled" && typeof message.runAt === "number") {
      this.#emit({ kind: "scheduled", runAt: message.runAt });
    } else if (message.kind === "finished" && typeof message.jobKind === "string") {
      this.#emitCoalesced(`finished:${message.jobKind}`, {
        kind: "finished",
        jobKind: message.jobKind,
      });
    } else if (message.kind === "ended" && Array.isArray(message.ids)) {
      const ids = message.ids.filter((id): id is string => typeof id === "string");
      if (ids.length > 0) this.#emit({ kind: "ended", ids });
    } else if (message.kind === "leases") {
      this.#emitCoalesced("leases", { kind: "leases" });
    } else {
      const levels = Array.isArray(message.levels) &&
          message.levels.every((l) => Number.isInteger(l) && l >= 0 && l < PRIORITIES.length)
        ? message.levels as number[]
        : undefined;
      this.#emitReady(levels);
    }
  }

  /**
   * Coalesces `ready` changes: at most one per microtask, for the union of the levels asked
   * for until then (any level as soon as one notification did not say).
   */
  #emitReady(levels?: readonly number[]): void {
    if (this.#listeners.size === 0) return;
    if (levels === undefined) this.#readyLevels = "any";
    else if (this.#readyLevels !== "any") {
      this.#readyLevels ??= new Set();
      for (const level of levels) this.#readyLevels.add(level);
    }
    if (this.#pendingChanges.has("ready")) return;
    this.#pendingChanges.add("ready");
    queueMicrotask(() => {
      this.#pendingChanges.delete("ready");
      const asked = this.#readyLevels;
      this.#readyLevels = null;
      this.#emit(
        asked === "any" || asked === null
          ? { kind: "ready" }
          : { kind: "ready", levels: [...asked].sort((a, b) => a - b) },
      );
    });
  }

  /** Emits `change` once in the next microtask, however often it is asked for until then. */
  #emitCoalesced(key: string, change: StoreChange): void {
    if (this.#pendingChanges.has(key) || this.#listeners.size === 0) return;
    this.#pendingChanges.add(key);
    queueMicrotask(() => {
      this.#pendingChanges.delete(key);
      this.#emit(change);
    });
  }

  #emit(change: StoreChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        log.error("store: a change listener threw: {error}", { error: errorMessage(error) });
      }
    }
  }

  // ── Progress and logs ─────────────────────────────────────────────────────────────────

  #armSideWrites(): void {
    if (this.#sideTimer !== undefined) return;
    this.#sideTimer = this.#timers.setTimeout(() => {
      this.#sideTimer = undefined;
      void this.#flushSideWrites();
    }, SIDE_WRITE_DELAY_MS);
  }

  /** Writes pending progress and log lines in one transaction; failures are logged. */
  #flushSideWrites(): Promise<void> {
    if (this.#sideTimer !== undefined) {
      this.#timers.clearTimeout(this.#sideTimer);
      this.#sideTimer = undefined;
    }
    if (this.#sideFlush !== null) {
      return this.#sideFlush.then(() => this.#flushSideWrites());
    }
    if (this.#progress.size === 0 && this.#logs.length === 0) return Promise.resolve();
    const sql = this.#sql;
    if (sql === null) return Promise.resolve();
    const progress = [...this.#progress].map(([id, p]) => ({ id, p }));
    const logs = this.#logs.map(({ id, line }, i) => ({
      i,
      id,
      at: roundMs(line.at),
      message: line.message,
    }));
    const logged = JSON.stringify([...new Set(logs.map((l) => l.id))]);
    this.#progress = new Map();
    this.#logs = [];
    this.#sideFlush = (async () => {
      try {
        await sql.begin(async (tx) => {
          if (progress.length > 0) {
            // Rows a settle holds are skipped: never wait on (or deadlock with) it.
            await tx`
              UPDATE jobs j SET progress = x.p
              FROM (SELECT * FROM jsonb_to_recordset(${JSON.stringify(progress)}::text::jsonb)
                AS r(id text, p jsonb)) x
              WHERE j.id = x.id AND j.id IN (
                SELECT id FROM jobs WHERE id = x.id AND state = 'running' FOR UPDATE SKIP LOCKED)`;
          }
          if (logs.length > 0) {
            await tx`
              WITH x AS (
                SELECT * FROM jsonb_to_recordset(${JSON.stringify(logs)}::text::jsonb)
                  AS r(i int, id text, at bigint, message text)
                WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = r.id)
              ), base AS (
                SELECT l.job_id, max(l.line) AS top FROM job_logs l
                WHERE l.job_id IN (SELECT id FROM x) GROUP BY l.job_id
              )
              INSERT INTO job_logs (job_id, line, at, message)
              SELECT x.id, coalesce(b.top, 0) + row_number() OVER (PARTITION BY x.id ORDER BY x.i),
                x.at, x.message
              FROM x LEFT JOIN base b ON b.job_id = x.id`;
            await tx`
              DELETE FROM job_logs l USING (
                SELECT job_id, max(line) AS top FROM job_logs
                WHERE job_id IN (SELECT jsonb_array_elements_text(${logged}::text::jsonb))
                GROUP BY job_id) t
              WHERE l.job_id = t.job_id AND l.line <= t.top - ${MAX_LOG_LINES}`;
          }
        });
      } catch (error) {
        log.warn("{count} progress/log write(s) dropped: {error}", {
          count: progress.length + logs.length,
          error: errorMessage(error),
        });
      } finally {
        this.#sideFlush = null;
      }
    })();
    return this.#sideFlush;
  }

  // ── Plumbing ──────────────────────────────────────────────────────────────────────────

  /** Runs `fn` in one transaction after pending progress and logs; maps errors. */
  async #write<T>(what: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const sql = this.#pool();
    if (this.#progress.size > 0 || this.#logs.length > 0 || this.#sideFlush !== null) {
      await this.#flushSideWrites();
    }
    this.#counts = null;
    this.#writes++;
    try {
      return await sql.begin((tx) => fn(tx as unknown as Tx)) as T;
    } catch (error) {
      throw writeError(error, what, this.#ctx);
    } finally {
      this.#counts = null;
      this.#writes++;
    }
  }

  /** Runs one statement (its own transaction) after pending progress and logs; maps errors. */
  async #exec(what: string, fn: (sql: Sql) => Promise<Row[]>): Promise<Row[]> {
    const sql = this.#pool();
    if (this.#progress.size > 0 || this.#logs.length > 0 || this.#sideFlush !== null) {
      await this.#flushSideWrites();
    }
    this.#counts = null;
    this.#writes++;
    try {
      return await fn(sql);
    } catch (error) {
      throw writeError(error, what, this.#ctx);
    } finally {
      this.#counts = null;
      this.#writes++;
    }
  }

  async #read(what: string, fn: (sql: Sql) => Promise<Row[]>): Promise<Row[]> {
    const sql = this.#pool();
    try {
      return await fn(sql);
    } catch (error) {
      throw writeError(error, what, this.#ctx);
    }
  }

  /**
   * Resolves (or rejects) `work` only after every verb called before it did: results come
   * back in call order, as over one connection, though the calls run concurrently on the
   * pool. (The executor emits a job's `succeeded` after its settle resolves and `started`
   * after a claim resolves: a claim made after a settle must not overtake it.)
   */
  #ordered<T>(work: Promise<T>): Promise<T> {
    const before = this.#lastResult;
    const result = work.then(
      (value) => before.then(() => value),
      (error) => before.then(() => Promise.reject(error)),
    );
    this.#lastResult = result.then(() => {}, () => {});
    return result;
  }

  /** Runs writes that hand out `seq` values one at a time, in call order. */
  #sequenced<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#seqChain.then(fn, fn);
    this.#seqChain = run.catch(() => {});
    return run;
  }

  /** Holds the cluster-wide `seq` lock until the transaction ends. */
  async #lockSeq(tx: Tx): Promise<void> {
    await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${this.#seqLockKey}::int)`;
  }

  #pool(): Sql {
    if (this.#sql === null) {
      throw new LiminalError(
        "STORE_ERROR",
        `the postgres store ${this.info.location} is not open`,
      );
    }
    return this.#sql;
  }
}

function recordOf(row: Row): JobRecord {
  const attempts = (row.attempts_json as Row[]).map((a): AttemptRecord => ({
    attempt: Number(a.attempt),
    worker: a.node === null ? String(a.worker) : `${String(a.node)}/${String(a.worker)}`,
    startedAt: Number(a.started_at),
    endedAt: numberOrNull(a.ended_at),
    outcome: a.outcome === null ? null : a.outcome as AttemptOutcome,
    error: (a.error ?? null) as AttemptError | null,
  }));
  const logs = (row.logs_json as Row[]).map((l): JobLogLine => ({
    at: Number(l.at),
    message: String(l.message),
  }));
  return {
    id: String(row.id),
    kind: String(row.kind),
    payload: String(row.payload),
    priority: priorityAt(Number(row.priority)),
    timeoutMs: numberOrNull(row.timeout_ms),
    maxAttempts: Number(row.max_attempts),
    backoff: { baseMs: Number(row.backoff_base_ms), maxMs: Number(row.backoff_max_ms) },
    uniqueKey: row.unique_key === null ? null : String(row.unique_key),
    leases: leasesOf(row.leases),
    state: storedJobState(String(row.state)),
    createdAt: Number(row.created_at),
    runAt: Number(row.run_at),
    readyAt: numberOrNull(row.ready_at),
    seq: Number(row.seq),
    attempts,
    failures: Number(row.failures),
    interruptions: Number(row.interruptions),
    progress: (row.progress ?? null) as JobProgress | null,
    logs,
    result: row.result === null ? null : String(row.result),
    lastError: (row.last_error ?? null) as AttemptError | null,
    finishedAt: numberOrNull(row.finished_at),
    updatedAt: Number(row.updated_at),
  };
}

function leasesOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((r): r is string => typeof r === "string") : [];
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** A time or duration as a whole number of milliseconds (the `bigint` columns). */
function roundMs(value: number): number {
  return Math.round(value);
}

function roundMsOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A stable 32-bit signed hash (FNV-1a), the second key of an advisory lock. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
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

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}

function defaultNodeId(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64)}-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
}

/**
 * `ANY(…)` of `ids`, sent as one text parameter and split in SQL: the driver runs without
 * fetched types, so it cannot send an array, and a plan made for this value looks the jobs
 * up by id.
 */
function anyId(q: Sql | Tx, ids: readonly string[]) {
  return q`ANY(string_to_array(${ids.join("\x1f")}::text, chr(31)))`;
}
