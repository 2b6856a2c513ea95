/**
 * What every room of the Postgres store shares: the connection pool, the names derived from
 * the schema and node id, and the plumbing every verb goes through.
 *
 * - {@link PostgresState.write} / {@link PostgresState.exec}: a write (one transaction, or
 *   one statement) after pending progress and logs, with errors mapped to `STORE_ERROR`…
 *   and the `counts()` cache dropped.
 * - {@link PostgresState.ordered}: results in call order, as over one connection.
 * - {@link PostgresState.sequenced} and {@link PostgresState.lockSeq}: writes that hand out
 *   `seq` values one at a time, under a cluster-wide advisory lock.
 *
 * @module
 */
import { DEFAULT_MAX_INTERRUPTIONS } from "../_rules.ts";
import type postgres from "postgres";
import { LiminalError } from "../../shared/errors.ts";
import type { JobCounts } from "../types.ts";
import type { Row } from "../_rows.ts";
import { type ErrorContext, writeError } from "./_errors.ts";

/** The pool. */
export type Sql = postgres.Sql<Record<string, never>>;
/** A transaction of the pool. */
export type Tx = postgres.TransactionSql<Record<string, never>>;
/** A SQL fragment (a condition, an expression) to put in a query. */
export type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** The first key of every advisory lock liminal takes: "LMNL". */
export const ADVISORY_LOCK_CLASS = 0x4c4d4e4c;

/** Timer functions for the store's own timers (heartbeat, batching, the counts cache). */
export interface StoreTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** A monotonic clock in milliseconds. */
  now(): number;
}

/** The global timers and `performance.now`. */
export const GLOBAL_TIMERS: StoreTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

/** The fixed settings of one store, resolved by its constructor. */
export interface PostgresSettings {
  nodeId: string;
  schema: string;
  /** The URL without password (`info.location`). */
  location: string;
  ctx: ErrorContext;
  heartbeatMs: number;
  nodeTimeoutMs: number;
  timers: StoreTimers;
}

/** Progress and log writes waiting for their batch (see `_batched_writes.ts`). */
export interface PendingSideWrites {
  readonly pending: boolean;
  flush(): Promise<void>;
}

/** The state and plumbing every room of one Postgres store shares. */
export class PostgresState {
  readonly nodeId: string;
  readonly schema: string;
  readonly location: string;
  readonly ctx: ErrorContext;
  readonly heartbeatMs: number;
  readonly nodeTimeoutMs: number;
  /**
   * Interruptions a job survives before a recovery makes it dead: the runtime's, given to
   * `recoverInterrupted` at its start, kept for the heartbeat's rescues of gone nodes' jobs.
   */
  maxInterruptions: number = DEFAULT_MAX_INTERRUPTIONS;
  readonly timers: StoreTimers;
  /** `NOTIFY` channel of job changes. */
  readonly jobsChannel: string;
  /** `NOTIFY` channel of cancellations of running jobs. */
  readonly cancelChannel: string;
  readonly seqLockKey: number;
  readonly migrateLockKey: number;
  readonly leaseLockKey: number;

  /** The pool while open. */
  sql: Sql | null = null;
  /** Set once `close()` was called. */
  closing = false;
  /** The batch of progress and log writes, flushed before every write. */
  sideWrites: PendingSideWrites | null = null;
  /** The last `counts()` result and when it was read. */
  counts: { at: number; value: JobCounts } | null = null;
  /** Bumped by every write: a count read across a write is not kept. */
  writes = 0;
  /** Jobs claimed through this store and not settled yet: what this node's workers run. */
  readonly delivered = new Set<string>();
  /** Claims under way (the orphan check waits for them). */
  claimsInFlight = 0;

  /** Writes that hand out `seq` values run one at a time, in call order. */
  #seqChain: Promise<unknown> = Promise.resolve();
  /** The last verb's result: the next one resolves after it. */
  #lastResult: Promise<void> = Promise.resolve();

