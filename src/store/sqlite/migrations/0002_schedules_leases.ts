/**
 * Migration 2: leases a job needs, recurring schedules, and territory leases.
 *
 * @module
 */

/** The SQL of migration 2. */
export const sql = `
ALTER TABLE jobs ADD COLUMN leases TEXT;

CREATE TABLE schedules (
  name         TEXT PRIMARY KEY,
  source       TEXT NOT NULL,
  timing       TEXT NOT NULL,
  job          TEXT NOT NULL,
  overlap      TEXT NOT NULL,
  missed       TEXT NOT NULL,
  paused       INTEGER NOT NULL DEFAULT 0,
  next_due_at  INTEGER,
  last_due_at  INTEGER,
  last_job_id  TEXT,
  last_skipped TEXT,
  runs         INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE leases (
  resource    TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  token       TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  job_id      TEXT,
  acquired_at INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX leases_expiry ON leases (expires_at);
`;
