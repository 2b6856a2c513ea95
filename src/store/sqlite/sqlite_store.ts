/**
 * The `sqlite` store: jobs in an embedded SQLite database through Deno's built-in
 * `node:sqlite`. The default store of `liminal start` (`.liminal/liminal.db`).
 *
 * - WAL mode; `synchronous` NORMAL (safe against a process crash) or FULL (also against
 *   power loss), chosen with `durability`.
 * - Schema created and upgraded by the numbered migrations in `migrations/`, recorded in
 *   `liminal_migrations`; a database from a newer liminal is refused.
 * - Commit before acknowledge: every verb that changes a job commits its transaction before
 *   its promise resolves; batches (`insert`, `claim`, `settle`) are one transaction each.
 *   Progress and log lines, which no caller waits on, are group-committed every 100 ms.
 * - One owner: an OS lock on `<db>.lock` (see `_lock.ts`); a second runtime gets `CONFLICT`
 *   naming the owner's pid, and a lock left by a dead process is taken over.
 * - The executor keeps only a window of ready jobs in memory and refills it through
 *   `loadReady`, served by the partial index `jobs_ready (priority, seq)`; due jobs are found
 *   through `jobs_due (run_at)` without scanning the table.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import {
  FINAL_STATES,
  type JobLogLine,
  type JobProgress,
  type JobRecord,
  type JobState,
  MAX_LOG_LINES,
  storedJobState,
} from "../../shared/job.ts";
import { priorityLevel } from "../../shared/priority.ts";
import type {
  ClaimedJob,
  ClaimRequest,
  InsertResult,
  JobCounts,
  JobFilter,
  JobStore,
  LeaseRecord,
  LeaseVictim,
  NewJob,
  PruneOptions,
  ReadyEntry,
  Recovery,
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreInfo,
} from "../types.ts";
import { StateCounts } from "../_counts.ts";
import {
  attemptOf,
  claimedJobOf,
  jobRecordOf,
  JSON_TEXT,
  leaseRecordOf,
  logLineOf,
  readyEntryOf,
  type Row,
  scheduleRecordOf,
} from "../_rows.ts";
import {
  assertRetryable,
  cancelAction,
  CANCELLED_BEFORE_RUN,
  countsAsFailure,
  countsAsInterruption,
  DEFAULT_MAX_INTERRUPTIONS,
  jobNotFound,
  recoveryOf,
  uniqueKeyHeld,
} from "../_rules.ts";
import { SideWrites } from "../_side_writes.ts";
import { openError, writeError } from "./_errors.ts";
import { checkStoreFile, createPrivateDatabase, tightenStoreFiles } from "./_files.ts";
import { DatabaseLock } from "./_lock.ts";
import { APPLICATION_ID, checkApplication, ensureDirectory, migrate } from "./_schema.ts";
import { prepare, type Statements } from "./_statements.ts";

export { APPLICATION_ID, migrate };

const log = getLogger(["liminal", "store"]);

/** How durable a commit is. */
export type Durability = "normal" | "full";

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file. Its directory is created (0700) when missing. */
  path: string;
  /**
   * `normal`: SQLite `synchronous=NORMAL`, safe against a process crash (kill -9);
   * `full`: `synchronous=FULL`, also safe against power loss, slower commits.
   * @default "normal"
   */
  durability?: Durability;
  /** Queued jobs per priority the executor keeps in memory. @default 1024 */
  window?: number;
  /** The largest the database may grow, in bytes (`PRAGMA max_page_count`). @default unlimited */
  maxSizeBytes?: number;
  /** How long to wait for a lock held by another program before giving up. @default 2000 */
  busyTimeoutMs?: number;
}

