/**
 * Rows of the SQL stores → the records the `JobStore` verbs return, written once. SQLite
 * and PostgreSQL share the schema's column names; they differ only in how a JSON column
 * arrives (text in SQLite, parsed `jsonb` from PostgreSQL), which a {@link JsonColumn}
 * reader hides.
 *
 * @module
 */
import type {
  AttemptError,
  AttemptOutcome,
  AttemptRecord,
  JobDefinition,
  JobLogLine,
  JobProgress,
  JobRecord,
} from "../shared/job.ts";
import { storedJobState } from "../shared/job.ts";
import { priorityAt } from "../shared/priority.ts";
import type { ClaimedJob, LeaseRecord, ReadyEntry, ScheduleRecord } from "./types.ts";

/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

/** Reads a JSON column's value (`null` for SQL `NULL` or unreadable text). */
export type JsonColumn = (value: unknown) => unknown;

/** JSON stored as text (SQLite). */
export const JSON_TEXT: JsonColumn = (value) => {
  if (value === null || value === undefined) return null;
  try {
    return JSON.parse(String(value));
  } catch {
    return null;
  }
};

/** JSON the driver already parsed (PostgreSQL `jsonb`). */
export const JSON_PARSED: JsonColumn = (value) => value ?? null;

/** A nullable number column. */
export function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** A nullable text column. */
export function stringOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** The `leases` column: the resources a job must hold (none when `NULL`). */
export function leasesOf(value: unknown, json: JsonColumn): string[] {
  const parsed = json(value);
  return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === "string") : [];
}

/** A `job_attempts` row (its worker reads `<node>/<worker>` when a node ran it). */
export function attemptOf(row: Row, json: JsonColumn): AttemptRecord {
  const node = stringOrNull(row.node);
  return {
    attempt: Number(row.attempt),
    worker: node === null ? String(row.worker) : `${node}/${String(row.worker)}`,
    startedAt: Number(row.started_at),
    endedAt: numberOrNull(row.ended_at),
    outcome: row.outcome === null || row.outcome === undefined
      ? null
      : row.outcome as AttemptOutcome,
    error: json(row.error) as AttemptError | null,
  };
}

/** A `job_logs` row. */
export function logLineOf(row: Row): JobLogLine {
  return { at: Number(row.at), message: String(row.message) };
}

/** What a `jobs` row says the job is: its definition, the part records and claims share. */
function definitionOf(row: Row, json: JsonColumn): JobDefinition {
  return {
    kind: String(row.kind),
    payload: String(row.payload),
    priority: priorityAt(Number(row.priority)),
    timeoutMs: numberOrNull(row.timeout_ms),
    maxAttempts: Number(row.max_attempts),
    backoff: { baseMs: Number(row.backoff_base_ms), maxMs: Number(row.backoff_max_ms) },
    uniqueKey: stringOrNull(row.unique_key),
    leases: leasesOf(row.leases, json),
  };
}

/** A `jobs` row, with its attempts and log lines, as a record. */
export function jobRecordOf(
  row: Row,
  attempts: AttemptRecord[],
  logs: JobLogLine[],
  json: JsonColumn,
): JobRecord {
  return {
    id: String(row.id),
    ...definitionOf(row, json),
    state: storedJobState(String(row.state)),
    createdAt: Number(row.created_at),
    runAt: Number(row.run_at),
    readyAt: numberOrNull(row.ready_at),
    seq: Number(row.seq),
    attempts,
    failures: Number(row.failures),
    interruptions: Number(row.interruptions),
    progress: json(row.progress) as JobProgress | null,
    logs,
    result: stringOrNull(row.result),
    lastError: json(row.last_error) as AttemptError | null,
    finishedAt: numberOrNull(row.finished_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A claimed `jobs` row (after `attempt_count` went up) as the executor runs it. */
export function claimedJobOf(row: Row, json: JsonColumn): ClaimedJob {
  return {
    id: String(row.id),
    ...definitionOf(row, json),
    createdAt: Number(row.created_at),
    attempt: Number(row.attempt_count),
    failures: Number(row.failures),
    interruptions: Number(row.interruptions),
  };
}

/**
 * A queued `jobs` row (`id, kind, priority, seq, ready_at, leases`) as a ready entry; `seq`
 * and `readyAt` given override the row's.
 */
export function readyEntryOf(
  row: Row,
  json: JsonColumn,
  given: { seq?: number; readyAt?: number } = {},
): ReadyEntry {
  return {
    id: String(row.id),
    kind: String(row.kind),
    level: Number(row.priority),
    seq: given.seq ?? Number(row.seq),
    readyAt: given.readyAt ?? Number(row.ready_at),
    leases: leasesOf(row.leases, json),
  };
}

/** A `schedules` row. */
export function scheduleRecordOf(row: Row, json: JsonColumn): ScheduleRecord {
  return {
    name: String(row.name),
    source: row.source === "api" ? "api" : "module",
    timing: json(row.timing) as ScheduleRecord["timing"],
    job: json(row.job) as ScheduleRecord["job"],
    overlap: row.overlap === "queue" ? "queue" : "skip",
    missed: row.missed === "run-once" ? "run-once" : "skip",
    paused: row.paused === true || Number(row.paused) === 1,
    nextDueAt: numberOrNull(row.next_due_at),
    lastDueAt: numberOrNull(row.last_due_at),
    lastJobId: stringOrNull(row.last_job_id),
    lastSkipped: stringOrNull(row.last_skipped),
    runs: Number(row.runs),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A `leases` row. */
export function leaseRecordOf(row: Row): LeaseRecord {
  return {
    resource: String(row.resource),
    holder: String(row.holder),
    token: String(row.token),
    priority: priorityAt(Number(row.priority)),
    jobId: stringOrNull(row.job_id),
    acquiredAt: Number(row.acquired_at),
    expiresAt: Number(row.expires_at),
  };
}
