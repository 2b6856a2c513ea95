/**
 * The scheduler: fires recurring schedules by enqueueing their jobs through the executor.
 *
 * - One timer, armed for the earliest due schedule.
 * - `overlap: "skip"`: a run is skipped (and recorded as such) while the previous run's job
 *   is still scheduled, queued or running; `"queue"` enqueues anyway.
 * - `missed`: a run due while the runtime was down is skipped, or run once at start
 *   (`"run-once"`), whatever the number missed.
 * - Each due run is claimed in the store by compare-and-set on the schedule's last due time
 *   before its job is enqueued, so a store shared by several runtimes fires it once.
 * - Schedules persist in the store: those of `--jobs` modules are written at start (their
 *   paused state and history kept); those added at run time live until removed.
 * - Scheduling stops in shutdown phase 1.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { EnqueueResult, JobSpec } from "../executor/job_spec.ts";
import { formatDuration } from "../shared/duration.ts";
import { Emitter, type EventSource } from "../shared/emitter.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { FINAL_STATES, type JobRecord } from "../shared/job.ts";
import type { ScheduleSnapshot } from "../shared/schedule.ts";
import { isSharedStore, type JobStore, type ScheduleRecord } from "../store/types.ts";
import { checkScheduleName, nextDue, type ScheduleDefinition } from "./schedule.ts";

const log = getLogger(["liminal", "scheduler"]);

/** With a shared store, schedules are read again at least this often. */
const SHARED_REFRESH_MS = 5_000;

/** What the scheduler needs of the executor. */
export interface ScheduleTarget {
  enqueue(spec: JobSpec): Promise<EnqueueResult>;
  get(id: string): Promise<JobRecord | null>;
  /** Throws `UNKNOWN_JOB_KIND` for a kind nobody handles. */
  requireKind(kind: string): void;
  /** Throws what enqueuing `spec` would throw (payload, priority, durations), if anything. */
  check?(spec: ScheduleDefinition["job"]): void;
}

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  store: JobStore;
  target: ScheduleTarget;
  /** Schedules declared in modules. */
  definitions?: readonly ScheduleDefinition[];
  /** @default Date.now */
  clock?: () => number;
}

/** Events of a {@link Scheduler}. */
export interface SchedulerEventMap {
  /** A due run enqueued a job, or was skipped. */
  "schedule:fired": { name: string; dueAt: number; jobId: string | null; skipped: string | null };
  /** A schedule was added, removed, paused or resumed. */
  "schedule:changed": { name: string; change: "added" | "removed" | "paused" | "resumed" };
}

/** The outcome of a run asked for now. */
export interface TriggerResult {
  /** The job enqueued, if one was. */
  jobId: string | null;
  /** Why no job was enqueued (the previous run is still live), if so. */
  skipped: string | null;
}

/** Fires recurring schedules; see the module doc. */
export class Scheduler implements EventSource<SchedulerEventMap> {
  readonly #store: JobStore;
  readonly #target: ScheduleTarget;
  readonly #definitions: readonly ScheduleDefinition[];
  readonly #clock: () => number;
  readonly #events = new Emitter<SchedulerEventMap>();
  #schedules = new Map<string, ScheduleRecord>();
  /** Whether the store is shared with other runtimes (they may change schedules too). */
  readonly #shared: boolean;
  /** Changes made here, per schedule (a refresh keeps what changed while it read). */
  readonly #versions = new Map<string, number>();
  /** Schedules whose kind this runtime lacks (warned about once). */
  readonly #unhandled = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #firing: Promise<void> | null = null;

