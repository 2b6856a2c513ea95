/**
 * Wake-ups between nodes: `NOTIFY` sent in the transaction of each change (delivered at
 * commit), and one `LISTEN` connection turning what other nodes sent into
 * {@link StoreChange}s for `onChange` listeners.
 *
 * - On `<schema>_jobs`: `ready` (jobs became queued: insert, requeue, promote, retry,
 *   recovery; with their levels when known), `scheduled` (with the earliest run-at),
 *   `finished` (a job of a kind stopped running), `ended` (jobs reached a final state, for
 *   waiters on other nodes), `leases` (territory leases changed).
 * - On `<schema>_cancel`: a job running on some node was cancelled; only that node acts.
 * - A node ignores what it sent itself. `ready`, `finished` and `leases` are coalesced to one
 *   per microtask; `ready` is also sent when the `LISTEN` connection comes back (what was
 *   sent meanwhile is gone).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorMessage } from "../../shared/errors.ts";
import { PRIORITIES } from "../../shared/priority.ts";
import type { StoreChange } from "../types.ts";
import type { Row } from "../_rows.ts";
import type { Fragment, PostgresState, Sql, Tx } from "./_state.ts";

const log = getLogger(["liminal", "store"]);

/** Job ids per `ended` notification (a NOTIFY payload holds at most 8,000 bytes). */
export const ENDED_IDS_PER_NOTIFY = 150;

// ── Sending ───────────────────────────────────────────────────────────────────────────

/** Tells the others that jobs became queued: at `levels` when given, else at any level. */
export async function notifyReady(
  tx: Tx,
  state: PostgresState,
  levels?: ReadonlySet<number>,
): Promise<void> {
  await tx`SELECT pg_notify(${state.jobsChannel}, ${
    JSON.stringify({
      node: state.nodeId,
      kind: "ready",
      ...(levels === undefined ? {} : { levels: [...levels].sort((a, b) => a - b) }),
    })
  })`;
}

/** Tells the others that a job was scheduled for `runAt`. */
export async function notifyScheduled(tx: Tx, state: PostgresState, runAt: number): Promise<void> {
  await tx`SELECT pg_notify(${state.jobsChannel}, ${
    JSON.stringify({ node: state.nodeId, kind: "scheduled", runAt })
  })`;
}

/** Tells the others that jobs reached a final state. */
export async function notifyEnded(
  tx: Tx,
  state: PostgresState,
  ids: readonly string[],
): Promise<void> {
  await tx`SELECT pg_notify(${state.jobsChannel}, ${
    JSON.stringify({ node: state.nodeId, kind: "ended", ids })
  })`;
}

/** Tells node `node` (whichever runs it) that running job `id` was cancelled. */
export async function notifyCancel(
  tx: Tx,
  state: PostgresState,
  id: string,
  node: unknown,
): Promise<void> {
  await tx`SELECT pg_notify(${state.cancelChannel}, ${
    JSON.stringify({ id, node: node ?? null, by: state.nodeId })
  })`;
}

/** A `pg_notify` announcing changed leases, to put in a `RETURNING` list. */
export function leasesChanged(q: Sql | Tx, state: PostgresState): Fragment {
  return q`pg_notify(${state.jobsChannel}, ${
    JSON.stringify({ node: state.nodeId, kind: "leases" })
  })`;
}

// ── Receiving ─────────────────────────────────────────────────────────────────────────

/** The `onChange` listeners of one store, and what `LISTEN` delivers to them. */
export class ChangeHub {
  readonly #state: PostgresState;
  readonly #listeners = new Set<(change: StoreChange) => void>();
  /** Changes queued for the next microtask, by key (coalesced). */
  readonly #pendingChanges = new Set<string>();
  /** The levels of the `ready` change about to be emitted ("any": every level). */
  #readyLevels: Set<number> | "any" | null = null;
  /** Cancellations of this node's jobs already announced to listeners. */
  readonly announcedCancels = new Set<string>();

  constructor(state: PostgresState) {
    this.#state = state;
  }

  /** Whether anyone listens. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** Adds `listener`; returns the unsubscribe function. */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Drops every listener (at close). */
  clear(): void {
    this.#listeners.clear();
  }

