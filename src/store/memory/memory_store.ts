/**
 * The `memory` store: every job in this process's heap, nothing durable. For tests, `liminal
 * run` and `liminal start --store :memory:`.
 *
 * Scheduled jobs sit in a min-heap by run-at; finished jobs in a FIFO that retention trims.
 * Records handed out by `claim` are the store's own objects (read-only to the caller);
 * `get`, `list` and `cancel` hand out copies.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";
import {
  FINAL_STATES,
  type JobLogLine,
  type JobProgress,
  type JobRecord,
  type JobState,
  MAX_LOG_LINES,
} from "../../shared/job.ts";
import { PRIORITIES, type Priority, priorityLevel } from "../../shared/priority.ts";
import { StateCounts } from "../_counts.ts";
import {
  assertRetryable,
  cancelAction,
  CANCELLED_BEFORE_RUN,
  countsAsFailure,
  countsAsInterruption,
  DEFAULT_MAX_INTERRUPTIONS,
  jobNotFound,
  LIVE,
  recoveryOf,
  uniqueKeyHeld,
} from "../_rules.ts";
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
import { MinHeap } from "../../shared/heap.ts";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Finished jobs kept at most, the newest. Older ones are dropped as new ones finish.
   * @default 100_000
   */
  maxFinished?: number;
}

/** Jobs `prune` removes at most in one call when no limit is given (as the SQL stores). */
const DEFAULT_PRUNE_LIMIT = 1_000;

interface FinishedMark {
  id: string;
  finishedAt: number;
}

/**
 * A {@link JobStore} in this process's memory: the runtime's default, and the store for tests.
 * Nothing survives the process.
 *
 * @example
 * ```ts
 * import { MaintenanceExecutor, MemoryStore } from "liminal";
 *
 * const executor = new MaintenanceExecutor({ store: new MemoryStore({ maxFinished: 1_000 }) });
 * ```
 */
export class MemoryStore implements JobStore {
  /** Always memory: not durable. */
  readonly info: StoreInfo = { kind: "memory", location: ":memory:", durable: false };
  readonly windowHint: number = Number.POSITIVE_INFINITY;

  #jobs = new Map<string, JobRecord>();
  #unique = new Map<string, string>();
  /** Scheduled jobs by run-at; entries go stale when a job is cancelled or moved. */
  #due = new MinHeap<{ runAt: number; id: string }>((item) => item.runAt);
  #finished: FinishedMark[] = [];
  #finishedHead = 0;
  #seq = 0;
  #counts = new StateCounts();
  #maxFinished: number;
  #open = false;
  #schedules = new Map<string, ScheduleRecord>();
  #leases = new Map<string, LeaseRecord>();