  /** A scheduler over `options.store`; nothing fires until `start()`. */
  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#shared = isSharedStore(options.store);
    this.#target = options.target;
    this.#definitions = options.definitions ?? [];
    this.#clock = options.clock ?? Date.now;
    const names = new Set<string>();
    for (const d of this.#definitions) {
      if (names.has(d.name)) {
        throw new LiminalError("INVALID_ARGUMENT", `schedule "${d.name}" is defined twice`);
      }
      names.add(d.name);
    }
  }

  on<K extends keyof SchedulerEventMap>(
    event: K,
    listener: (payload: SchedulerEventMap[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  once<K extends keyof SchedulerEventMap>(
    event: K,
    listener: (payload: SchedulerEventMap[K]) => void,
  ): () => void {
    return this.#events.once(event, listener);
  }

  /**
   * Writes the module schedules, handles runs missed while down, and starts firing. Unknown
   * kinds in module schedules: `UNKNOWN_JOB_KIND`.
   */
  async start(): Promise<void> {
    const now = this.#clock();
    for (const d of this.#definitions) this.#target.requireKind(d.job.kind);
    const stored = new Map((await this.#store.listSchedules()).map((r) => [r.name, r]));
    for (const d of this.#definitions) {
      const previous = stored.get(d.name);
      const sameTiming = previous !== undefined &&
        JSON.stringify(previous.timing) === JSON.stringify(d.timing);
      const record: ScheduleRecord = {
        name: d.name,
        source: "module",
        timing: d.timing,
        job: d.job,
        overlap: d.overlap,
        missed: d.missed,
        paused: previous?.paused ?? false,
        nextDueAt: sameTiming ? previous.nextDueAt : null,
        lastDueAt: previous?.lastDueAt ?? null,
        lastJobId: previous?.lastJobId ?? null,
        lastSkipped: previous?.lastSkipped ?? null,
        runs: previous?.runs ?? 0,
        createdAt: sameTiming ? previous.createdAt : now,
        updatedAt: now,
      };
      if (!record.paused && record.nextDueAt === null) {
        record.nextDueAt = nextDue(record.timing, now, record.createdAt);
      }
      await this.#store.putSchedule(record);
      stored.set(d.name, record);
    }
    this.#schedules = stored;
    this.#running = true;
    // Runs missed while the runtime was down.
    for (const record of [...this.#schedules.values()]) {
      if (record.paused || record.nextDueAt === null || record.nextDueAt > now) continue;
      if (!this.#handles(record)) continue;
      if (record.missed === "run-once") {
        log.info("schedule {name}: running a run missed while down (due {late} ago)", {
          name: record.name,
          late: formatDuration(now - record.nextDueAt),
        });
        await this.#fire(record, record.nextDueAt);
      } else {
        const next = nextDue(record.timing, now, record.createdAt);
        log.info("schedule {name}: skipped the run(s) missed while down; next at {next}", {
          name: record.name,
          next: next === null ? "never" : new Date(next).toISOString(),
        });
        await this.#save({ ...record, nextDueAt: next, updatedAt: now });
      }
    }
    this.#arm();
  }

  /**
   * Whether this runtime has the kind a schedule enqueues. A schedule of a kind it lacks is
   * left to the runtimes sharing the store that have it (said once in the log).
   */
  #hasKind(kind: string): boolean {
    try {
      this.#target.requireKind(kind);
      return true;
    } catch {
      return false;
    }
  }

  #handles(record: ScheduleRecord): boolean {
    if (this.#hasKind(record.job.kind)) {
      this.#unhandled.delete(record.name);
      return true;
    }
    if (!this.#unhandled.has(record.name)) {
      this.#unhandled.add(record.name);
      log.warn(
        "schedule {name}: this runtime has no job kind {kind}; it fires where the kind is loaded ({how})",
        {
          name: record.name,
          kind: record.job.kind,
          how: this.#shared ? "another runtime sharing the store" : "start with --jobs",
        },
      );
    }
    return false;
  }

  /**
   * Reads every schedule again from the store (shared by other runtimes). A schedule this
   * runtime changed while the store was read keeps its local state (it is the newer).
   */
  async #refresh(): Promise<void> {
    const before = new Map(this.#versions);
    const stored = await this.#store.listSchedules();
    if (!this.#running) return;
    const changedHere = (name: string) =>
      (this.#versions.get(name) ?? 0) !== (before.get(name) ?? 0);
    const next = new Map<string, ScheduleRecord>();
    for (const record of stored) {
      if (!changedHere(record.name)) next.set(record.name, record);
    }
    for (const [name, record] of this.#schedules) {
      if (changedHere(name)) next.set(name, record);
    }
    for (const name of this.#versions.keys()) {
      if (changedHere(name) && !this.#schedules.has(name)) next.delete(name); // removed here
    }
    this.#schedules = next;
  }

  /** Notes a change made by this runtime to a schedule. */
  #touch(name: string): void {
    this.#versions.set(name, (this.#versions.get(name) ?? 0) + 1);
  }

  /** Stops firing (shutdown phase 1); waits for a run under way. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#firing?.catch(() => {});
  }

  /** Every schedule, as people see it. */
  async list(): Promise<ScheduleSnapshot[]> {
    const out: ScheduleSnapshot[] = [];
    for (const r of [...this.#schedules.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(await this.#view(r));
    }
    return out;
  }

  /** One schedule, as people see it. */
  async get(name: string): Promise<ScheduleSnapshot> {
    return await this.#view(this.#require(name));
  }

  /** Adds a schedule at run time (persisted). */
  async add(definition: ScheduleDefinition): Promise<ScheduleSnapshot> {
    const existing = this.#schedules.get(definition.name);
    if (existing !== undefined) {
      throw new LiminalError("SCHEDULE_EXISTS", `schedule "${definition.name}" already exists`, {
        hint: existing.source === "module"
          ? `it is declared in a --jobs module and cannot be removed at run time: choose another name (or pause it: liminal schedules pause ${definition.name})`
          : `remove it first: liminal schedules remove ${definition.name}`,
      });
    }
    this.#target.requireKind(definition.job.kind);
    this.#target.check?.(definition.job);
    const now = this.#clock();
    const record: ScheduleRecord = {
      name: definition.name,
      source: "api",
      timing: definition.timing,
      job: definition.job,
      overlap: definition.overlap,
      missed: definition.missed,
      paused: false,
      nextDueAt: nextDue(definition.timing, now, now),
      lastDueAt: null,
      lastJobId: null,
      lastSkipped: null,
      runs: 0,
      createdAt: now,
      updatedAt: now,
    };
    await this.#save(record);
    this.#events.emit("schedule:changed", { name: record.name, change: "added" });
    this.#arm();
    return await this.#view(record);
  }

  /** Removes a schedule added at run time. A module's schedule is paused instead, or refused. */
  async remove(name: string): Promise<void> {
    const record = this.#require(name);
    if (record.source === "module") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `schedule "${name}" is declared in a --jobs module; remove it there`,
        {
          hint: `or pause it: liminal schedules pause ${name}`,
        },
      );
    }
    await this.#store.deleteSchedule(name);
    this.#schedules.delete(name);
    this.#touch(name);
    this.#events.emit("schedule:changed", { name, change: "removed" });
    this.#arm();
  }

  /** Pauses a schedule (persisted): it fires nothing until resumed. */
  async pause(name: string): Promise<ScheduleSnapshot> {
    const record = this.#require(name);
    if (!record.paused) {
      await this.#save({ ...record, paused: true, nextDueAt: null, updatedAt: this.#clock() });
      this.#events.emit("schedule:changed", { name, change: "paused" });
      this.#arm();
    }
    return await this.get(name);
  }

  /** Resumes a paused schedule from its next due time after now. */
  async resume(name: string): Promise<ScheduleSnapshot> {
    const record = this.#require(name);
    if (record.paused) {
      const now = this.#clock();
      await this.#save({
        ...record,
        paused: false,
        nextDueAt: nextDue(record.timing, now, record.createdAt),
        updatedAt: now,
      });
      this.#events.emit("schedule:changed", { name, change: "resumed" });
      this.#arm();
    }
    return await this.get(name);
  }

  /** Runs a schedule once now (its overlap policy applies); its timing does not change. */
  async trigger(name: string): Promise<TriggerResult> {
    const record = this.#require(name);
    if (!this.#running) throw new LiminalError("RUNTIME_SHUTTING_DOWN", "the scheduler is stopped");
    return await this.#fire(record, this.#clock(), record.nextDueAt);
  }

  #require(name: string): ScheduleRecord {
    checkScheduleName(name);
    const record = this.#schedules.get(name);
    if (record === undefined) {
      throw new LiminalError("SCHEDULE_NOT_FOUND", `no schedule "${name}"`, {
        hint: "liminal schedules lists them",
      });
    }
    return record;
  }

  async #save(record: ScheduleRecord): Promise<void> {
    await this.#store.putSchedule(record);
    this.#schedules.set(record.name, record);
    this.#touch(record.name);
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#running) return;
    let next = Number.POSITIVE_INFINITY;
    for (const r of this.#schedules.values()) {
      if (r.paused || r.nextDueAt === null) continue;
      // With a shared store, one of a kind not loaded here is left to runtimes that have it
      // (read again every few seconds below); here it would only wake this timer in a loop.
      if (this.#shared && !this.#hasKind(r.job.kind)) continue;
      next = Math.min(next, r.nextDueAt);
    }
    // With a store shared by several runtimes, schedules added, paused or removed through
    // another runtime are read again at least this often.
    if (this.#shared) next = Math.min(next, this.#clock() + SHARED_REFRESH_MS);
    if (next === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#firing = this.#fireDue().finally(() => {
        this.#firing = null;
        this.#arm();
      });
    }, Math.min(Math.max(0, next - this.#clock()), 2 ** 31 - 1));
  }

  async #fireDue(): Promise<void> {
    if (this.#shared) {
      try {
        await this.#refresh();
      } catch (error) {
        log.warn("schedules could not be read again: {error}", { error: errorMessage(error) });
      }
    }
    const now = this.#clock();
    for (const record of [...this.#schedules.values()]) {
      if (!this.#running) return;
      if (record.paused || record.nextDueAt === null || record.nextDueAt > now) continue;
      if (!this.#handles(record)) {
        if (this.#shared) continue;
        // Nobody else can run it: the run is recorded as skipped and the schedule moves on.
        await this.#save({
          ...record,
          nextDueAt: nextDue(record.timing, now, record.createdAt),
          lastDueAt: record.nextDueAt,
          lastSkipped: `no job kind "${record.job.kind}" is loaded (start with --jobs)`,
          updatedAt: now,
        });
        continue;
      }
      try {
        await this.#fire(record, record.nextDueAt);
      } catch (error) {
        log.error("schedule {name}: the run due at {due} failed: {error}", {
          name: record.name,
          due: new Date(record.nextDueAt).toISOString(),
          error: errorMessage(error),
        });
        // Do not retry the same due time in a tight loop: move on to the next one.
        const next = nextDue(record.timing, now, record.createdAt);
        await this.#save({
          ...record,
          nextDueAt: next,
          lastSkipped: `failed: ${errorMessage(error)}`,
          updatedAt: now,
        });
      }
    }
  }

  /**
   * One run of `record` for `dueAt`: claim it in the store, then enqueue (or skip). The next
   * due time stays `keepNext` for a manual trigger, else moves past now.
   */
  async #fire(
    record: ScheduleRecord,
    dueAt: number,
    keepNext?: number | null,
  ): Promise<TriggerResult> {
    const now = this.#clock();
    const next = keepNext !== undefined
      ? keepNext
      : record.paused
      ? null
      : nextDue(record.timing, Math.max(now, dueAt), record.createdAt);
    let skipped: string | null = null;
    if (record.overlap === "skip" && record.lastJobId !== null) {
      const previous = await this.#target.get(record.lastJobId);
      if (previous !== null && !FINAL_STATES.has(previous.state)) {
        skipped = `the previous run ${previous.id} is still ${previous.state}`;
      }
    }
    const claimed = await this.#store.recordScheduleRun(record.name, record.lastDueAt, {
      lastDueAt: dueAt,
      nextDueAt: next,
      lastJobId: record.lastJobId,
      lastSkipped: skipped,
      runs: record.runs,
      at: now,
    });
    if (!claimed) {
      // Another runtime fired this due time: take its view of the schedule.
      const fresh = (await this.#store.listSchedules()).find((r) => r.name === record.name);
      if (fresh) {
        this.#schedules.set(fresh.name, fresh);
        this.#touch(fresh.name);
      }
      return { jobId: null, skipped: "fired by another runtime" };
    }
    let jobId: string | null = null;
    if (skipped === null) {
      const job = record.job;
      const { id } = await this.#target.enqueue({
        kind: job.kind,
        payload: job.payload,
        ...(job.priority === undefined ? {} : { priority: job.priority }),
        ...(job.timeout === undefined ? {} : { timeout: job.timeout }),
        ...(job.attempts === undefined ? {} : { attempts: job.attempts }),
        ...(job.leases === undefined ? {} : { leases: job.leases }),
      });
      jobId = id;
      await this.#store.recordScheduleRun(record.name, dueAt, {
        lastDueAt: dueAt,
        nextDueAt: next,
        lastJobId: id,
        lastSkipped: null,
        runs: record.runs + 1,
        at: now,
      });
    }
    const updated: ScheduleRecord = {
      ...record,
      lastDueAt: dueAt,
      nextDueAt: next,
      lastJobId: jobId ?? record.lastJobId,
      lastSkipped: skipped,
      runs: record.runs + (jobId === null ? 0 : 1),
      updatedAt: now,
    };
    this.#schedules.set(record.name, updated);
    this.#touch(record.name);
    log.info(
      skipped === null
        ? "schedule {name}: enqueued {jobId}"
        : "schedule {name}: skipped ({skipped})",
      {
        name: record.name,
        jobId,
        skipped,
      },
    );
    this.#events.emit("schedule:fired", { name: record.name, dueAt, jobId, skipped });
    return { jobId, skipped };
  }

  async #view(r: ScheduleRecord): Promise<ScheduleSnapshot> {
    let lastRun: ScheduleSnapshot["lastRun"] = null;
    if (r.lastDueAt !== null) {
      const job = r.lastJobId === null ? null : await this.#target.get(r.lastJobId);
      const started = job?.attempts[0]?.startedAt ?? null;
      lastRun = {
        dueAt: new Date(r.lastDueAt).toISOString(),
        jobId: r.lastJobId,
        skipped: r.lastSkipped,
        state: job?.state ?? null,
        lateMs: started === null || r.lastSkipped !== null
          ? null
          : Math.max(0, started - r.lastDueAt),
      };
    }
    return {
      name: r.name,
      source: r.source,
      every: "every" in r.timing ? r.timing.every : null,
      cron: "cron" in r.timing ? r.timing.cron : null,
      timezone: "cron" in r.timing ? r.timing.timezone : null,
      job: r.job,
      overlap: r.overlap,
      missed: r.missed,
      paused: r.paused,
      nextRunAt: r.nextDueAt === null ? null : new Date(r.nextDueAt).toISOString(),
      lastRun,
      runs: r.runs,
    };
  }
}
