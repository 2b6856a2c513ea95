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
import { formatDuration, parseDuration } from "../../shared/duration.ts";
import type { Duration } from "../../shared/duration.ts";
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import type { JobLogLine, JobProgress, JobRecord } from "../../shared/job.ts";
import { priorityLevel } from "../../shared/priority.ts";
import { overlaps } from "../../shared/resource.ts";
import { getLogger } from "@logtape/logtape";
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
  Recovery,
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreChange,
  StoreInfo,
} from "../types.ts";
import { DEFAULT_MAX_INTERRUPTIONS } from "../_rules.ts";
import { JSON_PARSED, leaseRecordOf, scheduleRecordOf } from "../_rows.ts";
import { BatchedSideWrites } from "./_batched_writes.ts";
import { connect, migrate } from "./_connect.ts";
import { openError, writeError } from "./_errors.ts";
import * as jobs from "./_jobs.ts";
import { hostname, NodeLiveness } from "./_liveness.ts";
import { deleteNode, forgetDeadNode, markNodeStopping, selectNodes } from "./_node_queries.ts";
import { ChangeHub } from "./_notify.ts";
import {
  deleteLeaseQuietly,
  deleteSchedule,
  liveLeasesOfOthers,
  releaseLease,
  selectLease,
  selectLeases,
  selectSchedules,
  updateScheduleRun,
  upsertSchedule,
  writeLease,
} from "./_queries.ts";
import {
  ADVISORY_LOCK_CLASS,
  GLOBAL_TIMERS,
  lockAdvisory,
  PostgresState,
  type StoreTimers,
} from "./_state.ts";
import { describeTarget, parseConnectionUrl } from "./_url.ts";

export { ADVISORY_LOCK_CLASS, type StoreTimers };

const log = getLogger(["liminal", "store"]);

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;
const NODE_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

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

