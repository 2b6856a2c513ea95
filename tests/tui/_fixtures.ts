/**
 * Snapshots and a fake RuntimeView for the dashboard's component tests.
 */
import type { JobSnapshot } from "../../src/shared/job.ts";
import { UnifiedMessageRouter } from "../../src/router/mod.ts";
import { PRIORITIES, type Priority } from "../../src/shared/priority.ts";
import type {
  ExecutorSnapshot,
  RuntimeSnapshot,
  WorkerSnapshot,
} from "../../src/shared/snapshot.ts";
import type { RuntimeView, ViewEvent, ViewKind } from "../../src/shared/view.ts";

export const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

export function worker(id: string, extra: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  return { id, state: "idle", job: null, silentMs: null, done: 0, failed: 0, ...extra };
}

export function busy(
  id: string,
  kind: string,
  jobId: string,
  elapsedMs: number,
  extra: Partial<WorkerSnapshot> = {},
): WorkerSnapshot {
  return worker(id, {
    state: "busy",
    job: {
      id: jobId,
      kind,
      priority: "coordinate",
      attempt: 1,
      startedAt: new Date(NOW - elapsedMs).toISOString(),
      elapsedMs,
      progress: null,
      aborting: null,
    },
    silentMs: 100,
    ...extra,
  });
}

export type SnapshotOverrides = Partial<Omit<RuntimeSnapshot, "executor">> & {
  executor?: Partial<ExecutorSnapshot>;
};

export function snapshot(extra: SnapshotOverrides = {}): RuntimeSnapshot {
  const byPriority = Object.fromEntries(
    PRIORITIES.map((p) => [p, { queued: 0, scheduled: 0, oldestWaitMs: null }]),
  ) as ExecutorSnapshot["queue"]["byPriority"];
  const executor: ExecutorSnapshot = {
    intake: "open",
    workers: [worker("w1"), worker("w2"), worker("w3"), worker("w4")],
    queue: {
      byPriority,
      byState: {
        scheduled: 0,
        queued: 0,
        running: 0,
        succeeded: 0,
        dead: 0,
        cancelled: 0,
      },
    },
    throughput: { perSecond1s: 0, perSecond10s: 0, perSecond60s: 0, lastMinute: Array(60).fill(0) },
    waitMs: { count: 0, p50: null, p95: null, p99: null, max: null, mean: null },
    runMs: { count: 0, p50: null, p95: null, p99: null, max: null, mean: null },
    totals: {
      enqueued: 0,
      started: 0,
      succeeded: 0,
      failedAttempts: 0,
      retried: 0,
      timedOut: 0,
      dead: 0,
      cancelled: 0,
      interrupted: 0,
      abandoned: 0,
    },
    warnings: [],
    ...extra.executor,
  };
  const { executor: _ignored, ...rest } = extra;
  return {
    state: "running",
    pid: 4242,
    version: "0.1.0",
    startedAt: new Date(NOW - 65_000).toISOString(),
    uptimeMs: 65_000,
    store: { kind: "sqlite", location: ".liminal/liminal.db", durable: true },
    socket: ".liminal/liminal.sock",
    kinds: ["command", "fail", "sleep"],
    executor,
    health: { loopLagMs: 0.4, loopLagMax10sMs: 3 },
    warnings: [],
    leases: [],
    router: new UnifiedMessageRouter().snapshot(),
    cluster: null,
    shutdown: null,
    ...rest,
  };
}

export function depth(
  queued: Partial<Record<Priority, number>>,
): ExecutorSnapshot["queue"]["byPriority"] {
  return Object.fromEntries(
    PRIORITIES.map((
      p,
    ) => [p, { queued: queued[p] ?? 0, scheduled: 0, oldestWaitMs: queued[p] ? 1_500 : null }]),
  ) as ExecutorSnapshot["queue"]["byPriority"];
}

export function job(id: string, extra: Partial<JobSnapshot> = {}): JobSnapshot {
  const iso = new Date(NOW - 5_000).toISOString();
  return {
    id,
    kind: "sleep",
    state: "succeeded",
    priority: "coordinate",
    payload: { ms: 10 },
    uniqueKey: null,
    leases: [],
    timeoutMs: null,
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 300000 },
    createdAt: iso,
    runAt: iso,
    readyAt: null,
    finishedAt: iso,
    updatedAt: iso,
    attempt: 1,
    failures: 0,
    attempts: [{
      attempt: 1,
      worker: "w1",
      startedAt: iso,
      endedAt: iso,
      durationMs: 12,
      outcome: "succeeded",
      error: null,
    }],
    progress: null,
    logs: [],
    result: null,
    error: null,
    ...extra,
  };
}

/** A RuntimeView whose snapshot the test sets and whose actions it records. */
export class FakeView implements RuntimeView {
  readonly location = ".liminal/liminal.sock";
  current: RuntimeSnapshot = snapshot();
  recent: JobSnapshot[] = [];
  calls: string[] = [];
  listeners = new Set<(e: ViewEvent) => void>();
  interruptResult: "shutdown" | "force" | "ignored" = "shutdown";

  constructor(readonly mode: "local" | "remote" = "local") {}

  snapshot(): Promise<RuntimeSnapshot> {
    return Promise.resolve(structuredClone(this.current));
  }
  recentJobs(limit: number): Promise<JobSnapshot[]> {
    return Promise.resolve(this.recent.slice(0, limit));
  }
  job(id: string): Promise<JobSnapshot> {
    const found = this.recent.find((j) => j.id === id) ?? job(id);
    return Promise.resolve(found);
  }
  kinds(): Promise<ViewKind[]> {
    return Promise.resolve([{ kind: "sleep", description: 'waits: { "ms": 500 }' }, {
      kind: "fail",
      description: 'fails: { "message": "boom" }',
    }]);
  }
  subscribe(listener: (e: ViewEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(event: string, data: Record<string, unknown> = {}): void {
    for (const l of this.listeners) l({ event, data });
  }
  cancel(id: string): Promise<JobSnapshot> {
    this.calls.push(`cancel ${id}`);
    return Promise.resolve(job(id, { state: "cancelled" }));
  }
  retry(id: string): Promise<JobSnapshot> {
    this.calls.push(`retry ${id}`);
    return Promise.resolve(job(id, { state: "queued" }));
  }
  enqueue(spec: { kind: string; priority: string; payload: unknown }): Promise<string> {
    this.calls.push(`enqueue ${spec.kind} ${spec.priority} ${JSON.stringify(spec.payload)}`);
    return Promise.resolve("01a2b3c4-0000-7000-8000-000000000001");
  }
  setPaused(paused: boolean): Promise<void> {
    this.calls.push(`paused ${paused}`);
    return Promise.resolve();
  }
  interrupt(): "shutdown" | "force" | "ignored" {
    this.calls.push("interrupt");
    return this.interruptResult;
  }
  close(): void {
    this.listeners.clear();
  }
}

/** Waits a few macrotasks (Ink renders and React effects run). */
export async function tick(ms = 30): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
