/**
 * Migration 2: the runtimes sharing the database (`nodes`, kept alive by heartbeats), which
 * node runs each job and ran each attempt, and cancellations asked of a job running on
 * another node.
 *
 * @module
 */

/** The SQL of migration 2. */
export const sql = `
CREATE TABLE nodes (
  id           text PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  version      text NOT NULL,
  -- Database time (now()), so that liveness never depends on the nodes' clocks.
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopping     boolean NOT NULL DEFAULT false
);

ALTER TABLE jobs ADD COLUMN node_id text;
ALTER TABLE jobs ADD COLUMN cancel_requested_at bigint;
ALTER TABLE job_attempts ADD COLUMN node_id text;

-- Running jobs per node: liveness sweeps and node listings.
CREATE INDEX jobs_running_node ON jobs (node_id) WHERE state = 'running';
`;
