/**
 * Every SQL statement of the SQLite store, one per verb step, prepared once at `open()`.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { LIVE_STATES } from "../_rules.ts";

/** The prepared statements, by what they do. */
export interface Statements {
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
  recoverDead: StatementSync;
  pruneOld: StatementSync;
  pruneOldest: StatementSync;
  deleteJob: StatementSync;
  maxSeq: StatementSync;
  countJobs: StatementSync;
  listSchedules: StatementSync;
  putSchedule: StatementSync;
  deleteSchedule: StatementSync;
  recordScheduleRun: StatementSync;
  listLeases: StatementSync;
  leaseOf: StatementSync;
  deleteLease: StatementSync;
  writeLease: StatementSync;
}

/** Prepares every statement on `db`. */
export function prepare(db: DatabaseSync): Statements {
  const live = LIVE_STATES.map((s) => `'${s}'`).join(", ");
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
       RETURNING id, kind, payload, priority, timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms,
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
       RETURNING id, kind, priority, leases`,
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
       WHERE id = ? AND state = 'scheduled' RETURNING id, kind, priority, leases`,
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
      `UPDATE jobs SET state = 'queued', failures = 0, interruptions = 0, finished_at = NULL, ready_at = ?, seq = ?, updated_at = ?
       WHERE id = ? RETURNING id, kind, priority, leases`,
    ),
    running: db.prepare(
      "SELECT id, kind, priority, attempt_count, interruptions FROM jobs WHERE state = 'running'",
    ),
    recover: db.prepare(
      `UPDATE jobs SET state = 'queued', interruptions = interruptions + 1, ready_at = ?, seq = ?,
         updated_at = ?, last_error = ? WHERE id = ?`,
    ),
    recoverDead: db.prepare(
      `UPDATE jobs SET state = 'dead', interruptions = interruptions + 1, ready_at = NULL,
         finished_at = ?, updated_at = ?, last_error = ? WHERE id = ?`,
    ),
    pruneOld: db.prepare(
      `SELECT id, state, priority FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ?
       ORDER BY finished_at LIMIT ?`,
    ),
    pruneOldest: db.prepare(
      "SELECT id, state, priority FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at LIMIT ?",
    ),
    deleteJob: db.prepare("DELETE FROM jobs WHERE id = ?"),
    maxSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM jobs"),
    countJobs: db.prepare(
      "SELECT state, priority, COUNT(*) AS n FROM jobs GROUP BY state, priority",
    ),
    listSchedules: db.prepare("SELECT * FROM schedules ORDER BY name"),
    putSchedule: db.prepare(
      `INSERT INTO schedules (name, source, timing, job, overlap, missed, paused, next_due_at, last_due_at,
         last_job_id, last_skipped, runs, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET source = excluded.source, timing = excluded.timing, job = excluded.job,
         overlap = excluded.overlap, missed = excluded.missed, paused = excluded.paused,
         next_due_at = excluded.next_due_at, last_due_at = excluded.last_due_at,
         last_job_id = excluded.last_job_id, last_skipped = excluded.last_skipped, runs = excluded.runs,
         updated_at = excluded.updated_at`,
    ),
    deleteSchedule: db.prepare("DELETE FROM schedules WHERE name = ?"),
    recordScheduleRun: db.prepare(
      `UPDATE schedules SET last_due_at = ?, next_due_at = ?, last_job_id = ?, last_skipped = ?, runs = ?,
         updated_at = ? WHERE name = ? AND last_due_at IS ?`,
    ),
    listLeases: db.prepare("SELECT * FROM leases ORDER BY resource"),
    leaseOf: db.prepare("SELECT token, expires_at FROM leases WHERE resource = ?"),
    deleteLease: db.prepare("DELETE FROM leases WHERE resource = ? AND token = ?"),
    writeLease: db.prepare(
      `INSERT INTO leases (resource, holder, token, priority, job_id, acquired_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (resource) DO UPDATE SET holder = excluded.holder, token = excluded.token,
         priority = excluded.priority, job_id = excluded.job_id, acquired_at = excluded.acquired_at,
         expires_at = excluded.expires_at
       WHERE leases.expires_at <= ? OR leases.token IS ?`,
    ),
  };
}
