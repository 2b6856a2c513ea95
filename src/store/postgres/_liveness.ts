/**
 * Node liveness: registering this node, its heartbeat, the sweep of dead nodes, and
 * self-fencing.
 *
 * - `open()` registers the node (`CONFLICT` if a live node has its id; the jobs of a dead
 *   earlier run with the same id are requeued) and starts a timer on the store's timers.
 * - Every `heartbeatInterval`: beat the heartbeat, requeue the running jobs of nodes whose
 *   heartbeat is older than `nodeTimeout` (attempt closed as `interrupted`, `interruptions`
 *   + 1, their leases released), re-announce cancellations asked of this node's jobs, and
 *   requeue jobs running here that no claim handed out (a claim whose reply was lost), once
 *   seen on two beats in a row.
 * - Fencing: after `fenceAfter` ms without a successful heartbeat, listeners get `fenced`
 *   and claims are refused; the next successful heartbeat lifts it (`unfenced`).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatDuration } from "../../shared/duration.ts";
import { errorMessage, LiminalError } from "../../shared/errors.ts";
import { VERSION } from "../../shared/version.ts";
import type { Row } from "../_rows.ts";
import type { Recovery } from "../types.ts";
import {
  anyRunning,
  beatHeartbeat,
  deadOf,
  deleteLongDeadNodes,
  lockNode,
  ranByGoneNode,
  reinsertNode,
  requeueRunning,
  selectCancelRequested,
  selectRunningOn,
  SWEEP_BATCH,
  upsertNode,
} from "./_node_queries.ts";
import { type ChangeHub, notifyReady } from "./_notify.ts";
import type { PostgresState, Sql } from "./_state.ts";

const log = getLogger(["liminal", "store"]);

/** The liveness of one store's node. */
export class NodeLiveness {
  readonly #state: PostgresState;
  readonly #hub: ChangeHub;
  #beatTimer: unknown;
  #beating: Promise<void> | null = null;
  #beatFailing = false;
  /** Jobs running here that were never handed out, seen on the last beat. */
  #suspects = new Set<string>();
  /** Jobs of a dead earlier run of this node id, requeued (or dead) by `register()`. */
  #takenOver: Recovery = { queued: 0, dead: [] };
  /** Self-fencing: after this long without a successful heartbeat (ms), `null`: never. */
  #fenceAfterMs: number | null = null;
  /** When the last successful heartbeat was sent (the store timers' clock). */
  #lastBeatAt = 0;
  #fenceTimer: unknown;
  #fenced = false;

  constructor(state: PostgresState, hub: ChangeHub) {
    this.#state = state;
    this.#hub = hub;
  }

  /** Fence after `ms` without a successful heartbeat. */
  fenceAfter(ms: number): void {
    this.#fenceAfterMs = ms;
  }

  /** Whether this node fenced itself: claims are refused. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** `STORE_UNAVAILABLE` for a claim refused while fenced. */
  fencedError(): LiminalError {
    return new LiminalError(
      "STORE_UNAVAILABLE",
      `node ${this.#state.nodeId} fenced itself: its heartbeat has not succeeded for ${
        formatDuration(this.#state.timers.now() - this.#lastBeatAt)
      }; it starts no job until one does`,
    );
  }

  /** The jobs of a dead earlier run of this node id requeued or dead (once). */
  takeTakenOver(): Recovery {
    const taken = this.#takenOver;
    this.#takenOver = { queued: 0, dead: [] };
    return taken;
  }

  /** Registers this node; takes over the jobs of a dead earlier run with the same id. */
  async register(sql: Sql): Promise<void> {
    const state = this.#state;
    await state.sequenced(() =>
      sql.begin(async (transaction) => {
        const tx = transaction as unknown as Parameters<typeof requeueRunning>[0];
        await state.lockSeq(tx);
        const [existing] = await lockNode(tx, state.nodeId, state.nodeTimeoutMs);
        if (existing !== undefined && existing.alive === true) {
          throw new LiminalError(
            "CONFLICT",
            `node id "${state.nodeId}" is in use by pid ${existing.pid} on ${existing.host} (heartbeat ${existing.silent_s}s ago)`,
            {
              hint: `stop that runtime, wait ${
                formatDuration(state.nodeTimeoutMs)
              } for its heartbeat to expire, or use another node id`,
            },
          );
        }
        const taken = await requeueRunning(
          tx,
          state,
          tx`j.node_id = ${state.nodeId}`,
          Date.now(),
          "an earlier run of this node stopped while it ran",
          state.maxInterruptions,
        );
        const dead = deadOf(taken);
        this.#takenOver.queued += taken.length - dead.length;
        this.#takenOver.dead.push(...dead);
        if (taken.length > dead.length) await notifyReady(tx, state);
        await upsertNode(tx, nodeRow(state.nodeId));
      })
    );
  }