/** A {@link JobStore} in an embedded SQLite database. */
export class SqliteStore implements JobStore {
  readonly info: StoreInfo;
  readonly windowHint: number;
  readonly #path: string;
  readonly #durability: Durability;
  readonly #maxSizeBytes: number | null;
  readonly #busyTimeoutMs: number;
  #db: DatabaseSync | null = null;
  #lock: DatabaseLock | null = null;
  #st: Statements | null = null;
  #seq = 0;
  /** Jobs per state and priority of committed rows. */
  #counts = new StateCounts();
  #sideWrites = new SideWrites(() => this.#flushSideWrites());

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.path !== "string" || options.path === "") {
      throw new LiminalError("INVALID_ARGUMENT", "the sqlite store needs a file path");
    }
    const durability = options.durability ?? "normal";
    if (durability !== "normal" && durability !== "full") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid durability "${durability}"; use normal or full`,
      );
    }
    const window = options.window ?? 1024;
    if (!Number.isInteger(window) || window < 1) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid window ${window}: use a whole number of at least 1`,
      );
    }
    this.#path = options.path;
    this.#durability = durability;
    this.#maxSizeBytes = options.maxSizeBytes ?? null;
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 2_000;
    this.windowHint = window;
    this.info = { kind: "sqlite", location: options.path, durable: true };
  }

  /** The durability chosen. */
  get durability(): Durability {
    return this.#durability;
  }

  async open(): Promise<void> {
    if (this.#db !== null) return;
    await checkStoreFile(this.#path);
    await ensureDirectory(this.#path);
    const lock = await DatabaseLock.acquire(this.#path);
    let db: DatabaseSync | null = null;
    try {
      await createPrivateDatabase(this.#path);
      db = new DatabaseSync(this.#path, { enableForeignKeyConstraints: true });
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(this.#busyTimeoutMs))}`);
      checkApplication(db, this.#path);
      await tightenStoreFiles(this.#path);
      const mode = (db.prepare("PRAGMA journal_mode = WAL").get() as Row | undefined)?.journal_mode;
      if (mode !== "wal") throw new Error(`could not switch to WAL (journal mode ${String(mode)})`);
      db.exec(`PRAGMA synchronous = ${this.#durability === "full" ? "FULL" : "NORMAL"}`);
      if (this.#maxSizeBytes !== null) {
        const pageSize = Number((db.prepare("PRAGMA page_size").get() as Row).page_size);
        db.exec(
          `PRAGMA max_page_count = ${Math.max(1, Math.floor(this.#maxSizeBytes / pageSize))}`,
        );
      }
      migrate(db, this.#path);
      this.#st = prepare(db);
      this.#seq = Number((this.#st.maxSeq.get() as Row).seq);
      this.#counts = StateCounts.fromRows(
        this.#st.countJobs.all() as { state: unknown; priority: unknown; n: unknown }[],
      );
    } catch (error) {
      try {
        db?.close();
      } catch {
        // Already unusable.
      }
      lock.abandon();
      throw openError(error, this.#path);
    }
    this.#db = db;
    this.#lock = lock;
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (db === null) return;
    this.#flushSideWrites();
    try {
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (error) {
      log.warn("WAL checkpoint at close failed: {error}", { error: errorMessage(error) });
    }
    db.close();
    this.#db = null;
    this.#st = null;
    this.#lock?.release();
    this.#lock = null;
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    const st = this.#statements();
    const results: InsertResult[] = new Array(jobs.length);
    let seq = this.#seq;
    const added: [JobState, number][] = [];
    this.#transaction("enqueue", () => {
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i]!;
        if (job.uniqueKey !== null) {
          const live = st.liveByUniqueKey.get(job.uniqueKey) as Row | undefined;
          if (live !== undefined) {
            results[i] = {
              id: String(live.id),
              created: false,
              state: live.state as JobState,
              entry: null,
            };
            continue;
          }
        }
        const queued = job.runAt <= now;
        const level = priorityLevel(job.priority);
        const jobSeq = queued ? ++seq : 0;
        st.insert.run(
          job.id,
          job.kind,
          job.payload,
          level,
          queued ? "queued" : "scheduled",
          job.createdAt,
          job.runAt,
          queued ? now : null,
          jobSeq,
          job.timeoutMs,
          job.maxAttempts,
          job.backoff.baseMs,
          job.backoff.maxMs,
          job.uniqueKey,
          now,
          leasesColumn(job.leases),
        );
        added.push([queued ? "queued" : "scheduled", level]);
        results[i] = {
          id: job.id,
          created: true,
          state: queued ? "queued" : "scheduled",
          entry: queued
            ? { id: job.id, kind: job.kind, level, seq: jobSeq, readyAt: now, leases: job.leases }
            : null,
        };
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const [state, level] of added) this.#counts.add(state, level, 1);
    return results;
  }

  async loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    const rows = this.#statements().loadReady.all(level, afterSeq, limit);
    return rows.map((row) => readyEntryOf(row, JSON_TEXT));
  }

  async claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null)[]> {
    const st = this.#statements();
    const claimed: (ClaimedJob | null)[] = new Array(requests.length).fill(null);
    this.#transaction("claim", () => {
      for (let i = 0; i < requests.length; i++) {
        const request = requests[i]!;
        const row = st.claim.get(request.at, request.id) as Row | undefined;
        if (row === undefined) continue;
        const job = claimedJobOf(row, JSON_TEXT);
        st.openAttempt.run(request.id, job.attempt, request.worker, request.at);
        claimed[i] = job;
      }
    });
    for (const job of claimed) {
      if (job !== null) this.#counts.move("queued", "running", priorityLevel(job.priority));
    }
    return claimed;
  }

  async settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]> {
    const st = this.#statements();
    const requeued: ReadyEntry[] = [];
    const moves: [JobState, number][] = [];
    let seq = this.#seq;
    this.#transaction("settle", () => {
      for (const s of settlements) {
        st.closeAttempt.run(s.endedAt, s.outcome, jsonOrNull(s.error), s.id, s.attempt);
        const final = FINAL_STATES.has(s.next as JobState);
        const jobSeq = s.next === "queued" ? ++seq : null;
        const row = st.settle.get({
          state: s.next,
          failures: countsAsFailure(s.outcome) ? 1 : 0,
          interruptions: countsAsInterruption(s.outcome) ? 1 : 0,
          error: jsonOrNull(s.error),
          result: s.result,
          runAt: s.next === "scheduled" ? (s.runAt ?? s.endedAt) : null,
          readyAt: s.next === "queued" ? s.endedAt : null,
          seq: jobSeq,
          finishedAt: final ? s.endedAt : null,
          at: s.endedAt,
          id: s.id,
          attempt: s.attempt,
        }) as Row | undefined;
        if (row === undefined) continue;
        const level = Number(row.priority);
        moves.push([s.next as JobState, level]);
        if (jobSeq !== null) {
          requeued.push(readyEntryOf(row, JSON_TEXT, { seq: jobSeq, readyAt: s.endedAt }));
        }
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const [state, level] of moves) this.#counts.move("running", state, level);
    return requeued;
  }

  async recordProgress(id: string, progress: JobProgress): Promise<void> {
    if (this.#db !== null) this.#sideWrites.progress(id, progress);
  }

  async appendLog(id: string, line: JobLogLine): Promise<void> {
    if (this.#db !== null) this.#sideWrites.log(id, line);
  }

  async promoteDue(now: number, limit: number): Promise<ReadyEntry[]> {
    const st = this.#statements();
    const promoted: ReadyEntry[] = [];
    let seq = this.#seq;
    this.#transaction("promote", () => {
      for (const due of st.selectDue.all(now, limit)) {
        const id = String(due.id);
        const jobSeq = ++seq;
        const row = st.promote.get(now, jobSeq, now, id) as Row | undefined;
        if (row === undefined) {
          seq--;
          continue;
        }
        promoted.push(readyEntryOf(row, JSON_TEXT, { seq: jobSeq, readyAt: now }));
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const entry of promoted) this.#counts.move("scheduled", "queued", entry.level);
    return promoted;
  }

  async nextDueAt(): Promise<number | null> {
    const row = this.#statements().nextDue.get() as Row | undefined;
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  async cancel(id: string, at: number): Promise<JobRecord> {
    const st = this.#statements();
    let moved: number | null = null;
    let from: JobState | null = null;
    this.#transaction("cancel", () => {
      const current = st.stateOf.get(id) as Row | undefined;
      if (current === undefined) throw jobNotFound(id);
      from = storedJobState(String(current.state));
      if (cancelAction(id, from) === "cancel") {
        const row = st.cancel.get(JSON.stringify(CANCELLED_BEFORE_RUN), at, at, id) as
          | Row
          | undefined;
        if (row !== undefined) moved = Number(row.priority);
      }
    });
    if (moved !== null && from !== null) this.#counts.move(from, "cancelled", moved);
    return (await this.get(id))!;
  }

  async retry(id: string, at: number): Promise<ReadyEntry> {
    const st = this.#statements();
    let entry: ReadyEntry | null = null;
    let from: JobState | null = null;
    let seq = this.#seq;
    this.#transaction("retry", () => {
      const current = st.stateOf.get(id) as Row | undefined;
      if (current === undefined) throw jobNotFound(id);
      from = storedJobState(String(current.state));
      assertRetryable(id, from);
      if (current.unique_key !== null) {
        const live = st.liveByUniqueKey.get(String(current.unique_key)) as Row | undefined;
        if (live !== undefined) throw uniqueKeyHeld(String(live.id), String(current.unique_key));
      }
      const jobSeq = ++seq;
      const row = st.retry.get(at, jobSeq, at, id) as Row;
      entry = readyEntryOf(row, JSON_TEXT, { seq: jobSeq, readyAt: at });
    }, () => (seq = this.#seq));
    this.#seq = seq;
    const done = entry as ReadyEntry | null;
    if (done === null || from === null) {
      throw new LiminalError("STORE_ERROR", `retry of ${id} did not happen`);
    }
    this.#counts.move(from, "queued", done.level);
    return done;
  }

  async recoverInterrupted(
    at: number,
    maxInterruptions: number = DEFAULT_MAX_INTERRUPTIONS,
  ): Promise<Recovery> {
    const st = this.#statements();
    let recovery: Recovery = { queued: 0, dead: [] };
    let moves: [JobState, number][] = [];
    let seq = this.#seq;
    this.#transaction("recover", () => {
      recovery = { queued: 0, dead: [] };
      moves = [];
      for (const row of st.running.all()) {
        const id = String(row.id);
        const attempt = Number(row.attempt_count);
        const { dead, error } = recoveryOf(Number(row.interruptions) + 1, maxInterruptions);
        const errorJson = JSON.stringify(error);
        st.closeAttempt.run(at, "interrupted", errorJson, id, attempt);
        if (dead) {
          st.recoverDead.run(at, at, errorJson, id);
          recovery.dead.push({ id, kind: String(row.kind), attempt, error });
          moves.push(["dead", Number(row.priority)]);
          continue;
        }
        const jobSeq = ++seq;
        st.recover.run(at, jobSeq, at, errorJson, id);
        recovery.queued++;
        moves.push(["queued", Number(row.priority)]);
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const [state, level] of moves) this.#counts.move("running", state, level);
    return recovery;
  }

  async get(id: string): Promise<JobRecord | null> {
    const st = this.#statements();
    const row = st.getJob.get(id) as Row | undefined;
    if (row === undefined) return null;
    return this.#record(row);
  }

  async list(filter: JobFilter = {}): Promise<JobRecord[]> {
    const db = this.#database();
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.state !== undefined) {
      where.push("state = ?");
      params.push(filter.state);
    }
    if (filter.kind !== undefined) {
      where.push("kind = ?");
      params.push(filter.kind);
    }
    const limit = filter.limit ?? 50;
    const sql = `SELECT * FROM jobs ${
      where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""
    } ORDER BY id DESC LIMIT ?`;
    const rows = db.prepare(sql).all(...params, limit);
    return rows.map((row) => this.#record(row));
  }

  async findIdsByTail(tail: string, limit: number): Promise<string[]> {
    if (tail === "" || limit <= 0) return [];
    const rows = this.#database().prepare(
      "SELECT id FROM jobs WHERE substr(id, ?) = ? ORDER BY id DESC LIMIT ?",
    ).all(-tail.length, tail, Math.floor(limit)) as { id: string }[];
    return rows.map((row) => row.id);
  }

  async counts(): Promise<JobCounts> {
    return this.#counts.toJobCounts();
  }

  async prune(options: PruneOptions): Promise<number> {
    const st = this.#statements();
    const limit = Math.max(0, Math.floor(options.limit ?? 1_000));
    const removed: [JobState, number][] = [];
    this.#transaction("prune", () => {
      const victims: Row[] = [];
      if (options.finishedBefore !== undefined) {
        victims.push(...st.pruneOld.all(options.finishedBefore, limit));
      }
      if (options.keep !== undefined && victims.length < limit) {
        const excess = this.#counts.finished() - victims.length - options.keep;
        if (excess > 0) {
          const seen = new Set(victims.map((v) => v.id));
          for (const row of st.pruneOldest.all(Math.min(excess + victims.length, limit))) {
            if (victims.length >= limit) break;
            if (!seen.has(row.id)) victims.push(row);
          }
        }
      }
      for (const row of victims) {
        st.deleteJob.run(String(row.id));
        removed.push([storedJobState(String(row.state)), Number(row.priority)]);
      }
    });
    for (const [state, level] of removed) this.#counts.add(state, level, -1);
    return removed.length;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.#statements().listSchedules.all().map((row) => scheduleRecordOf(row, JSON_TEXT));
  }

  async putSchedule(r: ScheduleRecord): Promise<void> {
    const st = this.#statements();
    this.#transaction("save schedule", () => {
      st.putSchedule.run(
        r.name,
        r.source,
        JSON.stringify(r.timing),
        JSON.stringify(r.job),
        r.overlap,
        r.missed,
        r.paused ? 1 : 0,
        r.nextDueAt,
        r.lastDueAt,
        r.lastJobId,
        r.lastSkipped,
        r.runs,
        r.createdAt,
        r.updatedAt,
      );
    });
  }

  async deleteSchedule(name: string): Promise<boolean> {
    const st = this.#statements();
    let changed = 0;
    this.#transaction("remove schedule", () => {
      changed = Number(st.deleteSchedule.run(name).changes);
    });
    return changed > 0;
  }

  async recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    const st = this.#statements();
    let changed = 0;
    this.#transaction("record schedule run", () => {
      changed = Number(
        st.recordScheduleRun.run(
          run.lastDueAt,
          run.nextDueAt,
          run.lastJobId,
          run.lastSkipped,
          run.runs,
          run.at,
          name,
          expectedLastDueAt,
        ).changes,
      );
    });
    return changed > 0;
  }

  async listLeases(): Promise<LeaseRecord[]> {
    return this.#statements().listLeases.all().map(leaseRecordOf);
  }

  async swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[] = [],
  ): Promise<boolean> {
    const st = this.#statements();
    let changed = 0;
    this.#transaction("lease", () => {
      const current = st.leaseOf.get(lease.resource) as
        | { token: string; expires_at: number }
        | undefined;
      if (current !== undefined && current.expires_at > now && current.token !== expectedToken) {
        return;
      }
      for (const victim of victims) st.deleteLease.run(victim.resource, victim.token);
      changed = Number(
        st.writeLease.run(
          lease.resource,
          lease.holder,
          lease.token,
          priorityLevel(lease.priority),
          lease.jobId,
          lease.acquiredAt,
          lease.expiresAt,
          now,
          expectedToken,
        ).changes,
      );
    });
    return changed > 0;
  }

  async deleteLease(resource: string, token: string): Promise<boolean> {
    const st = this.#statements();
    let changed = 0;
    this.#transaction("release lease", () => {
      changed = Number(st.deleteLease.run(resource, token).changes);
    });
    return changed > 0;
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  #record(row: Row): JobRecord {
    const st = this.#statements();
    const id = String(row.id);
    const attempts = st.getAttempts.all(id).map((a) => attemptOf(a, JSON_TEXT));
    const logs = st.getLogs.all(id).map(logLineOf);
    return jobRecordOf(row, attempts, logs, JSON_TEXT);
  }

  /** Runs `fn` in one write transaction; on failure rolls back, calls `undo` and throws. */
  #transaction(what: string, fn: () => void, undo?: () => void): void {
    const db = this.#database();
    this.#flushSideWrites();
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      undo?.();
      throw writeError(error, what);
    }
    try {
      fn();
      db.exec("COMMIT");
    } catch (error) {
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // The transaction is already gone.
      }
      undo?.();
      throw writeError(error, what);
    }
  }

  /** Writes pending progress and log lines in one transaction; failures are logged. */
  #flushSideWrites(): void {
    if (!this.#sideWrites.pending || this.#db === null || this.#st === null) {
      this.#sideWrites.disarm();
      return;
    }
    const { progress, logs } = this.#sideWrites.take();
    const db = this.#db;
    const st = this.#st;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const [id, p] of progress) st.progress.run(JSON.stringify(p), id);
      for (const { id, line } of logs) {
        st.appendLog.run(line.at, line.message, id);
        st.trimLogs.run(id, id, MAX_LOG_LINES);
      }
      db.exec("COMMIT");
    } catch (error) {
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // Gone already.
      }
      log.warn("{count} progress/log write(s) dropped: {error}", {
        count: progress.size + logs.length,
        error: errorMessage(error),
      });
    }
  }

  #database(): DatabaseSync {
    if (this.#db === null) {
      throw new LiminalError("STORE_ERROR", `the store ${this.#path} is not open`);
    }
    return this.#db;
  }

  #statements(): Statements {
    if (this.#st === null) {
      throw new LiminalError("STORE_ERROR", `the store ${this.#path} is not open`);
    }
    return this.#st;
  }
}

function leasesColumn(leases: readonly string[]): string | null {
  return leases.length === 0 ? null : JSON.stringify(leases);
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
