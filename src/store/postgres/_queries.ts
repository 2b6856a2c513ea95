/**
 * The Postgres store's SQL for jobs, schedules and leases: one statement per function
 * (Graphile Worker's `src/sql/`). Batches travel as one JSON text parameter, unpacked with
 * `jsonb_to_recordset` (the driver runs without fetched types, so it sends no arrays). The
 * node queries (heartbeat, sweep) are in `_node_queries.ts`.
 *
 * @module
 */
import type { JobFilter, LeaseRecord, ScheduleRecord, ScheduleRun } from "../types.ts";
import type { Row } from "../_rows.ts";
import { CANCELLED_BEFORE_RUN } from "../_rules.ts";
import { ENDED_IDS_PER_NOTIFY, leasesChanged } from "./_notify.ts";
import {
  ADVISORY_LOCK_CLASS,
  anyId,
  hash32,
  type PostgresState,
  roundMs,
  roundMsOrNull,
  type Sql,
  type Tx,
} from "./_state.ts";

/** The columns of a job row a record is built from, with its attempts and logs as JSON. */
const RECORD_COLUMNS = `j.*,
  (SELECT coalesce(json_agg(json_build_object('attempt', a.attempt, 'worker', a.worker,
      'node', a.node_id, 'started_at', a.started_at, 'ended_at', a.ended_at,
      'outcome', a.outcome, 'error', a.error) ORDER BY a.attempt), '[]')
   FROM job_attempts a WHERE a.job_id = j.id) AS attempts_json,
  (SELECT coalesce(json_agg(json_build_object('at', l.at, 'message', l.message) ORDER BY l.line), '[]')
   FROM job_logs l WHERE l.job_id = j.id) AS logs_json`;

const CANCELLED_ERROR = JSON.stringify(CANCELLED_BEFORE_RUN);

// ── Insert ────────────────────────────────────────────────────────────────────────────

/** A job to insert, as `insertJobs` reads it from JSON. */
export interface JobInsertRow {
  i: number;
  id: string;
  kind: string;
  payload: string;
  priority: number;
  created_at: number;
  run_at: number;
  timeout_ms: number | null;
  max_attempts: number;
  backoff_base_ms: number;
  backoff_max_ms: number;
  unique_key: string | null;
  leases: readonly string[] | null;
}

/**
 * Inserts jobs (queued when due at `now`, else scheduled), skipping those whose unique key a
 * live job holds. Returns the rows created.
 */
export function insertJobs(tx: Tx, rows: readonly JobInsertRow[], now: number): Promise<Row[]> {
  return tx`
    INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, ready_at, seq,
      timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms, unique_key, leases, updated_at)
    SELECT x.id, x.kind, x.payload, x.priority,
      CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN 'queued' ELSE 'scheduled' END,
      x.created_at, x.run_at,
      CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN ${roundMs(now)}::bigint END,
      CASE WHEN x.run_at <= ${roundMs(now)}::bigint THEN nextval('job_seq') ELSE 0 END,
      x.timeout_ms, x.max_attempts, x.backoff_base_ms, x.backoff_max_ms, x.unique_key, x.leases,
      ${roundMs(now)}::bigint
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) AS x(i int, id text, kind text,
      payload text, priority smallint, created_at bigint, run_at bigint, timeout_ms bigint,
      max_attempts int, backoff_base_ms bigint, backoff_max_ms bigint, unique_key text, leases jsonb)
    ORDER BY x.i
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
      AND state IN ('scheduled', 'queued', 'running') DO NOTHING
    RETURNING id, state, seq, leases, kind, priority`;
}

/** The live jobs holding any of `keys`. */
export function liveHoldersOf(tx: Tx, keys: readonly string[]): Promise<Row[]> {
  return tx`
    SELECT id, state, unique_key FROM jobs
    WHERE unique_key IN (SELECT jsonb_array_elements_text(${JSON.stringify(keys)}::text::jsonb))
      AND state IN ('scheduled', 'queued', 'running')`;
}