  /** An empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    const maxFinished = options.maxFinished ?? 100_000;
    if (!Number.isInteger(maxFinished) || maxFinished < 0) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `maxFinished must be a whole number of at least 0, got ${maxFinished}`,
      );
    }
    this.#maxFinished = maxFinished;
  }

  async open(): Promise<void> {
    this.#open = true;
    return;
  }

  async close(): Promise<void> {
    this.#open = false;
    return;
  }

  async insert(jobs: readonly NewJob[], now: number): Promise<InsertResult[]> {
    this.#assertOpen();
    const results: InsertResult[] = new Array(jobs.length);
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      if (job.uniqueKey !== null) {
        const holder = this.#unique.get(job.uniqueKey);
        const existing = holder === undefined ? undefined : this.#jobs.get(holder);
        if (existing !== undefined && LIVE.has(existing.state)) {
          results[i] = { id: existing.id, created: false, state: existing.state, entry: null };
          continue;
        }
      }
      const queued = job.runAt <= now;
      const record: JobRecord = {
        id: job.id,
        kind: job.kind,
        payload: job.payload,
        priority: job.priority,
        timeoutMs: job.timeoutMs,
        maxAttempts: job.maxAttempts,
        backoff: job.backoff,
        uniqueKey: job.uniqueKey,
        leases: job.leases,
        state: queued ? "queued" : "scheduled",
        createdAt: job.createdAt,
        runAt: job.runAt,
        readyAt: queued ? now : null,
        seq: queued ? ++this.#seq : 0,
        attempts: [],
        failures: 0,
        interruptions: 0,
        progress: null,
        logs: [],
        result: null,
        lastError: null,
        finishedAt: null,
        updatedAt: now,
      };
      this.#jobs.set(record.id, record);
      if (record.uniqueKey !== null) this.#unique.set(record.uniqueKey, record.id);
      this.#count(record.state, record.priority, 1);
      if (!queued) this.#due.push({ runAt: record.runAt, id: record.id });
      results[i] = {
        id: record.id,
        created: true,
        state: record.state,
        entry: queued ? entryOf(record) : null,
      };
    }
    return results;
  }

  async loadReady(level: number, afterSeq: number, limit: number): Promise<ReadyEntry[]> {
    this.#assertOpen();
    const priority = PRIORITIES[level];
    const found: JobRecord[] = [];
    for (const record of this.#jobs.values()) {
      if (record.state === "queued" && record.priority === priority && record.seq > afterSeq) {
        found.push(record);
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    return found.slice(0, limit).map(entryOf);
  }

  async claim(requests: readonly ClaimRequest[]): Promise<(ClaimedJob | null)[]> {
    this.#assertOpen();
    const claimed: (ClaimedJob | null)[] = new Array(requests.length);
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i]!;
      const record = this.#jobs.get(request.id);
      if (record === undefined || record.state !== "queued") {
        claimed[i] = null;
        continue;
      }
      this.#move(record, "running");
      record.readyAt = null;
      record.updatedAt = request.at;
      record.progress = null;
      record.attempts.push({
        attempt: record.attempts.length + 1,
        worker: request.worker,
        startedAt: request.at,
        endedAt: null,
        outcome: null,
        error: null,
      });
      claimed[i] = {
        id: record.id,
        kind: record.kind,
        payload: record.payload,
        priority: record.priority,
        timeoutMs: record.timeoutMs,
        maxAttempts: record.maxAttempts,
        backoff: record.backoff,
        uniqueKey: record.uniqueKey,
        leases: record.leases,
        createdAt: record.createdAt,
        attempt: record.attempts.length,
        failures: record.failures,
        interruptions: record.interruptions,
      };
    }
    return claimed;
  }

  async settle(settlements: readonly Settlement[]): Promise<ReadyEntry[]> {
    this.#assertOpen();
    const requeued: ReadyEntry[] = [];
    for (const settlement of settlements) {
      const record = this.#jobs.get(settlement.id);
      // Only the open attempt of a job still running is settled (a retried batch, or one late
      // after a recovery, changes nothing).
      if (
        record === undefined || record.state !== "running" ||
        record.attempts.length !== settlement.attempt
      ) continue;
      const attempt = record.attempts[settlement.attempt - 1];
      if (attempt !== undefined && attempt.endedAt === null) {
        attempt.endedAt = settlement.endedAt;
        attempt.outcome = settlement.outcome;
        attempt.error = settlement.error;
      }
      if (countsAsFailure(settlement.outcome)) record.failures++;
      if (countsAsInterruption(settlement.outcome)) record.interruptions++;
      if (settlement.error !== null) record.lastError = settlement.error;
      if (settlement.result !== null) record.result = settlement.result;
      record.updatedAt = settlement.endedAt;
      this.#move(record, settlement.next);
      switch (settlement.next) {
        case "queued":
          record.readyAt = settlement.endedAt;
          record.seq = ++this.#seq;
          requeued.push(entryOf(record));
          break;
        case "scheduled":
          record.runAt = settlement.runAt ?? settlement.endedAt;
          this.#due.push({ runAt: record.runAt, id: record.id });
          break;
        default:
          this.#finish(record, settlement.endedAt);
      }
    }
    return requeued;
  }

  async recordProgress(id: string, progress: JobProgress): Promise<void> {
    const record = this.#jobs.get(id);
    if (record !== undefined && record.state === "running") record.progress = progress;
    return;
  }

  async appendLog(id: string, line: JobLogLine): Promise<void> {
    const record = this.#jobs.get(id);
    if (record !== undefined) {
      record.logs.push(line);
      if (record.logs.length > MAX_LOG_LINES) {
        record.logs.splice(0, record.logs.length - MAX_LOG_LINES);
      }
    }
    return;
  }

  async promoteDue(now: number, limit: number): Promise<ReadyEntry[]> {
    this.#assertOpen();
    const promoted: ReadyEntry[] = [];
    while (promoted.length < limit) {
      const top = this.#due.peek();
      if (top === undefined || top.runAt > now) break;
      this.#due.pop();
      const record = this.#jobs.get(top.id);
      if (record === undefined || record.state !== "scheduled" || record.runAt !== top.runAt) {
        continue;
      }
      this.#move(record, "queued");
      record.readyAt = now;
      record.seq = ++this.#seq;
      record.updatedAt = now;
      promoted.push(entryOf(record));
    }
    return promoted;
  }

  async nextDueAt(): Promise<number | null> {
    for (;;) {
      const top = this.#due.peek();
      if (top === undefined) return null;
      const record = this.#jobs.get(top.id);
      if (record !== undefined && record.state === "scheduled" && record.runAt === top.runAt) {
        return top.runAt;
      }
      this.#due.pop();
    }
  }

  async cancel(id: string, at: number): Promise<JobRecord> {
    this.#assertOpen();
    const record = this.#require(id);
    if (cancelAction(id, record.state) === "cancel") {
      this.#move(record, "cancelled");
      record.readyAt = null;
      record.updatedAt = at;
      record.lastError = { ...CANCELLED_BEFORE_RUN };
      this.#finish(record, at);
    }
    return copyOf(record);
  }

  async retry(id: string, at: number): Promise<ReadyEntry> {
    this.#assertOpen();
    const record = this.#require(id);
    assertRetryable(id, record.state);
    if (record.uniqueKey !== null) {
      const holder = this.#unique.get(record.uniqueKey);
      const live = holder === undefined ? undefined : this.#jobs.get(holder);
      if (live !== undefined && live.id !== id && LIVE.has(live.state)) {
        throw uniqueKeyHeld(live.id, record.uniqueKey);
      }
      this.#unique.set(record.uniqueKey, id);
    }
    this.#move(record, "queued");
    record.failures = 0;
    record.interruptions = 0;
    record.finishedAt = null;
    record.readyAt = at;
    record.seq = ++this.#seq;
    record.updatedAt = at;
    return entryOf(record);
  }

  async recoverInterrupted(
    at: number,
    maxInterruptions: number = DEFAULT_MAX_INTERRUPTIONS,
  ): Promise<Recovery> {
    this.#assertOpen();
    const recovery: Recovery = { queued: 0, dead: [] };
    for (const record of this.#jobs.values()) {
      if (record.state !== "running") continue;
      record.interruptions++;
      const { dead, error } = recoveryOf(record.interruptions, maxInterruptions);
      const attempt = record.attempts.at(-1);
      if (attempt !== undefined && attempt.endedAt === null) {
        attempt.endedAt = at;
        attempt.outcome = "interrupted";
        attempt.error = { ...error };
      }
      record.lastError = error;
      record.updatedAt = at;
      if (dead) {
        this.#move(record, "dead");
        record.readyAt = null;
        this.#finish(record, at);
        recovery.dead.push({
          id: record.id,
          kind: record.kind,
          attempt: record.attempts.length,
          error,
        });
        continue;
      }
      this.#move(record, "queued");
      record.readyAt = at;
      record.seq = ++this.#seq;
      recovery.queued++;
    }
    return recovery;
  }

  /** The job `id`, or `null`. */
  async get(id: string): Promise<JobRecord | null> {
    const record = this.#jobs.get(id);
    return record === undefined ? null : copyOf(record);
  }

