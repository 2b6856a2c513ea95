/**
 * The Postgres store's SQL for nodes: registering, the heartbeat, the sweep of dead nodes'
 * jobs, cancellations to re-announce. One statement per function. Liveness is judged on
 * the database's clock (`now()`), never on the nodes' clocks.
 *
 * @module
 */
import type { AttemptError } from "../../shared/job.ts";
import type { Row } from "../_rows.ts";
import type { RecoveredDead } from "../types.ts";
import { ENDED_IDS_PER_NOTIFY } from "./_notify.ts";
import { type Fragment, type PostgresState, roundMs, type Sql, type Tx } from "./_state.ts";

/** Rows recovered per statement by the liveness sweep. */
export const SWEEP_BATCH = 1_000;

/** Every node with its liveness and how many jobs it runs, oldest first. */
export function selectNodes(sql: Sql, nodeTimeoutMs: number): Promise<Row[]> {
  return sql`
    SELECT n.id, n.host, n.pid, n.version, n.stopping,
      (extract(epoch FROM n.started_at) * 1000)::float8 AS started_ms,
      (extract(epoch FROM n.heartbeat_at) * 1000)::float8 AS heartbeat_ms,
      n.heartbeat_at > now() - ${nodeTimeoutMs}::float8 * interval '1 millisecond' AS alive,
      (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.node_id = n.id)::int AS running
    FROM nodes n ORDER BY n.started_at, n.id`;
}

/** Marks node `id` stopping. */
export function markNodeStopping(sql: Sql, id: string): Promise<Row[]> {
  return sql`UPDATE nodes SET stopping = true WHERE id = ${id}`;
}

/** Removes node `id`. */
export function deleteNode(sql: Sql, id: string): Promise<Row[]> {
  return sql`DELETE FROM nodes WHERE id = ${id}`;
}

/** Locks the row of node `id`, with whether it is alive and how long it has been silent. */
export function lockNode(tx: Tx, id: string, nodeTimeoutMs: number): Promise<Row[]> {
  return tx`
    SELECT host, pid, heartbeat_at > now() - ${nodeTimeoutMs}::float8
        * interval '1 millisecond' AS alive,
      round(extract(epoch FROM now() - heartbeat_at))::int AS silent_s
    FROM nodes WHERE id = ${id} FOR UPDATE`;
}

/** Registers (or re-registers) a node as just started. */
export function upsertNode(
  tx: Tx,
  node: { id: string; host: string; pid: number; version: string },
): Promise<Row[]> {
  return tx`
    INSERT INTO nodes (id, host, pid, version) VALUES (${node.id}, ${node.host}, ${node.pid}, ${node.version})
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid,
      version = excluded.version, started_at = now(), heartbeat_at = now(), stopping = false`;
}

/** Beats node `id`'s heartbeat; no row when the node is gone from `nodes`. */
export function beatHeartbeat(sql: Sql, id: string): Promise<Row[]> {
  return sql`UPDATE nodes SET heartbeat_at = now() WHERE id = ${id} RETURNING id`;
}

/** Puts a node another took for dead back in `nodes`, beating. */
export function reinsertNode(
  sql: Sql,
  node: { id: string; host: string; pid: number; version: string },
): Promise<Row[]> {
  return sql`
    INSERT INTO nodes (id, host, pid, version) VALUES (${node.id}, ${node.host}, ${node.pid}, ${node.version})
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`;
}

/** The condition on `jobs j` of a job run by a node that is gone (not this one). */
export function ranByGoneNode(q: Sql | Tx, state: PostgresState): Fragment {
  return q`j.node_id IS DISTINCT FROM ${state.nodeId} AND NOT EXISTS (
    SELECT 1 FROM nodes n WHERE n.id = j.node_id
      AND n.heartbeat_at > now() - ${state.nodeTimeoutMs}::float8 * interval '1 millisecond')`;
}

/** One row when a running job matches `which` (looked at without the seq lock). */
export function anyRunning(sql: Sql, which: Fragment): Promise<Row[]> {
  return sql`SELECT 1 FROM jobs j WHERE j.state = 'running' AND ${which} LIMIT 1`;
}

/**
 * Requeues up to {@link SWEEP_BATCH} running jobs matching `which` (a condition on
 * `jobs j`), skipping rows others hold: closes their open attempt as interrupted (with
 * `message`, or one naming the gone node), releases their leases, notifies `finished` per
 * kind and `leases` per freed lease. A job whose interruptions then pass `maxInterruptions`
 * (`null`: no limit) goes to `dead` instead, its error saying so, and `ended` is notified for
 * it (the rule of `interruptedTooOften` in `../_rules.ts`, in SQL). The caller holds the seq
 * lock. Returns `id, kind, state, attempt_count, last_error, finished, leases` per job.
 */
