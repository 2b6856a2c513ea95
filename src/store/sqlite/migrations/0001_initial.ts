/**
 * Migration 1: jobs, their attempts and their log lines.
 *
 * @module
 */

/** The SQL of migration 1. */
export const sql = `
CREATE TABLE jobs (
  id              TEXT PRIMARY KEY,
  kind            TEXT NOT NULL,
  payload         TEXT NOT NULL,
  priority        INTEGER NOT NULL,
  state           TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  run_at          INTEGER NOT NULL,
  ready_at        INTEGER,
  seq             INTEGER NOT NULL DEFAULT 0,
  timeout_ms      INTEGER,
  max_attempts    INTEGER NOT NULL,
  backoff_base_ms INTEGER NOT NULL,
  backoff_max_ms  INTEGER NOT NULL,
  unique_key      TEXT,
  attempt_count   INTEGER NOT NULL DEFAULT 0,
  failures        INTEGER NOT NULL DEFAULT 0,
  interruptions   INTEGER NOT NULL DEFAULT 0,
  progress        TEXT,
  result          TEXT,
  last_error      TEXT,
  finished_at     INTEGER,
  updated_at      INTEGER NOT NULL
) STRICT;

-- The ready window: queued jobs of one priority in queue order.
CREATE INDEX jobs_ready ON jobs (priority, seq) WHERE state = 'queued';
-- Due scheduled jobs without scanning the table.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'scheduled';
-- One live job per unique key.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
  WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');
-- Retention and listing.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_kind ON jobs (kind, id);

CREATE TABLE job_attempts (
  job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt    INTEGER NOT NULL,
  worker     TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at   INTEGER,
  outcome    TEXT,
  error      TEXT,
  PRIMARY KEY (job_id, attempt)
) STRICT, WITHOUT ROWID;

CREATE TABLE job_logs (
  job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  line    INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (job_id, line)
) STRICT, WITHOUT ROWID;
`;
