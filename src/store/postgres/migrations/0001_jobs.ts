/**
 * Migration 1: jobs, their attempts and log lines, the queue sequence, schedules and
 * territory leases (what the SQLite store holds after its migration 2). Runs with the
 * store's schema first on the `search_path`: names are unqualified.
 *
 * @module
 */

/** The SQL of migration 1. */
export const sql = `
-- Every entry into 'queued' takes the next value: the ready queue's order.
CREATE SEQUENCE job_seq AS bigint;

CREATE TABLE jobs (
  id              text PRIMARY KEY,
  kind            text NOT NULL,
  payload         text NOT NULL,
  priority        smallint NOT NULL CHECK (priority BETWEEN 0 AND 4),
  state           text NOT NULL CHECK (state IN
                    ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
  created_at      bigint NOT NULL,
  run_at          bigint NOT NULL,
  ready_at        bigint,
  seq             bigint NOT NULL DEFAULT 0,
  timeout_ms      bigint,
  max_attempts    integer NOT NULL,
  backoff_base_ms bigint NOT NULL,
  backoff_max_ms  bigint NOT NULL,
  unique_key      text,
  leases          jsonb,
  attempt_count   integer NOT NULL DEFAULT 0,
  failures        integer NOT NULL DEFAULT 0,
  interruptions   integer NOT NULL DEFAULT 0,
  progress        jsonb,
  result          text,
  last_error      jsonb,
  finished_at     bigint,
  updated_at      bigint NOT NULL
);

-- The ready window: queued jobs of one priority in queue order.
CREATE INDEX jobs_ready ON jobs (priority, seq) WHERE state = 'queued';
-- Due scheduled jobs without scanning the table.
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'scheduled';
-- One live job per unique key, across every runtime sharing the database.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
  WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');
-- Retention, listing and counts.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_kind ON jobs (kind, id);

CREATE TABLE job_attempts (
  job_id     text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt    integer NOT NULL,
  worker     text NOT NULL,
  started_at bigint NOT NULL,
  ended_at   bigint,
  outcome    text,
  error      jsonb,
  PRIMARY KEY (job_id, attempt)
);

CREATE TABLE job_logs (
  job_id  text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  line    integer NOT NULL,
  at      bigint NOT NULL,
  message text NOT NULL,
  PRIMARY KEY (job_id, line)
);

CREATE TABLE schedules (
  name         text PRIMARY KEY,
  source       text NOT NULL,
  timing       jsonb NOT NULL,
  job          jsonb NOT NULL,
  overlap      text NOT NULL,
  missed       text NOT NULL,
  paused       boolean NOT NULL DEFAULT false,
  next_due_at  bigint,
  last_due_at  bigint,
  last_job_id  text,
  last_skipped text,
  runs         integer NOT NULL DEFAULT 0,
  created_at   bigint NOT NULL,
  updated_at   bigint NOT NULL
);

CREATE TABLE leases (
  resource    text PRIMARY KEY,
  holder      text NOT NULL,
  token       text NOT NULL,
  priority    smallint NOT NULL,
  job_id      text,
  acquired_at bigint NOT NULL,
  expires_at  bigint NOT NULL
);
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE INDEX leases_job ON leases (job_id) WHERE job_id IS NOT NULL;
`;
