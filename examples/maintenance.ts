/**
 * A realistic maintenance set for a small service with a SQLite database:
 *
 *   APP_DB=/srv/app/app.db APP_UPLOADS=/srv/app/uploads \
 *   APP_HEALTH_URL=http://localhost:8080/health liminal start --jobs examples/maintenance.ts
 *
 * Each part is scheduled only when the setting it needs is given, so that nothing fails out of
 * the box (a line on stderr at start names what is left out and why):
 *
 * - `APP_HEALTH_URL`: every 30 s, a health check of the service (retried a little, never
 *   overlapping);
 * - `APP_DB` (a SQLite file): every 5 min a WAL checkpoint, guarded by the `db/app` lease;
 *   every day at 03:00 (Europe/Berlin) a backup into `APP_BACKUPS` (default: `backups/` beside
 *   the database) kept 7 days, then a vacuum, both holding `db/app` so they never run at the
 *   same time as each other or the checkpoint; a backup missed while the runtime was down runs
 *   once at the next start;
 * - `APP_UPLOADS` (a directory): every 15 minutes, `cleanup-uploads`, a job kind of this
 *   module that removes files older than a day there, holding `files/uploads/*`;
 * - always: every hour, liminal's own history pruned and expired leases swept;
 * - always: `ops-alerts`, a router endpoint that hears every job that died (topic `jobs.dead`)
 *   and writes one line to stderr; `liminal router send ops-alerts note --payload '"hi"'`
 *   reaches it too.
 *
 * Relative paths resolve against the runtime's working directory.
 *
 * @module
 */
import { defineEndpoint, defineJob, defineSchedule, PermanentJobError } from "liminal";

const setting = (name: string): string | undefined => Deno.env.get(name) || undefined;
const DATABASE = setting("APP_DB");
const UPLOADS = setting("APP_UPLOADS");
const HEALTH_URL = setting("APP_HEALTH_URL");
const BACKUPS = setting("APP_BACKUPS") ??
  (DATABASE === undefined ? undefined : `${DATABASE.replace(/[^/]*$/, "") || "./"}backups`);

const off = [
  HEALTH_URL === undefined && "no health check (set APP_HEALTH_URL)",
  DATABASE === undefined && "no checkpoint, backup or vacuum (set APP_DB)",
  UPLOADS === undefined && "no upload cleanup (set APP_UPLOADS)",
].filter((line) => line !== false);
if (off.length > 0) console.log(`examples/maintenance.ts: ${off.join("; ")}`);

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

/** Only with `APP_HEALTH_URL`: a service that is not there would fail every 30 s. */
export const health = HEALTH_URL === undefined ? undefined : defineSchedule({
  name: "health",
  every: "30s",
  job: {
    kind: "http-check",
    payload: { url: HEALTH_URL, expect: 200, timeout: "5s" },
    priority: "blocking",
    attempts: 2,
  },
});

/** Only with `APP_DB`: the checkpoint, the nightly backup and the vacuum, all under `db/app`. */
export const database = DATABASE === undefined ? [] : [
  defineSchedule({
    name: "wal-checkpoint",
    every: "5m",
    job: {
      kind: "sqlite-checkpoint",
      payload: { path: DATABASE, mode: "TRUNCATE" },
      leases: ["db/app"],
    },
  }),
  defineSchedule({
    name: "nightly-backup",
    cron: "0 3 * * *",
    timezone: "Europe/Berlin",
    job: {
      kind: "backup",
      payload: { path: DATABASE, dir: BACKUPS ?? "backups", keep: 7 },
      priority: "critical",
      leases: ["db/app"],
    },
    missed: "run-once",
  }),
  defineSchedule({
    name: "nightly-vacuum",
    cron: "30 3 * * *",
    timezone: "Europe/Berlin",
    job: { kind: "vacuum", payload: { path: DATABASE }, leases: ["db/app"] },
  }),
];

/** Only with `APP_UPLOADS`. */
export const uploads = UPLOADS === undefined ? undefined : defineSchedule({
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