export function requeueRunning(
  tx: Tx,
  state: PostgresState,
  which: Fragment,
  at: number,
  message: string | null,
  maxInterruptions: number | null,
): Promise<Row[]> {
  const when = roundMs(at);
  return tx`
    WITH gone AS MATERIALIZED (
      SELECT j.id, j.node_id, j.attempt_count, j.interruptions FROM jobs j
      WHERE j.state = 'running' AND ${which}
      ORDER BY j.id LIMIT ${SWEEP_BATCH}
      FOR UPDATE OF j SKIP LOCKED
    ), judged AS MATERIALIZED (
      SELECT g.id, g.attempt_count, g.interruptions + 1 AS interruptions,
        coalesce(g.interruptions + 1 > ${maxInterruptions}::int, false) AS dead,
        coalesce(${message}::text,
          'the runtime running it is gone (node ' || coalesce(g.node_id, 'unknown') || ')') AS message
      FROM gone g
    ), numbered AS MATERIALIZED (
      SELECT d.id, d.attempt_count, d.dead, nextval('job_seq') AS new_seq,
        jsonb_build_object('code', 'JOB_INTERRUPTED', 'message', d.message || CASE WHEN d.dead
          THEN '; interrupted ' || d.interruptions || ' times, giving up' ELSE '' END) AS error
      FROM judged d
    ), closed AS (
      UPDATE job_attempts a SET ended_at = ${when}::bigint, outcome = 'interrupted', error = n.error
      FROM numbered n
      WHERE a.job_id = n.id AND a.attempt = n.attempt_count AND a.ended_at IS NULL
    ), freed AS (
      DELETE FROM leases l USING numbered n WHERE l.job_id = n.id RETURNING l.resource
    ), moved AS (
      UPDATE jobs j SET state = CASE WHEN n.dead THEN 'dead' ELSE 'queued' END,
        interruptions = j.interruptions + 1,
        ready_at = CASE WHEN n.dead THEN NULL ELSE ${when}::bigint END, seq = n.new_seq,
        finished_at = CASE WHEN n.dead THEN ${when}::bigint END, updated_at = ${when}::bigint,
        last_error = n.error, cancel_requested_at = NULL
      FROM numbered n WHERE j.id = n.id
      RETURNING j.id, j.kind, j.state, j.attempt_count, j.last_error
    )
    SELECT m.*, (SELECT count(pg_notify(${state.jobsChannel}, json_build_object('node',
        ${state.nodeId}::text, 'kind', 'finished', 'jobKind', k.kind)::text))
      FROM (SELECT DISTINCT kind FROM moved) k) AS finished,
      (SELECT count(pg_notify(${state.jobsChannel}, json_build_object('node',
        ${state.nodeId}::text, 'kind', 'leases')::text)) FROM freed) AS leases,
      (SELECT count(pg_notify(${state.jobsChannel}, json_build_object('node',
        ${state.nodeId}::text, 'kind', 'ended', 'ids', e.ids)::text))
      FROM (SELECT json_agg(f.id) AS ids FROM (
        SELECT id, (row_number() OVER ()) / ${ENDED_IDS_PER_NOTIFY} AS chunk
        FROM moved WHERE state = 'dead') f GROUP BY f.chunk) e) AS ended
    FROM moved m`;
}

/** The jobs among `rows` (of {@link requeueRunning}) that went to `dead`. */
export function deadOf(rows: readonly Row[]): RecoveredDead[] {
  return rows.filter((row) => row.state === "dead").map((row) => ({
    id: String(row.id),
    kind: String(row.kind),
    attempt: Number(row.attempt_count),
    error:
      (typeof row.last_error === "string"
        ? JSON.parse(row.last_error)
        : row.last_error) as AttemptError,
  }));
}

/** Drops nodes silent for an hour that run nothing. */
export function deleteLongDeadNodes(sql: Sql): Promise<Row[]> {
  return sql`
    DELETE FROM nodes WHERE heartbeat_at < now() - interval '1 hour'
      AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'running' AND j.node_id = nodes.id)`;
}

/**
 * Removes node `id` if it is dead (silent past `nodeTimeoutMs`) and runs no job. One row
 * while the node is listed: its liveness and heartbeat as seen before, how many jobs it runs,
 * and `forgotten` (whether it was removed; a heartbeat arriving meanwhile keeps it). No row:
 * no such node.
 */
export function forgetDeadNode(sql: Sql, id: string, nodeTimeoutMs: number): Promise<Row[]> {
  return sql`
    WITH node AS (
      SELECT n.id, n.host, n.pid,
        n.heartbeat_at > now() - ${nodeTimeoutMs}::float8 * interval '1 millisecond' AS alive,
        (extract(epoch FROM n.heartbeat_at) * 1000)::float8 AS heartbeat_ms,
        round(extract(epoch FROM now() - n.heartbeat_at))::int AS silent_s,
        (SELECT count(*) FROM jobs j WHERE j.state = 'running' AND j.node_id = n.id)::int AS running
      FROM nodes n WHERE n.id = ${id}
    ), gone AS (
      DELETE FROM nodes n WHERE n.id = ${id}
        AND n.heartbeat_at <= now() - ${nodeTimeoutMs}::float8 * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'running' AND j.node_id = n.id)
      RETURNING n.id
    )
    SELECT node.*, EXISTS (SELECT 1 FROM gone) AS forgotten FROM node`;
}

/** Jobs running on node `id` that someone asked to cancel. */
export function selectCancelRequested(sql: Sql, id: string): Promise<Row[]> {
  return sql`
    SELECT id FROM jobs WHERE state = 'running' AND node_id = ${id}
      AND cancel_requested_at IS NOT NULL`;
}

/** Jobs running on node `id`. */
export function selectRunningOn(sql: Sql, id: string): Promise<Row[]> {
  return sql`SELECT id FROM jobs WHERE state = 'running' AND node_id = ${id}`;
}