// ── Ready queue ───────────────────────────────────────────────────────────────────────

/** Up to `limit` queued jobs of one level after `afterSeq`, in seq order. */
export function selectReady(
  sql: Sql,
  level: number,
  afterSeq: number,
  limit: number,
): Promise<Row[]> {
  return sql`
    SELECT id, kind, priority, seq, ready_at, leases FROM jobs
    WHERE state = 'queued' AND priority = ${level} AND seq > ${roundMs(afterSeq)}::bigint
    ORDER BY seq LIMIT ${Math.max(0, Math.floor(limit))}`;
}

/** A claim to make, as `claimJobs` reads it from JSON. */
export interface ClaimRow {
  id: string;
  worker: string;
  at: number;
}

/**
 * Claims the still-queued jobs of `rows` for this node (rows others hold are skipped) and
 * opens an attempt on each. Returns the claimed rows.
 */
export function claimJobs(
  q: Sql | Tx,
  state: PostgresState,
  rows: readonly ClaimRow[],
): Promise<Row[]> {
  return q`
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
        attempt_count = j.attempt_count + 1, updated_at = r.at, node_id = ${state.nodeId},
        cancel_requested_at = NULL
      FROM req r
      WHERE j.id = r.id AND j.id IN (SELECT id FROM picked)
      RETURNING j.id, j.kind, j.payload, j.priority, j.timeout_ms, j.max_attempts,
        j.backoff_base_ms, j.backoff_max_ms, j.unique_key, j.leases, j.created_at,
        j.attempt_count, j.failures, j.interruptions, r.worker, r.at
    ), opened AS (
      INSERT INTO job_attempts (job_id, attempt, worker, node_id, started_at)
      SELECT id, attempt_count, worker, ${state.nodeId}, at FROM claimed
    )
    SELECT * FROM claimed`;
}

/** Takes the cluster-wide lock of a kind with a concurrency limit (held to the commit). */
export async function lockKind(tx: Tx, state: PostgresState, kind: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${
    hash32(`kind:${state.schema}:${kind}`)
  }::int)`;
}

/** How many jobs of each of `kinds` run, across every node. */
export function countRunningByKind(tx: Tx, kinds: readonly string[]): Promise<Row[]> {
  return tx`
    SELECT kind, count(*)::int AS n FROM jobs
    WHERE state = 'running' AND kind IN ${tx(kinds as string[])} GROUP BY kind`;
}

// ── Settle ────────────────────────────────────────────────────────────────────────────

/** A settlement, as `settleJobs` reads it from JSON. */
export interface SettleRow {
  i: number;
  id: string;
  attempt: number;
  ended_at: number;
  outcome: string;
  error: unknown;
  result: string | null;
  next: string;
  run_at: number | null;
  final: boolean;
}

/**
 * One statement: closes the open attempts and moves the jobs still running that attempt;
 * notifies `finished` per kind and `ended` for jobs that reached a final state. Returns the
 * moved rows (`id, kind, priority, seq, leases, next, ended_at, final`).
 */
export function settleJobs(
  q: Sql | Tx,
  state: PostgresState,
  rows: readonly SettleRow[],
): Promise<Row[]> {
  const ids = rows.map((r) => r.id);
  return q`
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
    SELECT m.*, (SELECT count(pg_notify(${state.jobsChannel}, json_build_object('node',
        ${state.nodeId}::text, 'kind', 'finished', 'jobKind', k.kind)::text))
      FROM (SELECT DISTINCT kind FROM moved) k) AS notified,
      (SELECT count(pg_notify(${state.jobsChannel}, json_build_object('node',
        ${state.nodeId}::text, 'kind', 'ended', 'ids', e.ids)::text))
      FROM (SELECT json_agg(f.id) AS ids FROM (
        SELECT id, (row_number() OVER ()) / ${ENDED_IDS_PER_NOTIFY} AS chunk
        FROM moved WHERE final) f GROUP BY f.chunk) e) AS ended
    FROM moved m`;
}

// ── Progress and logs ─────────────────────────────────────────────────────────────────

/** Writes the progress of running jobs; rows a settle holds are skipped (never waited on). */
export function writeProgress(tx: Tx, rows: readonly { id: string; p: unknown }[]): Promise<Row[]> {
  return tx`
    UPDATE jobs j SET progress = x.p
    FROM (SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
      AS r(id text, p jsonb)) x
    WHERE j.id = x.id AND j.id IN (
      SELECT id FROM jobs WHERE id = x.id AND state = 'running' FOR UPDATE SKIP LOCKED)`;
}

/** Appends log lines (in `i` order per job) to the jobs that exist. */
export function appendLogLines(
  tx: Tx,
  lines: readonly { i: number; id: string; at: number; message: string }[],
): Promise<Row[]> {
  return tx`
    WITH x AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(lines)}::text::jsonb)
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
}