  /** Jobs matching `filter`, newest first. */
  async list(filter: JobFilter = {}): Promise<JobRecord[]> {
    const limit = filter.limit ?? 50;
    const found: JobRecord[] = [];
    for (const record of this.#jobs.values()) {
      if (filter.state !== undefined && record.state !== filter.state) continue;
      if (filter.kind !== undefined && record.kind !== filter.kind) continue;
      found.push(record);
    }
    found.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return found.slice(0, limit).map(copyOf);
  }

  /** The ids that end with `tail`, newest first, at most `limit`. */
  async findIdsByTail(tail: string, limit: number): Promise<string[]> {
    const found: string[] = [];
    for (const id of this.#jobs.keys()) if (id.endsWith(tail)) found.push(id);
    found.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    return found.slice(0, Math.max(0, limit));
  }

  /** Jobs per state, and queued/scheduled jobs per priority. */
  async counts(): Promise<JobCounts> {
    return this.#counts.toJobCounts();
  }

  async prune(options: PruneOptions): Promise<number> {
    let removed = 0;
    const limit = options.limit ?? DEFAULT_PRUNE_LIMIT;
    const before = options.finishedBefore ?? Number.NEGATIVE_INFINITY;
    const keep = options.keep ?? Number.POSITIVE_INFINITY;
    while (removed < limit && this.#finishedHead < this.#finished.length) {
      const mark = this.#finished[this.#finishedHead]!;
      const record = this.#jobs.get(mark.id);
      const current = record !== undefined && FINAL_STATES.has(record.state) &&
        record.finishedAt === mark.finishedAt;
      if (current && mark.finishedAt >= before && this.#finishedCount() <= keep) break;
      this.#finishedHead++;
      if (current) {
        this.#delete(record);
        removed++;
      }
    }
    this.#compactFinished();
    return removed;
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return [...this.#schedules.values()].map((r) => structuredClone(r)).sort((a, b) =>
      byCodeUnits(a.name, b.name)
    );
  }

  async putSchedule(record: ScheduleRecord): Promise<void> {
    this.#schedules.set(record.name, structuredClone(record));
  }

  async deleteSchedule(name: string): Promise<boolean> {
    return this.#schedules.delete(name);
  }

  async recordScheduleRun(
    name: string,
    expectedLastDueAt: number | null,
    run: ScheduleRun,
  ): Promise<boolean> {
    const record = this.#schedules.get(name);
    if (record === undefined || record.lastDueAt !== expectedLastDueAt) return false;
    record.lastDueAt = run.lastDueAt;
    record.nextDueAt = run.nextDueAt;
    record.lastJobId = run.lastJobId;
    record.lastSkipped = run.lastSkipped;
    record.runs = run.runs;
    record.updatedAt = run.at;
    return true;
  }

  async listLeases(): Promise<LeaseRecord[]> {
    return [...this.#leases.values()].map((l) => ({ ...l })).sort((a, b) =>
      byCodeUnits(a.resource, b.resource)
    );
  }

  async swapLease(
    lease: LeaseRecord,
    expectedToken: string | null,
    now: number,
    victims: readonly LeaseVictim[] = [],
  ): Promise<boolean> {
    const current = this.#leases.get(lease.resource);
    const free = current === undefined || current.expiresAt <= now;
    if (!free && current.token !== expectedToken) return false;
    for (const victim of victims) {
      if (this.#leases.get(victim.resource)?.token === victim.token) {
        this.#leases.delete(victim.resource);
      }
    }
    this.#leases.set(lease.resource, { ...lease });
    return true;
  }

  async deleteLease(resource: string, token: string): Promise<boolean> {
    const current = this.#leases.get(resource);
    if (current === undefined || current.token !== token) return false;
    this.#leases.delete(resource);
    return true;
  }

  #finish(record: JobRecord, at: number): void {
    record.finishedAt = at;
    this.#finished.push({ id: record.id, finishedAt: at });
    if (this.#finishedCount() > this.#maxFinished) {
      void this.prune({ keep: this.#maxFinished, limit: 64 });
    }
  }

  #finishedCount(): number {
    return this.#counts.finished();
  }

  #compactFinished(): void {
    if (this.#finishedHead > 1024 && this.#finishedHead * 2 > this.#finished.length) {
      this.#finished = this.#finished.slice(this.#finishedHead);
      this.#finishedHead = 0;
    }
  }

  #delete(record: JobRecord): void {
    this.#jobs.delete(record.id);
    this.#count(record.state, record.priority, -1);
    if (record.uniqueKey !== null && this.#unique.get(record.uniqueKey) === record.id) {
      this.#unique.delete(record.uniqueKey);
    }
  }