  constructor(settings: PostgresSettings) {
    this.nodeId = settings.nodeId;
    this.schema = settings.schema;
    this.location = settings.location;
    this.ctx = settings.ctx;
    this.heartbeatMs = settings.heartbeatMs;
    this.nodeTimeoutMs = settings.nodeTimeoutMs;
    this.timers = settings.timers;
    this.jobsChannel = `${settings.schema}_jobs`;
    this.cancelChannel = `${settings.schema}_cancel`;
    this.seqLockKey = hash32(`seq:${settings.schema}`);
    this.migrateLockKey = hash32(`migrate:${settings.schema}`);
    this.leaseLockKey = hash32(`leases:${settings.schema}`);
  }

  /** The pool, or `STORE_ERROR` when the store is not open. */
  pool(): Sql {
    if (this.sql === null) {
      throw new LiminalError("STORE_ERROR", `the postgres store ${this.location} is not open`);
    }
    return this.sql;
  }

  /** Runs `fn` in one transaction after pending progress and logs; maps errors. */
  async write<T>(what: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const sql = this.pool();
    // Awaited only when something waits: no extra tick on the common path.
    if (this.sideWrites?.pending) await this.sideWrites.flush();
    this.counts = null;
    this.writes++;
    try {
      return await sql.begin((tx) => fn(tx as unknown as Tx)) as T;
    } catch (error) {
      throw writeError(error, what, this.ctx);
    } finally {
      this.counts = null;
      this.writes++;
    }
  }

  /** Runs one statement (its own transaction) after pending progress and logs; maps errors. */
  async exec(what: string, fn: (sql: Sql) => Promise<Row[]>): Promise<Row[]> {
    const sql = this.pool();
    // Awaited only when something waits: no extra tick on the common path.
    if (this.sideWrites?.pending) await this.sideWrites.flush();
    this.counts = null;
    this.writes++;
    try {
      return await fn(sql);
    } catch (error) {
      throw writeError(error, what, this.ctx);
    } finally {
      this.counts = null;
      this.writes++;
    }
  }

  /** Runs a read; maps errors. */
  async read(what: string, fn: (sql: Sql) => Promise<Row[]>): Promise<Row[]> {
    const sql = this.pool();
    try {
      return await fn(sql);
    } catch (error) {
      throw writeError(error, what, this.ctx);
    }
  }

  /**
   * Resolves (or rejects) `work` only after every verb called before it did: results come
   * back in call order, as over one connection, though the calls run concurrently on the
   * pool. (The executor emits a job's `succeeded` after its settle resolves and `started`
   * after a claim resolves: a claim made after a settle must not overtake it.)
   */
  ordered<T>(work: Promise<T>): Promise<T> {
    const before = this.#lastResult;
    const result = work.then(
      (value) => before.then(() => value),
      (error) => before.then(() => Promise.reject(error)),
    );
    this.#lastResult = result.then(() => {}, () => {});
    return result;
  }

  /** Runs writes that hand out `seq` values one at a time, in call order. */
  sequenced<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#seqChain.then(fn, fn);
    this.#seqChain = run.catch(() => {});
    return run;
  }

  /** Holds the cluster-wide `seq` lock until the transaction ends. */
  async lockSeq(tx: Tx): Promise<void> {
    await lockAdvisory(tx, this.seqLockKey);
  }

  /** A job's claim was settled (or is gone): it is no longer this node's to run. */
  forget(id: string): void {
    this.delivered.delete(id);
  }
}

/** Takes liminal's transaction-scoped advisory lock `key` (held to the commit). */
export async function lockAdvisory(tx: Tx, key: number): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${key}::int)`;
}

/** A stable 32-bit signed hash (FNV-1a), the second key of an advisory lock. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** A time or duration as a whole number of milliseconds (the `bigint` columns). */
export function roundMs(value: number): number {
  return Math.round(value);
}

/** {@link ms}, or `null`. */
export function roundMsOrNull(value: number | null): number | null {
  return value === null ? null : Math.round(value);
}

/**
 * `ANY(…)` of `ids`, sent as one text parameter and split in SQL: the driver runs without
 * fetched types, so it cannot send an array, and a plan made for this value looks the jobs
 * up by id.
 */
export function anyId(q: Sql | Tx, ids: readonly string[]): Fragment {
  return q`ANY(string_to_array(${ids.join("\x1f")}::text, chr(31)))`;
}
