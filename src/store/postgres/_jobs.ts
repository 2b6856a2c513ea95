/**
 * The Postgres store's job verbs: which statements of `_queries.ts` each runs, in which
 * transaction, under which locks, and what it announces.
 *
 * - Writes that hand out `seq` values take the cluster-wide seq lock and hold it to their
 *   commit (and are serialised within this store), so `seq` values become visible in
 *   increasing order.
 * - Claims lock still-queued rows with `FOR UPDATE SKIP LOCKED`; kinds with a concurrency
 *   limit are counted across every node under a per-kind advisory lock.
 * - Unique keys hold across nodes through the partial unique index `jobs_unique_live`.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";
import { FINAL_STATES, type JobRecord, type JobState, storedJobState } from "../../shared/job.ts";
import { priorityLevel } from "../../shared/priority.ts";
import type {
  ClaimBusy,
  ClaimedJob,
  ClaimRequest,
  InsertResult,
  JobCounts,
  JobFilter,
  NewJob,
  PruneOptions,
  ReadyEntry,
  Settlement,
} from "../types.ts";
import { StateCounts } from "../_counts.ts";
import {
  attemptOf,
  claimedJobOf,
  jobRecordOf,
  JSON_PARSED,
  logLineOf,
  readyEntryOf,
  type Row,
} from "../_rows.ts";
import { assertRetryable, cancelAction, jobNotFound, uniqueKeyHeld } from "../_rules.ts";
import { isUniqueViolation } from "./_errors.ts";
import type { NodeLiveness } from "./_liveness.ts";
import {
  type ChangeHub,
  notifyCancel,
  notifyEnded,
  notifyReady,
  notifyScheduled,
} from "./_notify.ts";
import {
  anyDue,
  cancelWaiting,
  claimJobs,
  type ClaimRow,
  countFinished,
  countJobs,
  countRunningByKind,
  deleteFinishedBefore,
  deleteOldestFinished,
  insertJobs,
  liveHolderOf,
  liveHoldersOf,
  lockJob,
  lockKind,
  promoteDueJobs,
  requestCancel,
  requeueForRetry,
  selectJob,
  selectJobs,
  selectNextDue,
  selectReady,
  settleJobs,
} from "./_queries.ts";
import { type PostgresState, roundMs } from "./_state.ts";

/** How long `counts()` keeps its result. */
const COUNTS_TTL_MS = 1_000;

/** Inserts jobs in one transaction; see `JobStore.insert`. */
export async function insert(
  state: PostgresState,
  jobs: readonly NewJob[],
  now: number,
): Promise<InsertResult[]> {
  if (jobs.length === 0) return [];
  const anyQueued = jobs.some((job) => job.runAt <= now);
  const write = () =>
    state.write("enqueue", async (tx) => {
      if (anyQueued) await state.lockSeq(tx);
      const results = await insertRows(tx, jobs, now);
      const earliest = jobs.reduce(
        (min, job, i) =>
          results[i]!.created && results[i]!.state === "scheduled" ? Math.min(min, job.runAt) : min,
        Number.POSITIVE_INFINITY,
      );
      const levels = new Set<number>();
      for (const r of results) if (r.entry !== null) levels.add(r.entry.level);
      if (levels.size > 0) await notifyReady(tx, state, levels);
      if (earliest !== Number.POSITIVE_INFINITY) await notifyScheduled(tx, state, earliest);
      return results;
    });
  return anyQueued ? await state.sequenced(write) : await write();
}