/**
 * A {@link JobStore} in a PostgreSQL database shared by several runtimes. See the module doc
 * for how claims, ordering, liveness and wake-ups work; this class is the face, and each
 * concern has a room of its own: `_state.ts` (the pool and the plumbing every verb goes
 * through), `_jobs.ts` (the job verbs), `_queries.ts` and `_node_queries.ts` (the SQL),
 * `_liveness.ts` (heartbeat, sweep, fencing), `_notify.ts` (LISTEN/NOTIFY),
 * `_batched_writes.ts` (progress and logs), `_connect.ts` (connection and migrations).
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
  readonly #target: ReturnType<typeof parseConnectionUrl>;
  readonly #maxConnections: number;
  readonly #connectTimeoutS: number;
  readonly #state: PostgresState;
  readonly #sideWrites: BatchedSideWrites;
  readonly #hub: ChangeHub;
  readonly #liveness: NodeLiveness;
  #opening: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #unlisten: (() => Promise<void>)[] = [];

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
    this.#maxConnections = maxConnections;
    this.#connectTimeoutS = Math.max(1, Math.ceil(connectTimeoutMs / 1000));
    this.nodeId = nodeId;
    this.windowHint = window;
    this.info = { kind: "postgres", location: this.#target.redacted, durable: true };
    const user = this.#target.user || env("PGUSER") || "(default user)";
    this.#state = new PostgresState({
      nodeId,
      schema,
      location: this.info.location,
      ctx: {
        server: describeTarget(this.#target),
        database: this.#target.database || env("PGDATABASE") || user,
        user,
        schema,
      },
      heartbeatMs,
      nodeTimeoutMs,
      timers: options.timers ?? GLOBAL_TIMERS,
    });
    this.#sideWrites = new BatchedSideWrites(this.#state);
    this.#state.sideWrites = this.#sideWrites;
    this.#hub = new ChangeHub(this.#state);
    this.#liveness = new NodeLiveness(this.#state, this.#hub);
  }

  /** How the other nodes judge this one alive: its heartbeat interval and their timeout. */
  get liveness(): { heartbeatMs: number; nodeTimeoutMs: number } {
    return { heartbeatMs: this.#state.heartbeatMs, nodeTimeoutMs: this.#state.nodeTimeoutMs };
  }

  /**
   * Self-fencing: once no heartbeat has succeeded for `ms` (counted from when the last good
   * one was sent), listeners get a `fenced` change (stop every running job) and claims are
   * refused until a heartbeat succeeds again (then `unfenced`). The runtime sets it to
   * `nodeTimeout − killGrace − heartbeat`, so this node's jobs are stopped before another
   * node may take this one for dead and run them again. Call before `open()`.
   */
  fenceAfter(ms: number): void {
    this.#liveness.fenceAfter(ms);
  }

  /** Whether this node fenced itself (see {@link fenceAfter}). */
  get fenced(): boolean {
    return this.#liveness.fenced;
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.#state.schema;
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
    const state = this.#state;
    const sql = connect(this.#target, {
      schema: state.schema,
      max: this.#maxConnections,
      connectTimeoutS: this.#connectTimeoutS,
    });
    let registered = false;
    let registeredAt = 0;
    try {
      // The whole pool now: each query takes a connection of its own while the others connect.
      await Promise.all(Array.from({ length: this.#maxConnections }, () => sql`SELECT 1`));
      await migrate(sql, state);
      registeredAt = state.timers.now();
      await this.#liveness.register(sql);
      registered = true;
      this.#unlisten = await this.#hub.listen(sql);
    } catch (error) {
      this.#unlisten = [];
      if (registered) await deleteNode(sql, this.nodeId).catch(() => {});
      await sql.end({ timeout: 0 }).catch(() => {});
      throw openError(error, state.ctx);
    }
    state.sql = sql;
    this.#liveness.start(registeredAt);
  }

  /**
   * Flushes pending progress and logs, stops the heartbeat, removes this node from `nodes`
   * (its jobs still running, if any, go back to the queue through the other nodes'
   * sweeps), and closes every connection, `LISTEN` included. Safe to call twice.
   */
  close(): Promise<void> {
    this.#state.closing = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.#opening?.catch(() => {});
    const state = this.#state;
    const sql = state.sql;
    if (sql === null) return;
    await this.#liveness.stop();
    await this.#sideWrites.flush();
    try {
      await deleteNode(sql, this.nodeId);
    } catch (error) {
      log.warn("could not unregister node {node}: {error}", {
        node: this.nodeId,
        error: errorMessage(error),
      });
    }
    this.#hub.clear();
    state.sql = null;
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
    const sql = this.#state.pool();
    try {
      await markNodeStopping(sql, this.nodeId);
    } catch (error) {
      throw writeError(error, "mark the node stopping", this.#state.ctx);
    }
  }

  /**
   * Subscribes to changes made by other nodes (from `LISTEN`): jobs that became ready or
   * scheduled, and cancellations of jobs running on this node. `ready` is coalesced, and
   * also sent after the `LISTEN` connection comes back (notifications may have been missed
   * meanwhile). Returns the unsubscribe function.
   */
  onChange(listener: (change: StoreChange) => void): () => void {
    return this.#hub.subscribe(listener);
  }

  /** Every node that shares the database, oldest first, with its liveness. */
  async nodes(): Promise<NodeInfo[]> {
    const rows = await this.#state.read(
      "list nodes",
      (sql) => selectNodes(sql, this.#state.nodeTimeoutMs),
    );
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

  /**
   * Removes a dead node from the list at once (without waiting for the hour the sweep
   * gives it). Refused (`CONFLICT`) for this node, a node alive (its heartbeat within the
   * node timeout, on the database's clock) and a node that still has running jobs (the
   * sweep rescues them first); `NODE_NOT_FOUND` for an id no node has.
   */
  async forgetNode(id: string): Promise<void> {
    if (id === this.nodeId) {
      throw new LiminalError(
        "CONFLICT",
        `node ${id} is this runtime: it cannot forget itself`,
        { hint: "stop it (liminal stop) and it leaves the list" },
      );
    }
    const [row] = await this.#state.exec(
      `forget node ${id}`,
      (sql) => forgetDeadNode(sql, id, this.#state.nodeTimeoutMs),
    );
    if (row === undefined) {
      throw new LiminalError("NODE_NOT_FOUND", `no node with id ${id}`, {
        hint: "liminal nodes lists them",
      });
    }
    if (row.forgotten === true) return;
    const heartbeat = `last heartbeat ${row.silent_s}s ago, ${
      new Date(Math.round(Number(row.heartbeat_ms))).toISOString()
    }`;
    if (row.alive === true || Number(row.running) === 0) {
      throw new LiminalError(
        "CONFLICT",
        `node ${id} (pid ${row.pid} on ${row.host}) is alive: ${heartbeat}`,
        {
          hint: `a node is dead once silent for ${
            formatDuration(this.#state.nodeTimeoutMs)
          }; stop it first (liminal stop on ${row.host})`,
        },
      );
    }
    throw new LiminalError(
      "CONFLICT",
      `node ${id} still has ${row.running} running job(s) (${heartbeat}): they are rescued first`,
      {
        hint: "the other runtimes requeue them within a heartbeat or two; try again then",
      },
    );
  }

  // ── Jobs (`_jobs.ts`) ─────────────────────────────────────────────────────────────────

  insert(list: readonly NewJob[], now: number): Promise<InsertResult[]> {
    return this.#state.ordered(jobs.insert(this.#state, list, now));
  }

  loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    return this.#state.ordered(jobs.loadReady(this.#state, level, afterSeq, limit));
  }

  claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null | ClaimBusy)[]> {
    return this.#state.ordered(jobs.claim(this.#state, this.#liveness, requests));
  }

  settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]> {
    return this.#state.ordered(jobs.settle(this.#state, this.#hub, settlements));
  }

  async recordProgress(id: string, progress: JobProgress): Promise<void> {
    this.#sideWrites.progress(id, progress);
  }

  async appendLog(id: string, line: JobLogLine): Promise<void> {
    this.#sideWrites.log(id, line);
  }

  promoteDue(now: number, limit: number): Promise<ReadyEntry[]> {
    return this.#state.ordered(jobs.promoteDue(this.#state, now, limit));
  }

  nextDueAt(): Promise<number | null> {
    return this.#state.ordered(jobs.nextDueAt(this.#state));
  }

  cancel(id: string, at: number): Promise<JobRecord> {
    return this.#state.ordered(jobs.cancel(this.#state, id, at));
  }

  retry(id: string, at: number): Promise<ReadyEntry> {
    return this.#state.ordered(jobs.retry(this.#state, id, at));
  }

  /**
   * Requeues the jobs left `running` by nodes that are gone: no heartbeat within the node
   * timeout, or unknown. Jobs running on live nodes (this one included) are left alone.
   * Each open attempt is closed as `interrupted`, `interruptions` + 1, and the leases the
   * jobs held are released; a job interrupted more than `maxInterruptions` times goes to
   * `dead`. Returns how many were queued and which died (with the jobs of a dead earlier run
   * of this node id, taken over by `open()`). `maxInterruptions` is kept for the rescues the
   * heartbeat makes later (reported as `dead` changes).
   */
  recoverInterrupted(
    at: number,
    maxInterruptions: number = DEFAULT_MAX_INTERRUPTIONS,
  ): Promise<Recovery> {
    this.#state.maxInterruptions = maxInterruptions;
    const takenOver = this.#liveness.takeTakenOver();
    return this.#state.ordered(
      this.#liveness.recoverDead(at).then((recovered) => ({
        queued: takenOver.queued + recovered.queued,
        dead: [...takenOver.dead, ...recovered.dead],
      })),
    );
  }

  get(id: string): Promise<JobRecord | null> {
    return this.#state.ordered(jobs.get(this.#state, id));
  }

  list(filter: JobFilter = {}): Promise<JobRecord[]> {
    return this.#state.ordered(jobs.list(this.#state, filter));
  }

  findIdsByTail(tail: string, limit: number): Promise<string[]> {
    return this.#state.ordered(jobs.findIdsByTail(this.#state, tail, limit));
  }

  /** Counts per state and priority (kept up to 1 s; this store's own writes drop it). */
  counts(): Promise<JobCounts> {
    return this.#state.ordered(jobs.counts(this.#state));
  }

  prune(options: PruneOptions): Promise<number> {
    return this.#state.ordered(jobs.prune(this.#state, options));
  }

  // ── Schedules ─────────────────────────────────────────────────────────────────────────

  listSchedules(): Promise<ScheduleRecord[]> {
    return this.#state.ordered(
      this.#state.read("list schedules", selectSchedules).then((rows) =>
        rows.map((row) => scheduleRecordOf(row, JSON_PARSED))
      ),
    );
  }

  putSchedule(r: ScheduleRecord): Promise<void> {
    return this.#state.ordered(
      this.#state.exec("save schedule", (sql) => upsertSchedule(sql, r)).then(() => {}),
    );
  }

  deleteSchedule(name: string): Promise<boolean> {
    return this.#state.ordered(
      this.#state.exec("remove schedule", (sql) => deleteSchedule(sql, name))
        .then((rows) => rows.length > 0),
    );
  }

  recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    return this.#state.ordered(
      this.#state.exec(
        "record schedule run",
        (sql) => updateScheduleRun(sql, name, expectedLastDueAt, run),
      ).then((rows) => rows.length > 0),
    );
  }

  // ── Leases ────────────────────────────────────────────────────────────────────────────

  listLeases(): Promise<LeaseRecord[]> {
    return this.#state.ordered(
      this.#state.read("list leases", selectLeases).then((rows) => rows.map(leaseRecordOf)),
    );
  }

  swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[] = [],
  ): Promise<boolean> {
    return this.#state.ordered(this.#swapLease(lease, expectedToken, now, victims));
  }

  async #swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[],
  ): Promise<boolean> {
    const state = this.#state;
    // Under one cluster-wide lock: a live lease of someone else on an overlapping resource
    // (`files/*` against `files/a`) refuses the write, as the lease manager would here.
    return await state.write("lease", async (tx) => {
      await lockAdvisory(tx, state.leaseLockKey);
      const [current] = await selectLease(tx, lease.resource);
      if (
        current !== undefined && Number(current.expires_at) > now &&
        String(current.token) !== expectedToken
      ) {
        return false;
      }
      const others = await liveLeasesOfOthers(tx, lease, now);
      const preempted = new Set(victims.map((v) => `${v.resource}\u0000${v.token}`));
      const blocked = others.some((row) =>
        overlaps(String(row.resource), lease.resource) &&
        !preempted.has(`${row.resource}\u0000${row.token}`)
      );
      if (blocked) return false;
      // The leases it preempts go in the same transaction: nobody ever sees them gone
      // before the new one is there.
      for (const victim of victims) await deleteLeaseQuietly(tx, victim.resource, victim.token);
      const rows = await writeLease(
        tx,
        state,
        lease,
        priorityLevel(lease.priority),
        expectedToken,
        now,
      );
      return rows.length > 0;
    });
  }

  deleteLease(resource: string, token: string): Promise<boolean> {
    return this.#state.ordered(
      this.#state.exec("release lease", (sql) => releaseLease(sql, this.#state, resource, token))
        .then((rows) => rows.length > 0),
    );
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function defaultNodeId(): string {
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64)}-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
}