  /** Starts listening on both channels; returns the functions that stop it. */
  async listen(sql: Sql): Promise<(() => Promise<void>)[]> {
    const stops: (() => Promise<void>)[] = [];
    for (const channel of [this.#state.jobsChannel, this.#state.cancelChannel]) {
      const { unlisten } = await sql.listen(
        channel,
        (payload) => this.onNotify(channel, payload),
        () => this.emitReady(),
      );
      stops.push(unlisten);
    }
    return stops;
  }

  /** One notification on `channel`. */
  onNotify(channel: string, payload: string): void {
    let message: {
      node?: unknown;
      kind?: unknown;
      runAt?: unknown;
      id?: unknown;
      by?: unknown;
      jobKind?: unknown;
      ids?: unknown;
      levels?: unknown;
    };
    try {
      message = JSON.parse(payload);
    } catch {
      return;
    }
    const nodeId = this.#state.nodeId;
    if (channel === this.#state.cancelChannel) {
      if (message.node !== nodeId || message.by === nodeId) return;
      if (typeof message.id !== "string" || this.announcedCancels.has(message.id)) return;
      // Nobody listens: the next heartbeat announces it to whoever listens then.
      if (this.#listeners.size === 0) return;
      this.announcedCancels.add(message.id);
      this.emit({ kind: "cancel", id: message.id });
      return;
    }
    if (message.node === nodeId) return;
    if (message.kind === "scheduled" && typeof message.runAt === "number") {
      this.emit({ kind: "scheduled", runAt: message.runAt });
    } else if (message.kind === "finished" && typeof message.jobKind === "string") {
      this.emitCoalesced(`finished:${message.jobKind}`, {
        kind: "finished",
        jobKind: message.jobKind,
      });
    } else if (message.kind === "ended" && Array.isArray(message.ids)) {
      const ids = message.ids.filter((id): id is string => typeof id === "string");
      if (ids.length > 0) this.emit({ kind: "ended", ids });
    } else if (message.kind === "leases") {
      this.emitCoalesced("leases", { kind: "leases" });
    } else {
      const levels = Array.isArray(message.levels) &&
          message.levels.every((l) => Number.isInteger(l) && l >= 0 && l < PRIORITIES.length)
        ? message.levels as number[]
        : undefined;
      this.emitReady(levels);
    }
  }

  /**
   * Coalesces `ready` changes: at most one per microtask, for the union of the levels asked
   * for until then (any level as soon as one notification did not say).
   */
  emitReady(levels?: readonly number[]): void {
    if (this.#listeners.size === 0) return;
    if (levels === undefined) this.#readyLevels = "any";
    else if (this.#readyLevels !== "any") {
      this.#readyLevels ??= new Set();
      for (const level of levels) this.#readyLevels.add(level);
    }
    if (this.#pendingChanges.has("ready")) return;
    this.#pendingChanges.add("ready");
    queueMicrotask(() => {
      this.#pendingChanges.delete("ready");
      const asked = this.#readyLevels;
      this.#readyLevels = null;
      this.emit(
        asked === "any" || asked === null
          ? { kind: "ready" }
          : { kind: "ready", levels: [...asked].sort((a, b) => a - b) },
      );
    });
  }

  /** Emits `change` once in the next microtask, however often it is asked for until then. */
  emitCoalesced(key: string, change: StoreChange): void {
    if (this.#pendingChanges.has(key) || this.#listeners.size === 0) return;
    this.#pendingChanges.add(key);
    queueMicrotask(() => {
      this.#pendingChanges.delete(key);
      this.emit(change);
    });
  }

  /** Calls every listener with `change` (a throwing listener is logged). */
  emit(change: StoreChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        log.error("store: a change listener threw: {error}", { error: errorMessage(error) });
      }
    }
  }

  /**
   * Tells this node's listeners what a recovery it made changed (the NOTIFYs it sent reach
   * the other nodes only): jobs ready, leases freed, kinds no longer running.
   */
  announceRequeued(rows: readonly Row[]): void {
    if (rows.length === 0) return;
    this.emitReady();
    if (rows.some((row) => Number(row.leases) > 0)) {
      this.emitCoalesced("leases", { kind: "leases" });
    }
    for (const kind of new Set(rows.map((row) => String(row.kind)))) {
      this.emitCoalesced(`finished:${kind}`, { kind: "finished", jobKind: kind });
    }
  }
}