  /** Starts the heartbeat: the registration at `registeredAt` was the first beat. */
  start(registeredAt: number): void {
    this.#beatSucceeded(registeredAt);
    this.#scheduleBeat();
  }

  /** Stops the heartbeat and the fence timer, waiting for a beat under way. */
  async stop(): Promise<void> {
    const timers = this.#state.timers;
    if (this.#beatTimer !== undefined) timers.clearTimeout(this.#beatTimer);
    this.#beatTimer = undefined;
    await this.#beating?.catch(() => {});
    if (this.#fenceTimer !== undefined) timers.clearTimeout(this.#fenceTimer);
    this.#fenceTimer = undefined;
  }

  /**
   * Requeues the running jobs of dead nodes, batch by batch (those interrupted too often go
   * to `dead`: this node's listeners get a `dead` change for them); drops long-dead node rows.
   */
  async recoverDead(at: number): Promise<Recovery> {
    const state = this.#state;
    // Most beats find nothing: look first, without the seq lock.
    const any = await state.read(
      "look for jobs of dead nodes",
      (sql) => anyRunning(sql, ranByGoneNode(sql, state)),
    );
    const recovery: Recovery = { queued: 0, dead: [] };
    while (any.length > 0) {
      const batch = await state.sequenced(() =>
        state.write("recover jobs of dead nodes", async (tx) => {
          await state.lockSeq(tx);
          const rows = await requeueRunning(
            tx,
            state,
            ranByGoneNode(tx, state),
            at,
            null,
            state.maxInterruptions,
          );
          if (rows.some((row) => row.state === "queued")) await notifyReady(tx, state);
          return rows;
        })
      );
      const dead = deadOf(batch);
      recovery.queued += batch.length - dead.length;
      recovery.dead.push(...dead);
      this.#hub.announceRequeued(batch);
      if (dead.length > 0) this.#hub.emit({ kind: "dead", jobs: dead });
      if (batch.length < SWEEP_BATCH) break;
    }
    if (recovery.queued > 0) {
      log.warn("store: requeued {count} job(s) left running by nodes that are gone", {
        count: recovery.queued,
      });
    }
    if (recovery.dead.length > 0) {
      log.warn(
        "store: {count} job(s) left running by nodes that are gone were interrupted too often: dead",
        { count: recovery.dead.length },
      );
    }
    await deleteLongDeadNodes(state.pool());
    return recovery;
  }

  #scheduleBeat(): void {
    const state = this.#state;
    if (state.sql === null || state.closing) return;
    this.#beatTimer = state.timers.setTimeout(() => {
      this.#beatTimer = undefined;
      this.#beating = this.#beat().finally(() => {
        this.#beating = null;
        this.#scheduleBeat();
      });
    }, state.heartbeatMs);
  }

  /** One heartbeat: beat, sweep dead nodes, re-announce cancels, requeue orphaned claims. */
  async #beat(): Promise<void> {
    try {
      await this.#heartbeat();
      await this.recoverDead(Date.now());
      await this.#announceCancels();
      await this.#requeueOrphans();
      if (this.#beatFailing) log.info("store: the database answers again");
      this.#beatFailing = false;
    } catch (error) {
      if (!this.#beatFailing) {
        log.warn("store: heartbeat of node {node} failed: {error}", {
          node: this.#state.nodeId,
          error: errorMessage(error),
        });
      }
      this.#beatFailing = true;
    }
  }

  async #heartbeat(): Promise<void> {
    const state = this.#state;
    const sql = state.pool();
    const sentAt = state.timers.now();
    const rows = await beatHeartbeat(sql, state.nodeId);
    if (rows.length > 0) {
      this.#beatSucceeded(sentAt);
      return;
    }
    log.warn(
      "store: node {node} was taken for dead by another node (no heartbeat for {timeout}); its running jobs may run twice",
      { node: state.nodeId, timeout: formatDuration(state.nodeTimeoutMs) },
    );
    await reinsertNode(sql, nodeRow(state.nodeId));
    this.#beatSucceeded(sentAt);
  }

  /** A heartbeat sent at `sentAt` was written: the fence moves on (and is lifted). */
  #beatSucceeded(sentAt: number): void {
    const state = this.#state;
    if (sentAt < this.#lastBeatAt) return;
    this.#lastBeatAt = sentAt;
    if (this.#fenced) {
      this.#fenced = false;
      log.info("store: node {node} has its heartbeat again: it takes jobs again", {
        node: state.nodeId,
      });
      this.#hub.emit({ kind: "unfenced" });
    }
    if (this.#fenceAfterMs === null || state.closing) return;
    if (this.#fenceTimer !== undefined) state.timers.clearTimeout(this.#fenceTimer);
    const delay = Math.max(0, sentAt + this.#fenceAfterMs - state.timers.now());
    this.#fenceTimer = state.timers.setTimeout(() => {
      this.#fenceTimer = undefined;
      if (state.closing || state.sql === null) return;
      const silentMs = state.timers.now() - this.#lastBeatAt;
      this.#fenced = true;
      log.error(
        "store: node {node} has had no heartbeat for {silent}: it stops its running jobs before the other nodes may take it for dead ({timeout}) and starts none until a heartbeat succeeds",
        {
          node: state.nodeId,
          silent: formatDuration(silentMs),
          timeout: formatDuration(state.nodeTimeoutMs),
        },
      );
      this.#hub.emit({ kind: "fenced", silentMs });
    }, delay);
  }

  /** Tells listeners about cancellations of this node's jobs (a missed NOTIFY included). */
  async #announceCancels(): Promise<void> {
    if (!this.#hub.listening) return;
    const rows = await selectCancelRequested(this.#state.pool(), this.#state.nodeId);
    for (const row of rows) {
      const id = String(row.id);
      if (this.#hub.announcedCancels.has(id)) continue;
      this.#hub.announcedCancels.add(id);
      this.#hub.emit({ kind: "cancel", id });
    }
  }

  /** Requeues jobs running on this node that no claim of this store handed out. */
  async #requeueOrphans(): Promise<void> {
    const state = this.#state;
    if (state.claimsInFlight > 0) return;
    const running = await selectRunningOn(state.pool(), state.nodeId);
    if (state.claimsInFlight > 0) return;
    const orphans = new Set<string>();
    for (const row of running) {
      const id = String(row.id);
      if (!state.delivered.has(id)) orphans.add(id);
    }
    const confirmed = [...orphans].filter((id) => this.#suspects.has(id));
    this.#suspects = orphans;
    if (confirmed.length === 0) return;
    const ids = JSON.stringify(confirmed);
    const requeued: Row[] = await state.sequenced(() =>
      state.write("requeue lost claims", async (tx) => {
        await state.lockSeq(tx);
        const rows = await requeueRunning(
          tx,
          state,
          tx`j.node_id = ${state.nodeId} AND j.id IN (SELECT jsonb_array_elements_text(${ids}::text::jsonb))`,
          Date.now(),
          "its claim's reply was lost; no worker ran it",
          null,
        );
        if (rows.length > 0) await notifyReady(tx, state);
        return rows;
      })
    );
    for (const id of confirmed) this.#suspects.delete(id);
    if (requeued.length > 0) {
      log.warn("store: requeued {count} job(s) whose claim reply was lost", {
        count: requeued.length,
      });
      this.#hub.announceRequeued(requeued);
    }
  }
}

/** This process as a row of `nodes`. */
function nodeRow(id: string): { id: string; host: string; pid: number; version: string } {
  return { id, host: hostname(), pid: Deno.pid, version: VERSION };
}

/** This machine's name (`unknown-host` when it cannot be read). */
export function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}
