/**
 * A realistic maintenance set for a small service with a SQLite database at `data/app.db`:
 *
 *   liminal start --jobs examples/maintenance.ts
 *
 * - every 30 s: a health check of the service (retried a little, never overlapping);
 * - every 5 min: a WAL checkpoint, guarded by the `db/app` lease;
 * - every day at 03:00 (Europe/Berlin): a backup kept 7 days, then a vacuum, both holding
 *   `db/app` so they never run at the same time as each other or the checkpoint; a backup
 *   missed while the runtime was down runs once at the next start;
 * - every hour: liminal's own history pruned and expired leases swept;
 * - `cleanup-uploads`: a job kind of this module that removes old files under
 *   `data/uploads`, holding `files/uploads/*`, run every 15 minutes;
 * - `ops-alerts`: a router endpoint that hears every job that died (topic `jobs.dead`) and
 *   writes one line to stderr; `liminal router send ops-alerts note --payload '"hi"'` reaches
 *   it too.
 *
 * @module
 */
import { defineEndpoint, defineJob, defineSchedule, PermanentJobError } from "liminal";

const DATABASE = Deno.env.get("APP_DB") ?? "data/app.db";
const UPLOADS = Deno.env.get("APP_UPLOADS") ?? "data/uploads";
const HEALTH_URL = Deno.env.get("APP_HEALTH_URL") ?? "http://localhost:8080/health";

/** Removes files older than `maxAge` under a directory, reporting progress. */
export const cleanupUploads = defineJob({
  kind: "cleanup-uploads",
  description: 'removes old files: { "dir": "data/uploads", "maxAgeHours": 24 }',
  defaults: { priority: "info", timeout: "10m", attempts: 3, concurrency: 1 },
  validate(payload) {
    const p = payload as { dir?: unknown; maxAgeHours?: unknown } | null;
    if (typeof p?.dir !== "string") {
      throw new Error('expected { "dir": "<path>", "maxAgeHours"?: 24 }');
    }
    const maxAgeHours = p.maxAgeHours ?? 24;
    if (typeof maxAgeHours !== "number" || maxAgeHours <= 0) {
      throw new Error('"maxAgeHours" must be a positive number');
    }
    return { dir: p.dir, maxAgeHours };
  },
  async handler({ payload, signal, progress, log }) {
    const cutoff = Date.now() - payload.maxAgeHours * 3_600_000;
    let seen = 0;
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(payload.dir)) {
        signal.throwIfAborted();
        if (!entry.isFile) continue;
        seen++;
        const path = `${payload.dir}/${entry.name}`;
        const info = await Deno.stat(path);
        if ((info.mtime?.getTime() ?? Date.now()) < cutoff) {
          await Deno.remove(path);
          removed++;
        }
        if (seen % 50 === 0) progress(seen);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new PermanentJobError(`no directory ${payload.dir}`);
      }
      throw error;
    }
    log(`removed ${removed} of ${seen} files older than ${payload.maxAgeHours}h`);
    return { seen, removed };
  },
});

export const health = defineSchedule({
  name: "health",
  every: "30s",
  job: {
    kind: "http-check",
    payload: { url: HEALTH_URL, expect: 200, timeout: "5s" },
    priority: "blocking",
    attempts: 2,
  },
});

export const checkpoint = defineSchedule({
  name: "wal-checkpoint",
  every: "5m",
  job: {
    kind: "sqlite-checkpoint",
    payload: { path: DATABASE, mode: "TRUNCATE" },
    leases: ["db/app"],
  },
});

export const backup = defineSchedule({
  name: "nightly-backup",
  cron: "0 3 * * *",
  timezone: "Europe/Berlin",
  job: {
    kind: "backup",
    payload: { path: DATABASE, dir: "data/backups", keep: 7 },
    priority: "critical",
    leases: ["db/app"],
  },
  missed: "run-once",
});

export const vacuum = defineSchedule({
  name: "nightly-vacuum",
  cron: "30 3 * * *",
  timezone: "Europe/Berlin",
  job: { kind: "vacuum", payload: { path: DATABASE }, leases: ["db/app"] },
});

export const uploads = defineSchedule({
  name: "cleanup-uploads",
  every: "15m",
  job: {
    kind: "cleanup-uploads",
    payload: { dir: UPLOADS, maxAgeHours: 24 },
    leases: ["files/uploads/*"],
  },
});

export const history = defineSchedule({
  name: "prune-history",
  every: "1h",
  job: { kind: "prune-history", payload: {} },
});

export const leaseSweep = defineSchedule({
  name: "lease-sweep",
  every: "1h",
  job: { kind: "lease-sweep", payload: {} },
});

/** One line on stderr for every job that died, and for any message sent here directly. */
export const alerts = defineEndpoint({
  name: "ops-alerts",
  topics: ["jobs.dead"],
  handler(message) {
    const p = message.payload as { id?: string; kind?: string; error?: { message?: string } };
    const what = message.type === "job.dead"
      ? `job ${p.kind} ${p.id} died: ${p.error?.message}`
      : `${message.type} from ${message.from}: ${JSON.stringify(message.payload)}`;
    console.error(`ops-alerts: ${what}`);
    message.ack();
  },
});