/** Keeps the newest `MAX_LOG_LINES` lines of each of `ids`. */
export function trimLogs(tx: Tx, ids: readonly string[], keep: number): Promise<Row[]> {
  return tx`
    DELETE FROM job_logs l USING (
      SELECT job_id, max(line) AS top FROM job_logs
      WHERE job_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::text::jsonb))
      GROUP BY job_id) t
    WHERE l.job_id = t.job_id AND l.line <= t.top - ${keep}`;
}

// ── Scheduled jobs ────────────────────────────────────────────────────────────────────

/** One row when a scheduled job is due at `now` (looked at without the seq lock). */
export function anyDue(sql: Sql, now: number): Promise<Row[]> {
  return sql`
    SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= ${roundMs(now)}::bigint LIMIT 1`;
}

/** Moves up to `limit` due jobs (run-at order, rows others hold skipped) to `queued`. */
export function promoteDueJobs(tx: Tx, now: number, limit: number): Promise<Row[]> {
  return tx`
    WITH due AS MATERIALIZED (
      SELECT id FROM jobs
      WHERE state = 'scheduled' AND run_at <= ${roundMs(now)}::bigint
      ORDER BY run_at, id LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), numbered AS MATERIALIZED (
      SELECT id, nextval('job_seq') AS new_seq FROM due
    )
    UPDATE jobs j SET state = 'queued', ready_at = ${roundMs(now)}::bigint, seq = n.new_seq,
      updated_at = ${roundMs(now)}::bigint
    FROM numbered n WHERE j.id = n.id
    RETURNING j.id, j.kind, j.priority, j.seq, j.leases`;
}

/** The earliest scheduled job's run-at. */
export function selectNextDue(sql: Sql): Promise<Row[]> {
  return sql`
    SELECT run_at FROM jobs WHERE state = 'scheduled' ORDER BY run_at, id LIMIT 1`;
}

// ── Cancel and retry ──────────────────────────────────────────────────────────────────

/** Locks job `id` and returns its state, node and unique key. */
export function lockJob(tx: Tx, id: string): Promise<Row[]> {
  return tx`SELECT state, node_id, unique_key FROM jobs WHERE id = ${id} FOR UPDATE`;
}

/** Cancels a scheduled or queued job. */
export function cancelWaiting(tx: Tx, id: string, at: number): Promise<Row[]> {
  return tx`
    UPDATE jobs SET state = 'cancelled', ready_at = NULL, finished_at = ${roundMs(at)}::bigint,
      updated_at = ${roundMs(at)}::bigint, last_error = ${CANCELLED_ERROR}::text::jsonb
    WHERE id = ${id}`;
}

/** Records that running job `id` was asked to cancel (its node's heartbeat re-announces it). */
export function requestCancel(tx: Tx, id: string, at: number): Promise<Row[]> {
  return tx`UPDATE jobs SET cancel_requested_at = ${roundMs(at)}::bigint WHERE id = ${id}`;
}

