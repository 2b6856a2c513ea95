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
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { getLogger } from "@logtape/logtape";
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
  ScheduleRecord,
  ScheduleRun,
  Settlement,
  StoreInfo,
} from "../types.ts";
import { openError, writeError } from "./_errors.ts";
import { createPrivateDatabase, tightenStoreFiles } from "./_files.ts";
import { DatabaseLock } from "./_lock.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations/mod.ts";

const log = getLogger(["liminal", "store"]);

/** `PRAGMA application_id` of a liminal database: "LMNL". */
export const APPLICATION_ID = 0x4c4d4e4c;

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

const LIVE = ["scheduled", "queued", "running"] as const;
const STATE_INDEX: Readonly<Record<JobState, number>> = Object.fromEntries(
  JOB_STATES.map((state, i) => [state, i]),
) as Record<JobState, number>;

/** Progress and log writes wait at most this long to be group-committed. */
const SIDE_WRITE_DELAY_MS = 100;

type Row = Record<string, unknown>;

interface Statements {
  insert: StatementSync;
  liveByUniqueKey: StatementSync;
  loadReady: StatementSync;
  claim: StatementSync;
  openAttempt: StatementSync;
  closeAttempt: StatementSync;
  settle: StatementSync;
  progress: StatementSync;
  appendLog: StatementSync;
  trimLogs: StatementSync;
  selectDue: StatementSync;
  promote: StatementSync;
  nextDue: StatementSync;
  getJob: StatementSync;
  getAttempts: StatementSync;
  getLogs: StatementSync;
  stateOf: StatementSync;
  cancel: StatementSync;
  retry: StatementSync;
  running: StatementSync;
  recover: StatementSync;
  pruneOld: StatementSync;
  pruneOldest: StatementSync;
  deleteJob: StatementSync;
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
  /** counts[state][level] of committed rows. */
  #counts: number[][] = JOB_STATES.map(() => PRIORITIES.map(() => 0));
  #sideWrites: (() => void)[] = [];
  #sideTimer: ReturnType<typeof setTimeout> | undefined;

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
      this.#seq = Number(
        (db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM jobs").get() as Row).seq,
      );
      this.#counts = JOB_STATES.map(() => PRIORITIES.map(() => 0));
      for (
        const row of db.prepare(
          "SELECT state, priority, COUNT(*) AS n FROM jobs GROUP BY state, priority",
        ).all()
      ) {
        const state = storedJobState(String(row.state));
        if (state in STATE_INDEX) {
          this.#counts[STATE_INDEX[state]]![Number(row.priority)]! += Number(row.n);
        }
      }
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
    for (const [state, level] of added) this.#count(state, level, 1);
    return results;
  }

  async loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    const rows = this.#statements().loadReady.all(level, afterSeq, limit);
    return rows.map((row) => ({
      id: String(row.id),
      kind: String(row.kind),
      level: Number(row.priority),
      seq: Number(row.seq),
      readyAt: Number(row.ready_at),
      leases: parseLeases(row.leases),
    }));
  }

  async claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null)[]> {
    const st = this.#statements();
    const claimed: (ClaimedJob | null)[] = new Array(requests.length).fill(null);
    this.#transaction("claim", () => {
      for (let i = 0; i < requests.length; i++) {
        const request = requests[i]!;
        const row = st.claim.get(request.at, request.id) as Row | undefined;
        if (row === undefined) continue;
        const attempt = Number(row.attempt_count);
        st.openAttempt.run(request.id, attempt, request.worker, request.at);
        claimed[i] = {
          id: request.id,
          kind: String(row.kind),
          payload: String(row.payload),
          priority: priorityAt(Number(row.priority)),
          timeoutMs: row.timeout_ms === null ? null : Number(row.timeout_ms),
          maxAttempts: Number(row.max_attempts),
          backoff: { baseMs: Number(row.backoff_base_ms), maxMs: Number(row.backoff_max_ms) },
          uniqueKey: row.unique_key === null ? null : String(row.unique_key),
          leases: parseLeases(row.leases),
          createdAt: Number(row.created_at),
          attempt,
          failures: Number(row.failures),
          interruptions: Number(row.interruptions),
        };
      }
    });
    for (const job of claimed) {
      if (job === null) continue;
      const level = priorityLevel(job.priority);
      this.#count("queued", level, -1);
      this.#count("running", level, 1);
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
          failures: s.outcome === "failed" || s.outcome === "timeout" ? 1 : 0,
          interruptions: s.outcome === "interrupted" ? 1 : 0,
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
          requeued.push({
            id: s.id,
            kind: String(row.kind),
            level,
            seq: jobSeq,
            readyAt: s.endedAt,
            leases: parseLeases(row.leases),
          });
        }
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const [state, level] of moves) {
      this.#count("running", level, -1);
      this.#count(state, level, 1);
    }
    return requeued;
  }

  async recordProgress(id: string, progress: JobProgress): Promise<void> {
    this.#sideWrite(() => this.#statements().progress.run(JSON.stringify(progress), id));
  }

  async appendLog(id: string, line: JobLogLine): Promise<void> {
    this.#sideWrite(() => {
      const st = this.#statements();
      st.appendLog.run(line.at, line.message, id);
      st.trimLogs.run(id, id, MAX_LOG_LINES);
    });
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
        promoted.push({
          id,
          kind: String(row.kind),
          level: Number(row.priority),
          seq: jobSeq,
          readyAt: now,
          leases: parseLeases(row.leases),
        });
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const entry of promoted) {
      this.#count("scheduled", entry.level, -1);
      this.#count("queued", entry.level, 1);
    }
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
      if (current === undefined) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      from = storedJobState(String(current.state));
      if (from === "scheduled" || from === "queued") {
        const error = JSON.stringify({ code: "JOB_CANCELLED", message: "cancelled before it ran" });
        const row = st.cancel.get(error, at, at, id) as Row | undefined;
        if (row !== undefined) moved = Number(row.priority);
      } else if (from !== "running") {
        throw new LiminalError(
          "INVALID_JOB_STATE",
          `job ${id} is ${from}; only scheduled, queued or running jobs can be cancelled`,
        );
      }
    });
    if (moved !== null && from !== null) {
      this.#count(from, moved, -1);
      this.#count("cancelled", moved, 1);
    }
    return (await this.get(id))!;
  }

  async retry(id: string, at: number): Promise<ReadyEntry> {
    const st = this.#statements();
    let entry: ReadyEntry | null = null;
    let from: JobState | null = null;
    let seq = this.#seq;
    this.#transaction("retry", () => {
      const current = st.stateOf.get(id) as Row | undefined;
      if (current === undefined) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${id}`);
      from = storedJobState(String(current.state));
      if (from !== "dead" && from !== "cancelled") {
        throw new LiminalError(
          "INVALID_JOB_STATE",
          `job ${id} is ${from}; only dead or cancelled jobs can be retried`,
        );
      }
      if (current.unique_key !== null) {
        const live = st.liveByUniqueKey.get(String(current.unique_key)) as Row | undefined;
        if (live !== undefined) {
          throw new LiminalError(
            "INVALID_JOB_STATE",
            `job ${String(live.id)} already holds unique key "${String(current.unique_key)}"`,
          );
        }
      }
      const jobSeq = ++seq;
      const row = st.retry.get(at, jobSeq, at, id) as Row;
      entry = {
        id,
        kind: String(row.kind),
        level: Number(row.priority),
        seq: jobSeq,
        readyAt: at,
        leases: parseLeases(row.leases),
      };
    }, () => (seq = this.#seq));
    this.#seq = seq;
    const done = entry as ReadyEntry | null;
    if (done === null || from === null) {
      throw new LiminalError("STORE_ERROR", `retry of ${id} did not happen`);
    }
    this.#count(from, done.level, -1);
    this.#count("queued", done.level, 1);
    return done;
  }

  async recoverInterrupted(at: number): Promise<number> {
    const st = this.#statements();
    const moved: number[] = [];
    let seq = this.#seq;
    this.#transaction("recover", () => {
      const error = JSON.stringify({
        code: "JOB_INTERRUPTED",
        message: "the runtime stopped while it ran",
      });
      for (const row of st.running.all()) {
        const id = String(row.id);
        st.closeAttempt.run(at, "interrupted", error, id, Number(row.attempt_count));
        const jobSeq = ++seq;
        st.recover.run(at, jobSeq, at, error, id);
        moved.push(Number(row.priority));
      }
    }, () => (seq = this.#seq));
    this.#seq = seq;
    for (const level of moved) {
      this.#count("running", level, -1);
      this.#count("queued", level, 1);
    }
    return moved.length;
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

  async counts(): Promise<JobCounts> {
    const byState = {} as Record<JobState, number>;
    for (const state of JOB_STATES) {
      byState[state] = this.#counts[STATE_INDEX[state]]!.reduce((a, b) => a + b, 0);
    }
    const per = (state: JobState) =>
      Object.fromEntries(
        PRIORITIES.map((p, level) => [p, this.#counts[STATE_INDEX[state]]![level]!]),
      ) as Record<
        Priority,
        number
      >;
    return { byState, queuedByPriority: per("queued"), scheduledByPriority: per("scheduled") };
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
        let finished = 0;
        for (const state of FINAL_STATES) {
          finished += this.#counts[STATE_INDEX[state]]!.reduce((a, b) => a + b, 0);
        }
        const excess = finished - victims.length - options.keep;
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
    for (const [state, level] of removed) this.#count(state, level, -1);
    return removed.length;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.#database().prepare("SELECT * FROM schedules ORDER BY name").all().map((row) => ({
      name: String(row.name),
      source: row.source === "api" ? "api" : "module",
      timing: JSON.parse(String(row.timing)),
      job: JSON.parse(String(row.job)),
      overlap: row.overlap === "queue" ? "queue" : "skip",
      missed: row.missed === "run-once" ? "run-once" : "skip",
      paused: Number(row.paused) === 1,
      nextDueAt: row.next_due_at === null ? null : Number(row.next_due_at),
      lastDueAt: row.last_due_at === null ? null : Number(row.last_due_at),
      lastJobId: row.last_job_id === null ? null : String(row.last_job_id),
      lastSkipped: row.last_skipped === null ? null : String(row.last_skipped),
      runs: Number(row.runs),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    }));
  }

  async putSchedule(r: ScheduleRecord): Promise<void> {
    const db = this.#database();
    this.#transaction("save schedule", () => {
      db.prepare(
        `INSERT INTO schedules (name, source, timing, job, overlap, missed, paused, next_due_at, last_due_at,
           last_job_id, last_skipped, runs, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET source = excluded.source, timing = excluded.timing, job = excluded.job,
           overlap = excluded.overlap, missed = excluded.missed, paused = excluded.paused,
           next_due_at = excluded.next_due_at, last_due_at = excluded.last_due_at,
           last_job_id = excluded.last_job_id, last_skipped = excluded.last_skipped, runs = excluded.runs,
           updated_at = excluded.updated_at`,
      ).run(
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
    let changed = 0;
    this.#transaction("remove schedule", () => {
      changed = Number(
        this.#database().prepare("DELETE FROM schedules WHERE name = ?").run(name).changes,
      );
    });
    return changed > 0;
  }

  async recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    let changed = 0;
    this.#transaction("record schedule run", () => {
      changed = Number(
        this.#database().prepare(
          `UPDATE schedules SET last_due_at = ?, next_due_at = ?, last_job_id = ?, last_skipped = ?, runs = ?,
             updated_at = ? WHERE name = ? AND last_due_at IS ?`,
        ).run(
          run.lastDueAt,
          run.nextDueAt,
          run.lastJobId,
          run.lastSkipped,
          run.runs,
          run.at,
          name,
          expectedLastDueAt,
        )
          .changes,
      );
    });
    return changed > 0;
  }

  async listLeases(): Promise<LeaseRecord[]> {
    return this.#database().prepare("SELECT * FROM leases ORDER BY resource").all().map((row) => ({
      resource: String(row.resource),
      holder: String(row.holder),
      token: String(row.token),
      priority: priorityAt(Number(row.priority)),
      jobId: row.job_id === null ? null : String(row.job_id),
      acquiredAt: Number(row.acquired_at),
      expiresAt: Number(row.expires_at),
    }));
  }

  async swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[] = [],
  ): Promise<boolean> {
    let changed = 0;
    this.#transaction("lease", () => {
      const db = this.#database();
      const current = db.prepare(`SELECT token, expires_at FROM leases WHERE resource = ?`)
        .get(lease.resource) as { token: string; expires_at: number } | undefined;
      if (current !== undefined && current.expires_at > now && current.token !== expectedToken) {
        return;
      }
      for (const victim of victims) {
        db.prepare(`DELETE FROM leases WHERE resource = ? AND token = ?`).run(
          victim.resource,
          victim.token,
        );
      }
      changed = Number(
        this.#database().prepare(
          `INSERT INTO leases (resource, holder, token, priority, job_id, acquired_at, expires_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, token = excluded.token,
             priority = excluded.priority, job_id = excluded.job_id, acquired_at = excluded.acquired_at,
             expires_at = excluded.expires_at
           WHERE leases.expires_at <= ? OR leases.token IS ?`,
        ).run(
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
    let changed = 0;
    this.#transaction("release lease", () => {
      changed = Number(
        this.#database().prepare("DELETE FROM leases WHERE resource = ? AND token = ?").run(
          resource,
          token,
        ).changes,
      );
    });
    return changed > 0;
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────

  #record(row: Row): JobRecord {
    const st = this.#statements();
    const id = String(row.id);
    const attempts: AttemptRecord[] = st.getAttempts.all(id).map((a) => ({
      attempt: Number(a.attempt),
      worker: String(a.worker),
      startedAt: Number(a.started_at),
      endedAt: a.ended_at === null ? null : Number(a.ended_at),
      outcome: a.outcome === null ? null : a.outcome as AttemptOutcome,
      error: parseJsonColumn<AttemptError>(a.error),
    }));
    const logs: JobLogLine[] = st.getLogs.all(id).map((l) => ({
      at: Number(l.at),
      message: String(l.message),
    }));
    return {
      id,
      kind: String(row.kind),
      payload: String(row.payload),
      priority: priorityAt(Number(row.priority)),
      timeoutMs: row.timeout_ms === null ? null : Number(row.timeout_ms),
      maxAttempts: Number(row.max_attempts),
      backoff: { baseMs: Number(row.backoff_base_ms), maxMs: Number(row.backoff_max_ms) },
      uniqueKey: row.unique_key === null ? null : String(row.unique_key),
      leases: parseLeases(row.leases),
      state: storedJobState(String(row.state)),
      createdAt: Number(row.created_at),
      runAt: Number(row.run_at),
      readyAt: row.ready_at === null ? null : Number(row.ready_at),
      seq: Number(row.seq),
      attempts,
      failures: Number(row.failures),
      interruptions: Number(row.interruptions),
      progress: parseJsonColumn<JobProgress>(row.progress),
      logs,
      result: row.result === null ? null : String(row.result),
      lastError: parseJsonColumn<AttemptError>(row.last_error),
      finishedAt: row.finished_at === null ? null : Number(row.finished_at),
      updatedAt: Number(row.updated_at),
    };
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

  #sideWrite(write: () => void): void {
    if (this.#db === null) return;
    this.#sideWrites.push(write);
    if (this.#sideTimer === undefined) {
      this.#sideTimer = setTimeout(() => {
        this.#sideTimer = undefined;
        this.#flushSideWrites();
      }, SIDE_WRITE_DELAY_MS);
    }
  }

  #flushSideWrites(): void {
    if (this.#sideTimer !== undefined) {
      clearTimeout(this.#sideTimer);
      this.#sideTimer = undefined;
    }
    if (this.#sideWrites.length === 0 || this.#db === null) return;
    const writes = this.#sideWrites;
    this.#sideWrites = [];
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const write of writes) write();
      db.exec("COMMIT");
    } catch (error) {
      try {
        if (db.isTransaction) db.exec("ROLLBACK");
      } catch {
        // Gone already.
      }
      log.warn("{count} progress/log write(s) dropped: {error}", {
        count: writes.length,
        error: errorMessage(error),
      });
    }
  }

  #count(state: JobState, level: number, delta: number): void {
    this.#counts[STATE_INDEX[state]]![level]! += delta;
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

async function ensureDirectory(path: string): Promise<void> {
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
function checkApplication(db: DatabaseSync, path: string): void {
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

function prepare(db: DatabaseSync): Statements {
  const live = LIVE.map((s) => `'${s}'`).join(", ");
  return {
    insert: db.prepare(
      `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, ready_at, seq, timeout_ms,
         max_attempts, backoff_base_ms, backoff_max_ms, unique_key, updated_at, leases)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    liveByUniqueKey: db.prepare(
      `SELECT id, state FROM jobs WHERE unique_key = ? AND state IN (${live})`,
    ),
    loadReady: db.prepare(
      `SELECT id, kind, priority, seq, ready_at, leases FROM jobs
       WHERE state = 'queued' AND priority = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    claim: db.prepare(
      `UPDATE jobs SET state = 'running', ready_at = NULL, progress = NULL,
         attempt_count = attempt_count + 1, updated_at = ?
       WHERE id = ? AND state = 'queued'
       RETURNING kind, payload, priority, timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms,
         unique_key, created_at, attempt_count, failures, interruptions, leases`,
    ),
    openAttempt: db.prepare(
      "INSERT INTO job_attempts (job_id, attempt, worker, started_at) VALUES (?, ?, ?, ?)",
    ),
    closeAttempt: db.prepare(
      `UPDATE job_attempts SET ended_at = ?, outcome = ?, error = ?
       WHERE job_id = ? AND attempt = ? AND ended_at IS NULL`,
    ),
    settle: db.prepare(
      `UPDATE jobs SET state = $state, failures = failures + $failures,
         interruptions = interruptions + $interruptions,
         last_error = COALESCE($error, last_error), result = COALESCE($result, result),
         run_at = COALESCE($runAt, run_at), ready_at = $readyAt, seq = COALESCE($seq, seq),
         finished_at = $finishedAt, updated_at = $at
       WHERE id = $id AND state = 'running' AND attempt_count = $attempt
       RETURNING kind, priority, leases`,
    ),
    progress: db.prepare("UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running'"),
    appendLog: db.prepare(
      `INSERT INTO job_logs (job_id, line, at, message)
       SELECT id, COALESCE((SELECT MAX(line) FROM job_logs WHERE job_id = jobs.id), 0) + 1, ?, ?
       FROM jobs WHERE id = ?`,
    ),
    trimLogs: db.prepare(
      `DELETE FROM job_logs WHERE job_id = ?
         AND line <= (SELECT MAX(line) FROM job_logs WHERE job_id = ?) - ?`,
    ),
    selectDue: db.prepare(
      "SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at, id LIMIT ?",
    ),
    promote: db.prepare(
      `UPDATE jobs SET state = 'queued', ready_at = ?, seq = ?, updated_at = ?
       WHERE id = ? AND state = 'scheduled' RETURNING kind, priority, leases`,
    ),
    nextDue: db.prepare("SELECT MIN(run_at) AS at FROM jobs WHERE state = 'scheduled'"),
    getJob: db.prepare("SELECT * FROM jobs WHERE id = ?"),
    getAttempts: db.prepare("SELECT * FROM job_attempts WHERE job_id = ? ORDER BY attempt"),
    getLogs: db.prepare("SELECT at, message FROM job_logs WHERE job_id = ? ORDER BY line"),
    stateOf: db.prepare("SELECT state, priority, unique_key FROM jobs WHERE id = ?"),
    cancel: db.prepare(
      `UPDATE jobs SET state = 'cancelled', ready_at = NULL, last_error = ?, finished_at = ?, updated_at = ?
       WHERE id = ? AND state IN ('scheduled', 'queued') RETURNING priority`,
    ),
    retry: db.prepare(
      `UPDATE jobs SET state = 'queued', failures = 0, finished_at = NULL, ready_at = ?, seq = ?, updated_at = ?
       WHERE id = ? RETURNING kind, priority, leases`,
    ),
    running: db.prepare("SELECT id, priority, attempt_count FROM jobs WHERE state = 'running'"),
    recover: db.prepare(
      `UPDATE jobs SET state = 'queued', interruptions = interruptions + 1, ready_at = ?, seq = ?,
         updated_at = ?, last_error = ? WHERE id = ?`,
    ),
    pruneOld: db.prepare(
      `SELECT id, state, priority FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?
       ORDER BY finished_at LIMIT ?`,
    ),
    pruneOldest: db.prepare(
      "SELECT id, state, priority FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at LIMIT ?",
    ),
    deleteJob: db.prepare("DELETE FROM jobs WHERE id = ?"),
  };
}

function leasesColumn(leases: readonly string[]): string | null {
  return leases.length === 0 ? null : JSON.stringify(leases);
}

function parseLeases(value: unknown): string[] {
  const parsed = parseJsonColumn<unknown>(value);
  return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === "string") : [];
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function parseJsonColumn<T>(value: unknown): T | null {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(String(value)) as T;
  } catch {
    return null;
  }
}