/** Inserts `jobs`; a job whose key a live job holds gets that job (retried while keys move). */
async function insertRows(
  tx: Parameters<typeof insertJobs>[0],
  jobs: readonly NewJob[],
  now: number,
): Promise<InsertResult[]> {
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
    const created = new Map<string, Row>();
    for (const row of await insertJobs(tx, rows, now)) created.set(String(row.id), row);
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
      for (const row of await liveHoldersOf(tx, keys)) holders.set(String(row.unique_key), row);
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

/** See `JobStore.loadReady`. */
export async function loadReady(
  state: PostgresState,
  level: number,
  afterSeq: number,
  limit: number,
): Promise<ReadyEntry[]> {
  const rows = await state.read(
    "load ready jobs",
    (sql) => selectReady(sql, level, afterSeq, limit),
  );
  return rows.map((row) => readyEntryOf(row, JSON_PARSED));
}

/** See `JobStore.claim`; refused while this node is fenced. */
export async function claim(
  state: PostgresState,
  liveness: NodeLiveness,
  requests: readonly ClaimRequest[],
): Promise<(ClaimedJob | null | ClaimBusy)[]> {
  const claimed: (ClaimedJob | null | ClaimBusy)[] = new Array(requests.length).fill(null);
  if (requests.length === 0) return claimed;
  // Another node may take this one for dead at any moment: a job started here now could
  // run twice.
  if (liveness.fenced) throw liveness.fencedError();
  const seen = new Set<string>();
  const unique = requests.filter((r) => !seen.has(r.id) && seen.add(r.id));
  const toRow = (r: ClaimRequest): ClaimRow => ({ id: r.id, worker: r.worker, at: roundMs(r.at) });
  const limited = unique.filter((r) =>
    r.kind !== undefined && typeof r.limit === "number" && Number.isFinite(r.limit)
  );
  const busy = new Set<string>();
  state.claimsInFlight++;
  let result: Row[];
  try {
    if (limited.length === 0) {
      result = await state.exec("claim", (sql) => claimJobs(sql, state, unique.map(toRow)));
    } else {
      // Kinds with a concurrency limit: their running jobs are counted across every node
      // under a per-kind advisory lock held to the commit, so two nodes never both take
      // the last slot.
      result = await state.write("claim", async (tx) => {
        const kinds = [...new Set(limited.map((r) => r.kind!))].sort();
        for (const kind of kinds) await lockKind(tx, state, kind);
        const room = new Map<string, number>();
        for (const r of limited) room.set(r.kind!, r.limit!);
        for (const row of await countRunningByKind(tx, kinds)) {
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
        return allowed.length === 0 ? [] : await claimJobs(tx, state, allowed.map(toRow));
      });
    }
  } finally {
    state.claimsInFlight--;
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
    state.delivered.add(String(row.id));
    claimed[i] = claimedJobOf(row, JSON_PARSED);
  }
  return claimed;
}

/** See `JobStore.settle`. */
export async function settle(
  state: PostgresState,
  hub: ChangeHub,
  settlements: readonly Settlement[],
): Promise<ReadyEntry[]> {
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
  const forget = () => {
    for (const s of settlements) {
      state.forget(s.id);
      hub.announcedCancels.delete(s.id);
    }
  };
  const scheduled = settlements.filter((s) => s.next === "scheduled");
  if (!requeues && scheduled.length === 0) {
    // Nothing to number or announce: the statement is its own transaction.
    await state.exec("settle", (sql) => settleJobs(sql, state, rows));
    forget();
    return [];
  }
  const write = () =>
    state.write("settle", async (tx) => {
      if (requeues) await state.lockSeq(tx);
      const moved = await settleJobs(tx, state, rows);
      const requeued: ReadyEntry[] = [];
      for (const row of moved) {
        if (row.next !== "queued") continue;
        requeued.push(readyEntryOf(row, JSON_PARSED, { readyAt: Number(row.ended_at) }));
      }
      if (requeued.length > 0) await notifyReady(tx, state);
      if (scheduled.length > 0) {
        const runAt = scheduled.reduce((min, s) => Math.min(min, s.runAt ?? s.endedAt), Infinity);
        await notifyScheduled(tx, state, runAt);
      }
      return requeued.sort((a, b) => a.seq - b.seq);
    });
  const requeued = requeues ? await state.sequenced(write) : await write();
  forget();
  return requeued;
}

/** See `JobStore.promoteDue`. */
export async function promoteDue(
  state: PostgresState,
  now: number,
  limit: number,
): Promise<ReadyEntry[]> {
  const n = Math.max(0, Math.floor(limit));
  if (n === 0) return [];
  const due = await state.read("promote due jobs", (sql) => anyDue(sql, now));
  if (due.length === 0) return [];
  return await state.sequenced(() =>
    state.write("promote due jobs", async (tx) => {
      await state.lockSeq(tx);
      const rows = await promoteDueJobs(tx, now, n);
      if (rows.length > 0) await notifyReady(tx, state);
      return rows.map((row) => readyEntryOf(row, JSON_PARSED, { readyAt: now }))
        .sort((a, b) => a.seq - b.seq);
    })
  );
}

/** See `JobStore.nextDueAt`. */
export async function nextDueAt(state: PostgresState): Promise<number | null> {
  const rows = await state.read("find the next due job", selectNextDue);
  return rows.length === 0 ? null : Number(rows[0]!.run_at);
}

/**
 * See `JobStore.cancel`. A running job is marked (`cancel_requested_at`) and its node told
 * on the cancel channel.
 */
export async function cancel(state: PostgresState, id: string, at: number): Promise<JobRecord> {
  await state.write("cancel", async (tx) => {
    const [current] = await lockJob(tx, id);
    if (current === undefined) throw jobNotFound(id);
    if (cancelAction(id, storedJobState(String(current.state))) === "cancel") {
      await cancelWaiting(tx, id, at);
      await notifyEnded(tx, state, [id]);
    } else {
      await requestCancel(tx, id, at);
      await notifyCancel(tx, state, id, current.node_id);
    }
  });
  const record = await get(state, id);
  if (record === null) throw jobNotFound(id);
  return record;
}

/** See `JobStore.retry`. */
export async function retry(state: PostgresState, id: string, at: number): Promise<ReadyEntry> {
  return await state.sequenced(() =>
    state.write("retry", async (tx) => {
      await state.lockSeq(tx);
      const [current] = await lockJob(tx, id);
      if (current === undefined) throw jobNotFound(id);
      assertRetryable(id, storedJobState(String(current.state)));
      const key = current.unique_key === null ? null : String(current.unique_key);
      if (key !== null) {
        const [live] = await liveHolderOf(tx, key);
        if (live !== undefined) throw uniqueKeyHeld(String(live.id), key);
      }
      let row: Row | undefined;
      try {
        [row] = await requeueForRetry(tx, id, at);
      } catch (error) {
        if (isUniqueViolation(error) && key !== null) throw uniqueKeyHeld(null, key, error);
        throw error;
      }
      await notifyReady(tx, state);
      return readyEntryOf(row!, JSON_PARSED, { readyAt: at });
    })
  );
}

/** See `JobStore.get`. */
export async function get(state: PostgresState, id: string): Promise<JobRecord | null> {
  const rows = await state.read("read a job", (sql) => selectJob(sql, id));
  return rows.length === 0 ? null : recordOf(rows[0]!);
}

/** See `JobStore.list`. */
export async function list(state: PostgresState, filter: JobFilter): Promise<JobRecord[]> {
  const limit = Math.max(0, Math.floor(filter.limit ?? 50));
  const rows = await state.read("list jobs", (sql) => selectJobs(sql, filter, limit));
  return rows.map(recordOf);
}

/** See `JobStore.findIdsByTail`. */
export async function findIdsByTail(
  state: PostgresState,
  tail: string,
  limit: number,
): Promise<string[]> {
  if (tail === "" || limit <= 0) return [];
  const rows = await state.read(
    "find job ids",
    (sql) =>
      sql`SELECT id FROM jobs WHERE right(id, ${tail.length}) = ${tail}
          ORDER BY id DESC LIMIT ${Math.floor(limit)}`,
  );
  return rows.map((row) => String(row.id));
}

/** Counts per state and priority, kept up to 1 s (this store's own writes drop it). */
export async function counts(state: PostgresState): Promise<JobCounts> {
  const now = state.timers.now();
  if (state.counts !== null && now - state.counts.at < COUNTS_TTL_MS) {
    return structuredClone(state.counts.value);
  }
  const writes = state.writes;
  const rows = await state.read("count jobs", countJobs);
  const value = StateCounts.fromRows(
    rows as { state: unknown; priority: unknown; n: unknown }[],
  ).toJobCounts();
  if (writes === state.writes) state.counts = { at: now, value };
  return structuredClone(value);
}

/** See `JobStore.prune`. */
export async function prune(state: PostgresState, options: PruneOptions): Promise<number> {
  const limit = Math.max(0, Math.floor(options.limit ?? 1_000));
  if (limit === 0) return 0;
  return await state.write("prune", async (tx) => {
    let removed = 0;
    if (options.finishedBefore !== undefined) {
      removed += (await deleteFinishedBefore(tx, options.finishedBefore, limit)).length;
    }
    if (options.keep !== undefined && removed < limit) {
      const [finished] = await countFinished(tx);
      const excess = Math.min(
        Number(finished?.n ?? 0) - Math.max(0, Math.floor(options.keep)),
        limit - removed,
      );
      if (excess > 0) removed += (await deleteOldestFinished(tx, excess)).length;
    }
    return removed;
  });
}

function recordOf(row: Row): JobRecord {
  const attempts = (row.attempts_json as Row[]).map((a) => attemptOf(a, JSON_PARSED));
  const logs = (row.logs_json as Row[]).map(logLineOf);
  return jobRecordOf(row, attempts, logs, JSON_PARSED);
}