/** The live job holding unique key `key`, if any. */
export function liveHolderOf(tx: Tx, key: string): Promise<Row[]> {
  return tx`
    SELECT id FROM jobs WHERE unique_key = ${key}
      AND state IN ('scheduled', 'queued', 'running')`;
}

/** Queues a dead or cancelled job again with a fresh attempt budget. */
export function requeueForRetry(tx: Tx, id: string, at: number): Promise<Row[]> {
  return tx`
    UPDATE jobs SET state = 'queued', failures = 0, interruptions = 0, finished_at = NULL,
      ready_at = ${roundMs(at)}::bigint, seq = nextval('job_seq'), updated_at = ${
    roundMs(at)
  }::bigint
    WHERE id = ${id} RETURNING id, kind, priority, seq, leases`;
}

// ── Reading ───────────────────────────────────────────────────────────────────────────

/** Job `id` with its attempts and logs. */
export function selectJob(sql: Sql, id: string): Promise<Row[]> {
  return sql`SELECT ${sql.unsafe(RECORD_COLUMNS)} FROM jobs j WHERE j.id = ${id}`;
}

/** Jobs matching `filter`, newest first, with their attempts and logs. */
export function selectJobs(sql: Sql, filter: JobFilter, limit: number): Promise<Row[]> {
  return sql`
    SELECT ${sql.unsafe(RECORD_COLUMNS)} FROM jobs j
    WHERE true
      ${filter.state === undefined ? sql`` : sql`AND j.state = ${filter.state}`}
      ${filter.kind === undefined ? sql`` : sql`AND j.kind = ${filter.kind}`}
    ORDER BY j.id DESC LIMIT ${limit}`;
}

/** Jobs per state and priority. */
export function countJobs(sql: Sql): Promise<Row[]> {
  return sql`SELECT state, priority, count(*)::int AS n FROM jobs GROUP BY state, priority`;
}

// ── Prune ─────────────────────────────────────────────────────────────────────────────

/** Deletes up to `limit` jobs finished before `before`, oldest first. */
export function deleteFinishedBefore(tx: Tx, before: number, limit: number): Promise<Row[]> {
  return tx`
    DELETE FROM jobs WHERE id IN (
      SELECT id FROM jobs
      WHERE finished_at IS NOT NULL AND finished_at < ${roundMs(before)}::bigint
      ORDER BY finished_at LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING id`;
}

/** How many jobs are finished. */
export function countFinished(tx: Tx): Promise<Row[]> {
  return tx`SELECT count(*)::int AS n FROM jobs WHERE finished_at IS NOT NULL`;
}

/** Deletes the `count` oldest finished jobs. */
export function deleteOldestFinished(tx: Tx, count: number): Promise<Row[]> {
  return tx`
    DELETE FROM jobs WHERE id IN (
      SELECT id FROM jobs WHERE finished_at IS NOT NULL
      ORDER BY finished_at LIMIT ${count}
      FOR UPDATE SKIP LOCKED)
    RETURNING id`;
}

// ── Schedules ─────────────────────────────────────────────────────────────────────────

/** Every schedule, by name. */
export function selectSchedules(sql: Sql): Promise<Row[]> {
  return sql`SELECT * FROM schedules ORDER BY name`;
}

/** Creates or replaces a schedule. */
export function upsertSchedule(sql: Sql, r: ScheduleRecord): Promise<Row[]> {
  return sql`
    INSERT INTO schedules (name, source, timing, job, overlap, missed, paused, next_due_at,
      last_due_at, last_job_id, last_skipped, runs, created_at, updated_at)
    VALUES (${r.name}, ${r.source}, ${JSON.stringify(r.timing)}::text::jsonb,
      ${JSON.stringify(r.job)}::text::jsonb, ${r.overlap}, ${r.missed}, ${r.paused},
      ${roundMsOrNull(r.nextDueAt)}::bigint, ${roundMsOrNull(r.lastDueAt)}::bigint, ${r.lastJobId},
      ${r.lastSkipped}, ${r.runs}, ${roundMs(r.createdAt)}::bigint, ${roundMs(r.updatedAt)}::bigint)
    ON CONFLICT (name) DO UPDATE SET source = excluded.source, timing = excluded.timing,
      job = excluded.job, overlap = excluded.overlap, missed = excluded.missed,
      paused = excluded.paused, next_due_at = excluded.next_due_at,
      last_due_at = excluded.last_due_at, last_job_id = excluded.last_job_id,
      last_skipped = excluded.last_skipped, runs = excluded.runs, updated_at = excluded.updated_at`;
}