  #move(record: JobRecord, state: JobState): void {
    this.#count(record.state, record.priority, -1);
    record.state = state;
    this.#count(state, record.priority, 1);
    if (
      record.uniqueKey !== null && !LIVE.has(state) &&
      this.#unique.get(record.uniqueKey) === record.id
    ) {
      this.#unique.delete(record.uniqueKey);
    }
  }

  #count(state: JobState, priority: Priority, delta: number): void {
    this.#counts.add(state, priorityLevel(priority), delta);
  }

  #require(id: string): JobRecord {
    const record = this.#jobs.get(id);
    if (record === undefined) throw jobNotFound(id);
    return record;
  }

  #assertOpen(): void {
    if (!this.#open) throw new LiminalError("STORE_ERROR", "the memory store is not open");
  }
}

function entryOf(record: JobRecord): ReadyEntry {
  return {
    id: record.id,
    kind: record.kind,
    level: priorityLevel(record.priority),
    seq: record.seq,
    readyAt: record.readyAt ?? record.updatedAt,
    leases: record.leases,
  };
}

function copyOf(record: JobRecord): JobRecord {
  return {
    ...record,
    backoff: { ...record.backoff },
    leases: [...record.leases],
    attempts: record.attempts.map((a) => ({ ...a })),
    logs: record.logs.slice(),
    progress: record.progress === null ? null : { ...record.progress },
  };
}

/** Text order by UTF-16 code units: what SQL's `ORDER BY` gives under the C collation. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