/** Deletes a schedule; returns its name when there was one. */
export function deleteSchedule(sql: Sql, name: string): Promise<Row[]> {
  return sql`DELETE FROM schedules WHERE name = ${name} RETURNING name`;
}

/** Records a run if the last due time is still `expected`; returns the name when it was. */
export function updateScheduleRun(
  sql: Sql,
  name: string,
  expected: number | null,
  run: ScheduleRun,
): Promise<Row[]> {
  return sql`
    UPDATE schedules SET last_due_at = ${roundMs(run.lastDueAt)}::bigint,
      next_due_at = ${roundMsOrNull(run.nextDueAt)}::bigint, last_job_id = ${run.lastJobId},
      last_skipped = ${run.lastSkipped}, runs = ${run.runs}, updated_at = ${roundMs(run.at)}::bigint
    WHERE name = ${name}
      AND last_due_at IS NOT DISTINCT FROM ${roundMsOrNull(expected)}::bigint
    RETURNING name`;
}

// ── Leases ────────────────────────────────────────────────────────────────────────────

/** Every lease, by resource. */
export function selectLeases(sql: Sql): Promise<Row[]> {
  return sql`SELECT * FROM leases ORDER BY resource`;
}

/** The token and expiry of the lease on `resource`. */
export function selectLease(tx: Tx, resource: string): Promise<Row[]> {
  return tx`SELECT token, expires_at FROM leases WHERE resource = ${resource}`;
}

/** The live leases of holders other than `lease`'s on other resources. */
export function liveLeasesOfOthers(tx: Tx, lease: LeaseRecord, now: number): Promise<Row[]> {
  return tx`
    SELECT resource, token FROM leases
    WHERE expires_at > ${roundMs(now)}::bigint AND resource <> ${lease.resource}
      AND holder <> ${lease.holder}`;
}

/** Deletes the lease on `resource` if it has `token` (no notification). */
export function deleteLeaseQuietly(tx: Tx, resource: string, token: string): Promise<Row[]> {
  return tx`DELETE FROM leases WHERE resource = ${resource} AND token = ${token}`;
}

/**
 * Writes `lease` if its resource is free, expired at `now` or held with `expectedToken`;
 * notifies `leases`. Returns a row when written.
 */
export function writeLease(
  tx: Tx,
  state: PostgresState,
  lease: LeaseRecord,
  level: number,
  expectedToken: string | null,
  now: number,
): Promise<Row[]> {
  return tx`
    INSERT INTO leases (resource, holder, token, priority, job_id, acquired_at, expires_at)
    VALUES (${lease.resource}, ${lease.holder}, ${lease.token}, ${level},
      ${lease.jobId}, ${roundMs(lease.acquiredAt)}::bigint, ${roundMs(lease.expiresAt)}::bigint)
    ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, token = excluded.token,
      priority = excluded.priority, job_id = excluded.job_id,
      acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
    WHERE leases.expires_at <= ${roundMs(now)}::bigint
      OR leases.token IS NOT DISTINCT FROM ${expectedToken}::text
    RETURNING resource, ${leasesChanged(tx, state)} AS notified`;
}

/** Deletes the lease on `resource` if it has `token`, and notifies `leases`. */
export function releaseLease(
  sql: Sql,
  state: PostgresState,
  resource: string,
  token: string,
): Promise<Row[]> {
  return sql`
    DELETE FROM leases WHERE resource = ${resource} AND token = ${token}
    RETURNING resource, ${leasesChanged(sql, state)} AS notified`;
}
