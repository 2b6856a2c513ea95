/**
 * The PostgreSQL store's own behaviour against a real server (tests/_support/postgres.ts):
 * migrations, several nodes on one database (claims, unique keys, schedules, leases, queue
 * order), node liveness and recovery, LISTEN/NOTIFY wake-ups, errors. (The executor's
 * behaviour suite runs against it too: tests/executor/executor_test.ts.)
 *
 * Every test takes its own database on one server per file. Without PostgreSQL binaries the
 * tests are ignored (with a printed note).
 */
import assert from "node:assert/strict";
import { defineJob, MaintenanceExecutor } from "../../src/executor/mod.ts";
import type { ExecutorEventMap } from "../../src/executor/events.ts";
import type { JobKind } from "../../src/executor/job_kind.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { newId } from "../../src/shared/ids.ts";
import { MAX_LOG_LINES } from "../../src/shared/job.ts";
import { PRIORITIES, priorityLevel } from "../../src/shared/priority.ts";
import {
  MIGRATIONS,
  PostgresStore,
  type PostgresStoreOptions,
  SCHEMA_VERSION,
  type StoreChange,
} from "../../src/store/postgres/mod.ts";
import type { ClaimedJob, NewJob, ScheduleRecord } from "../../src/store/types.ts";
import {
  freshDatabase,
  POSTGRES_INSTALLED,
  sharedPostgres,
  stopSharedPostgres,
  type TestDatabase,
} from "../_support/postgres.ts";

/** A claim result that must not be `"busy"` (no limit was asked). */
function got(claim: ClaimedJob | null | "busy" | undefined): ClaimedJob | null | undefined {
  assert.notEqual(claim, "busy");
  return claim as ClaimedJob | null | undefined;
}

if (!POSTGRES_INSTALLED) {
  console.warn(
    "postgres_store_test: no PostgreSQL binaries (/usr/lib/postgresql/*/bin, pg_config); these tests are ignored",
  );
}

const ignore = !POSTGRES_INSTALLED;

function newJob(extra: Partial<NewJob> = {}): NewJob {
  const now = Date.now();
  return {
    id: newId(),
    kind: "sleep",
    payload: '{"ms":1}',
    priority: "coordinate",
    timeoutMs: null,
    maxAttempts: 3,
    backoff: { baseMs: 1000, maxMs: 60000 },
    uniqueKey: null,
    leases: [],
    createdAt: now,
    runAt: now,
    ...extra,
  };
}

async function database(prefix: string): Promise<TestDatabase> {
  const db = await freshDatabase(prefix);
  if (db === null) throw new Error("no PostgreSQL server");
  return db;
}

/** Opens stores on `db` and closes every one of them afterwards. */
async function withStores(
  db: TestDatabase,
  options: Partial<PostgresStoreOptions>[],
  fn: (...stores: PostgresStore[]) => Promise<void>,
): Promise<void> {
  const stores = options.map((o) => new PostgresStore({ url: db.url, maxConnections: 4, ...o }));
  try {
    for (const store of stores) await store.open();
    await fn(...stores);
  } finally {
    for (const store of stores) await store.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds or `ms` pass. */
async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  ms = 5_000,
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

// ── Migrations ──────────────────────────────────────────────────────────────────────────

Deno.test({
  name: "migrations: an empty database gets its schema, recorded in the schema itself",
  ignore,
  fn: async () => {
    const db = await database("mig_empty");
    await withStores(db, [{}], async (store) => {
      assert.equal(store.info.kind, "postgres");
      assert.equal(store.info.durable, true);
      assert.equal(store.info.location, db.url);
    });
    const versions = await db.query(
      "SELECT version, name FROM liminal.liminal_migrations ORDER BY version",
    );
    assert.deepEqual(versions.map(([v]) => Number(v)), MIGRATIONS.map((m) => m.version));
    const tables = (await db.query(
      "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )).map(([t]) => t);
    assert.deepEqual(tables, [
      "liminal.job_attempts",
      "liminal.job_logs",
      "liminal.jobs",
      "liminal.leases",
      "liminal.liminal_migrations",
      "liminal.nodes",
      "liminal.schedules",
    ]);
  },
});

Deno.test({
  name: "migrations: two schemas in one database are two separate queues",
  ignore,
  fn: async () => {
    const db = await database("mig_schemas");
    await withStores(db, [{ schema: "tenant_a" }, { schema: "tenant_b" }], async (a, b) => {
      const job = newJob();
      await a.insert([job], Date.now());
      assert.equal((await a.get(job.id))?.state, "queued");
      assert.equal(await b.get(job.id), null);
      assert.equal((await b.counts()).byState.queued, 0);
    });
  },
});

Deno.test({
  name: "migrations: each earlier schema version upgrades to the current one, keeping its jobs",
  ignore,
  fn: async () => {
    for (let from = 0; from < SCHEMA_VERSION; from++) {
      const db = await database(`mig_from_${from}`);
      const oldId = newId();
      let script = `CREATE SCHEMA liminal; SET search_path TO liminal;
        CREATE TABLE liminal_migrations (version integer PRIMARY KEY, name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(), liminal text NOT NULL);`;
      for (const m of MIGRATIONS.filter((m) => m.version <= from)) {
        script += `${m.sql};\nINSERT INTO liminal_migrations (version, name, liminal)
          VALUES (${m.version}, '${m.name}', 'old');\n`;
      }
      if (from >= 1) {
        // A job written by the version-1 schema (its columns only).
        script += `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at,
            ready_at, seq, max_attempts, backoff_base_ms, backoff_max_ms, updated_at)
          VALUES ('${oldId}', 'sleep', '{}', 1, 'queued', 1, 1, 1, nextval('job_seq'), 3, 1000,
            60000, 1);`;
      }
      await db.query(script);
      await withStores(db, [{}], async (store) => {
        const versions = await db.query(
          "SELECT version FROM liminal.liminal_migrations ORDER BY version",
        );
        assert.deepEqual(versions.map(([v]) => Number(v)), MIGRATIONS.map((m) => m.version));
        if (from >= 1) {
          assert.equal((await store.get(oldId))?.state, "queued", `from ${from}`);
          const [claimed] = await store.claim([{ id: oldId, worker: "w1", at: Date.now() }]);
          assert.equal(got(claimed)?.attempt, 1);
          const record = await store.get(oldId);
          assert.equal(record?.attempts[0]?.worker, `${store.nodeId}/w1`);
        }
      });
    }
  },
});

Deno.test({
  name:
    "migration 3: a job an older version left failed (for good) reads, lists and retries as dead",
  ignore,
  fn: async () => {
    const db = await database("mig_failed");
    let script = `CREATE SCHEMA liminal; SET search_path TO liminal;
      CREATE TABLE liminal_migrations (version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), liminal text NOT NULL);`;
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
      script += `${m.sql};\nINSERT INTO liminal_migrations (version, name, liminal)
        VALUES (${m.version}, '${m.name}', 'old');\n`;
    }
    const id = newId();
    const late = newId();
    script += `INSERT INTO jobs (id, kind, payload, priority, state, created_at, run_at, seq,
        max_attempts, backoff_base_ms, backoff_max_ms, attempt_count, failures, last_error,
        finished_at, updated_at)
      VALUES ('${id}', 'vacuum', '{}', 1, 'failed', 1, 1, nextval('job_seq'), 3, 1000, 60000, 1, 1,
        '{"code":"JOB_FAILED","message":"no database file"}', 2, 2);`;
    await db.query(script);
    await withStores(db, [{}], async (store) => {
      assert.equal((await store.get(id))?.state, "dead");
      assert.deepEqual((await store.list({ state: "dead" })).map((j) => j.id), [id]);
      const left = await db.query("SELECT count(*) FROM liminal.jobs WHERE state = 'failed'");
      assert.equal(Number(left[0]![0]), 0, "migrated: no row is left in the old state");
      // A runtime of the older version still running on the database may write one: it
      // reads as dead, and counts as dead.
      await db.query(`INSERT INTO liminal.jobs (id, kind, payload, priority, state, created_at,
          run_at, seq, max_attempts, backoff_base_ms, backoff_max_ms, finished_at, updated_at)
        VALUES ('${late}', 'vacuum', '{}', 1, 'failed', 1, 1, nextval('liminal.job_seq'), 3, 1000,
          60000, 3, 3)`);
      assert.equal((await store.get(late))?.state, "dead");
      const counts = await store.counts();
      assert.equal(counts.byState.dead, 2);
      assert.equal(Object.hasOwn(counts.byState, "failed"), false);
      await store.retry(late, 10);
      assert.equal((await store.get(late))?.state, "queued");
    });
  },
});

Deno.test({
  name: "migrations: a schema from a newer liminal is refused with STORE_UNAVAILABLE (exit 2)",
  ignore,
  fn: async () => {
    const db = await database("mig_newer");
    await withStores(db, [{}], async () => {});
    await db.query(
      "INSERT INTO liminal.liminal_migrations (version, name, liminal) VALUES (99, 'future', '9.9.9')",
    );
    const store = new PostgresStore({ url: db.url });
    await assert.rejects(
      store.open(),
      (e) =>
        isLiminalError(e, "STORE_UNAVAILABLE") && e.exitCode === 2 &&
        e.message.includes(
          `newer liminal (schema version 99; this one knows up to ${SCHEMA_VERSION})`,
        ) && /upgrade liminal/.test(e.hint ?? ""),
    );
    await store.close();
  },
});

Deno.test({
  name: "migrations: a schema holding another application's tables is left untouched",
  ignore,
  fn: async () => {
    const db = await database("mig_foreign");
    await db.query("CREATE SCHEMA liminal; CREATE TABLE liminal.accounts (id int)");
    const store = new PostgresStore({ url: db.url });
    await assert.rejects(
      store.open(),
      (e) => isLiminalError(e, "STORE_CORRUPT") && /another application/.test(e.message),
    );
    await store.close();
    const tables = await db.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'liminal'",
    );
    assert.deepEqual(tables, [["accounts"]]);
  },
});

Deno.test({
  name: "migrations: runtimes starting together on an empty database do not race",
  ignore,
  fn: async () => {
    const db = await database("mig_race");
    const stores = Array.from(
      { length: 4 },
      () => new PostgresStore({ url: db.url, maxConnections: 2 }),
    );
    try {
      await Promise.all(stores.map((s) => s.open()));
      const nodes = await stores[0]!.nodes();
      assert.equal(nodes.length, 4);
      assert.ok(nodes.every((n) => n.alive));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    const versions = await db.query("SELECT count(*) FROM liminal.liminal_migrations");
    assert.equal(Number(versions[0]![0]), SCHEMA_VERSION);
  },
});

// ── Several nodes on one database ─────────────────────────────────────────────────────────

Deno.test({
  name: "claims: two nodes claiming 2,000 jobs in parallel batches never get the same job",
  ignore,
  fn: async () => {
    const db = await database("claims");
    await withStores(db, [{}, {}], async (a, b) => {
      const jobs = Array.from(
        { length: 2_000 },
        (_, i) => newJob({ priority: PRIORITIES[i % PRIORITIES.length]! }),
      );
      for (let i = 0; i < jobs.length; i += 500) {
        await a.insert(jobs.slice(i, i + 500), Date.now());
      }
      const claimedBy = new Map<string, string[]>();
      const claimer = async (store: PostgresStore, name: string) => {
        for (;;) {
          let entries = [];
          for (let level = PRIORITIES.length - 1; level >= 0; level--) {
            entries.push(...await store.loadReady(level, 0, 40));
            if (entries.length >= 40) break;
          }
          if (entries.length === 0) return;
          // Both nodes see the same heads: shuffle a little so they collide and diverge.
          entries = entries.sort(() => Math.random() - 0.5).slice(0, 25);
          const claimed = await store.claim(
            entries.map((e) => ({ id: e.id, worker: name, at: Date.now() })),
          );
          for (const job of claimed) {
            if (job === null || job === "busy") continue;
            claimedBy.set(job.id, [...(claimedBy.get(job.id) ?? []), name]);
          }
        }
      };
      const started = performance.now();
      await Promise.all([
        claimer(a, "a1"),
        claimer(a, "a2"),
        claimer(a, "a3"),
        claimer(b, "b1"),
        claimer(b, "b2"),
        claimer(b, "b3"),
      ]);
      const ms = Math.round(performance.now() - started);
      const twice = [...claimedBy].filter(([, by]) => by.length > 1);
      assert.deepEqual(twice, [], "no job claimed twice");
      assert.equal(claimedBy.size, 2_000, "every job claimed");
      const perNode = { a: 0, b: 0 };
      for (const [, [by]] of claimedBy) perNode[by!.startsWith("a") ? "a" : "b"]++;
      console.log(`  2,000 claims by two nodes in ${ms} ms (a: ${perNode.a}, b: ${perNode.b})`);
      const rows = await db.query(
        "SELECT count(*), count(DISTINCT job_id) FROM liminal.job_attempts",
      );
      assert.deepEqual(rows, [["2000", "2000"]], "one attempt per job");
      const byNode = await db.query(
        "SELECT node_id, count(*) FROM liminal.jobs WHERE state = 'running' GROUP BY 1 ORDER BY 1",
      );
      assert.deepEqual(
        Object.fromEntries(byNode.map(([node, n]) => [node, Number(n)])),
        Object.fromEntries(
          [[a.nodeId, perNode.a], [b.nodeId, perNode.b]].filter(([, n]) => n !== 0),
        ),
      );
    });
  },
});

Deno.test({
  name: "claims: two executors on two nodes run 2,000 jobs, each exactly once",
  ignore,
  fn: async () => {
    const db = await database("executors");
    await withStores(db, [{}, {}], async (a, b) => {
      const runs = new Map<string, number>();
      const kind = defineJob({
        kind: "count",
        handler: ({ job }) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        },
      }) as JobKind;
      const jobs = Array.from({ length: 2_000 }, () => newJob({ kind: "count", payload: "{}" }));
      for (let i = 0; i < jobs.length; i += 500) {
        await a.insert(jobs.slice(i, i + 500), Date.now());
      }
      const executors = [a, b].map((store) =>
        new MaintenanceExecutor({ store, kinds: [kind], workers: 8, window: 256 })
      );
      const started = performance.now();
      try {
        await Promise.all(executors.map((e) => e.start()));
        await eventually(
          "2,000 jobs to succeed",
          async () => (await a.counts()).byState.succeeded === 2_000,
          60_000,
        );
      } finally {
        await Promise.all(executors.map((e) => e.stop()));
      }
      console.log(
        `  2,000 jobs on two executors in ${Math.round(performance.now() - started)} ms`,
      );
      assert.equal(runs.size, 2_000);
      assert.deepEqual([...runs.values()].filter((n) => n !== 1), [], "no job ran twice");
    });
  },
});

Deno.test({
  name: "queue order: a reader following seq misses no job while two nodes insert at once",
  ignore,
  fn: async () => {
    const db = await database("seq_order");
    await withStores(db, [{}, {}, {}], async (a, b, reader) => {
      const inserted = new Set<string>();
      let writing = true;
      const writer = async (store: PostgresStore) => {
        for (let i = 0; i < 40; i++) {
          const batch = Array.from({ length: 5 }, () => newJob());
          await store.insert(batch, Date.now());
          for (const job of batch) inserted.add(job.id);
        }
      };
      const seen = new Set<string>();
      let lastSeq = 0;
      const read = async () => {
        const entries = await reader.loadReady(1, lastSeq, 1_000);
        for (const entry of entries) {
          assert.ok(entry.seq > lastSeq, "seq order");
          lastSeq = entry.seq;
          seen.add(entry.id);
        }
      };
      const following = (async () => {
        while (writing) await read();
      })();
      await Promise.all([writer(a), writer(a), writer(b), writer(b)]);
      writing = false;
      await following;
      await read();
      assert.equal(inserted.size, 800);
      const missed = [...inserted].filter((id) => !seen.has(id));
      assert.deepEqual(missed, [], "jobs committed behind the reader's last seq");
    });
  },
});

Deno.test({
  name: "unique keys hold across nodes: one live job per key, whoever inserts",
  ignore,
  fn: async () => {
    const db = await database("unique");
    await withStores(db, [{}, {}], async (a, b) => {
      const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
      const attempt = (store: PostgresStore) =>
        store.insert(keys.map((uniqueKey) => newJob({ uniqueKey })), Date.now());
      const results = await Promise.all([attempt(a), attempt(b), attempt(a), attempt(b)]);
      for (let k = 0; k < keys.length; k++) {
        const ids = new Set(results.map((r) => r[k]!.id));
        assert.equal(ids.size, 1, `one job for ${keys[k]}`);
        assert.equal(results.filter((r) => r[k]!.created).length, 1, `created once: ${keys[k]}`);
      }
      assert.equal((await a.counts()).byState.queued, 50);
      // Once the holder is finished, the key is free again.
      const holder = results[0]![0]!.id;
      await b.claim([{ id: holder, worker: "w1", at: Date.now() }]);
      await b.settle([{
        id: holder,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "succeeded",
        error: null,
        result: null,
        next: "succeeded",
      }]);
      const [again] = await a.insert([newJob({ uniqueKey: "key-0" })], Date.now());
      assert.equal(again!.created, true);
      assert.notEqual(again!.id, holder);
    });
  },
});

Deno.test({
  name: "schedules: a due run is recorded by exactly one of two nodes (compare-and-set)",
  ignore,
  fn: async () => {
    const db = await database("schedules");
    await withStores(db, [{}, {}], async (a, b) => {
      const now = Date.now();
      const record: ScheduleRecord = {
        name: "nightly",
        source: "api",
        timing: { every: "1h" } as unknown as ScheduleRecord["timing"],
        job: { kind: "sleep" } as unknown as ScheduleRecord["job"],
        overlap: "skip",
        missed: "skip",
        paused: false,
        nextDueAt: now,
        lastDueAt: null,
        lastJobId: null,
        lastSkipped: null,
        runs: 0,
        createdAt: now,
        updatedAt: now,
      };
      await a.putSchedule(record);
      let last: number | null = null;
      for (let round = 1; round <= 20; round++) {
        const due = now + round * 1_000;
        const run = (store: PostgresStore) =>
          store.recordScheduleRun("nightly", last, {
            lastDueAt: due,
            nextDueAt: due + 1_000,
            lastJobId: `job-${round}`,
            lastSkipped: null,
            runs: round,
            at: due,
          });
        const won = await Promise.all([run(a), run(b), run(a), run(b)]);
        assert.equal(won.filter(Boolean).length, 1, `round ${round}: one winner`);
        last = due;
      }
      const [stored] = await b.listSchedules();
      assert.equal(stored?.runs, 20);
      assert.equal(stored?.lastDueAt, now + 20_000);
      assert.deepEqual(stored?.timing, record.timing);
      assert.equal(await b.deleteSchedule("nightly"), true);
      assert.equal(await a.deleteSchedule("nightly"), false);
    });
  },
});

Deno.test({
  name: "leases: swapLease is a compare-and-set across nodes; expired leases are free",
  ignore,
  fn: async () => {
    const db = await database("leases");
    await withStores(db, [{}, {}], async (a, b) => {
      const now = Date.now();
      const lease = (holder: string, token: string, expiresAt = now + 60_000) => ({
        resource: "db/orders",
        holder,
        token,
        priority: "blocking" as const,
        jobId: null,
        acquiredAt: now,
        expiresAt,
      });
      let token: string | null = null;
      for (let round = 0; round < 20; round++) {
        const tokens = [`a${round}`, `b${round}`];
        const won: boolean[] = await Promise.all([
          a.swapLease(lease("a", tokens[0]!), token, now),
          b.swapLease(lease("b", tokens[1]!), token, now),
        ]);
        assert.equal(won.filter(Boolean).length, 1, `round ${round}: one winner`);
        token = tokens[won.indexOf(true)]!;
        const [held] = await a.listLeases();
        assert.equal(held?.token, token);
      }
      assert.equal(await b.swapLease(lease("b", "x"), "wrong", now), false);
      assert.equal(await a.deleteLease("db/orders", "wrong"), false);
      // Expired at `now`: anyone may take it.
      assert.equal(await b.swapLease(lease("b", "late"), "wrong", now + 60_000), true);
      assert.equal(await a.deleteLease("db/orders", "late"), true);
      assert.deepEqual(await b.listLeases(), []);
    });
  },
});

// ── Nodes and liveness ────────────────────────────────────────────────────────────────────

/** A runtime in another process that opens a store, claims every queued job and waits. */
async function spawnNode(url: string, nodeId: string) {
  const storeModule = new URL("../../src/store/postgres/mod.ts", import.meta.url).href;
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const code = `
    import { PostgresStore } from ${JSON.stringify(storeModule)};
    const store = new PostgresStore({ url: Deno.env.get("NODE_URL"), nodeId: Deno.env.get("NODE_ID"),
      heartbeatInterval: "50ms", nodeTimeout: "200ms", maxConnections: 2 });
    await store.open();
    const ids = [];
    for (let level = 0; level < 5; level++) {
      const entries = await store.loadReady(level, 0, 1000);
      const claimed = await store.claim(entries.map((e) => ({ id: e.id, worker: "w1", at: Date.now() })));
      for (const job of claimed) if (job) ids.push(job.id);
    }
    console.log(JSON.stringify(ids));
    setInterval(() => {}, 1000);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", "--config", config, "--ext=ts", code],
    env: { NODE_URL: url, NODE_ID: nodeId },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  if (!out.includes("\n")) {
    await child.status;
    await rest;
    throw new Error(`the node process failed: ${await stderr}`);
  }
  return {
    claimed: JSON.parse(out.trim()) as string[],
    /** kill -9: no close(), no unregistering, the heartbeat just stops. */
    async crash() {
      child.kill("SIGKILL");
      await child.status;
      await rest;
      await stderr;
    },
  };
}

Deno.test({
  name:
    "liveness: a rescued job interrupted more than maxInterruptions times is dead, announced by the rescuing node",
  ignore,
  fn: async () => {
    const db = await database("rescuedead");
    await withStores(
      db,
      [{ heartbeatInterval: "100ms", nodeTimeout: "600ms" }],
      async (survivor) => {
        const worn = newJob({ kind: "crashy", payload: "{}" });
        const fresh = newJob({ kind: "crashy", payload: "{}" });
        await survivor.insert([worn, fresh], Date.now());
        // Five crashes already: the next one is one too many.
        await db.query(`UPDATE liminal.jobs SET interruptions = 5 WHERE id = '${worn.id}'`);
        const changes: StoreChange[] = [];
        survivor.onChange((change) => changes.push(change));
        // The survivor's executor announces what its store's rescue killed.
        const kind = defineJob({ kind: "crashy", handler: () => {} }) as JobKind;
        const executor = new MaintenanceExecutor({ store: survivor, kinds: [kind] });
        const dead: ExecutorEventMap["job:dead"][] = [];
        executor.on("job:dead", (event) => dead.push(event));
        const doomed = await spawnNode(db.url, "doomed");
        assert.deepEqual(doomed.claimed.sort(), [worn.id, fresh.id].sort());
        await executor.start();
        try {
          await doomed.crash();
          await eventually(
            "the dead node's jobs to be rescued",
            async () =>
              (await survivor.get(worn.id))?.state === "dead" &&
              (await survivor.get(fresh.id))?.interruptions === 1,
          );
          const record = (await survivor.get(worn.id))!;
          assert.equal(record.interruptions, 6);
          assert.equal(record.attempts[0]?.outcome, "interrupted");
          assert.notEqual(record.finishedAt, null);
          assert.match(
            record.lastError?.message ?? "",
            /node doomed\); interrupted 6 times, giving up$/,
          );
          await eventually(
            "the other job to run here",
            async () => (await survivor.get(fresh.id))?.state === "succeeded",
          );
          const announced = changes.filter((c) => c.kind === "dead");
          assert.deepEqual(announced, [{
            kind: "dead",
            jobs: [{ id: worn.id, kind: "crashy", attempt: 1, error: record.lastError! }],
          }]);
          await eventually("job:dead", () => dead.length > 0);
          assert.deepEqual(dead, [{
            id: worn.id,
            kind: "crashy",
            attempt: 1,
            worker: "recovery",
            error: record.lastError!,
            reason: "interrupted",
          }]);
        } finally {
          await executor.stop();
        }
      },
    );
  },
});

Deno.test({
  name:
    "liveness: a node that stops beating past the timeout has its running jobs recovered by another",
  ignore,
  fn: async () => {
    const db = await database("liveness");
    await withStores(
      db,
      [{ heartbeatInterval: "100ms", nodeTimeout: "600ms" }],
      async (survivor) => {
        const jobs = Array.from({ length: 5 }, () => newJob());
        await survivor.insert(jobs, Date.now());
        const now = Date.now();
        await survivor.swapLease(
          {
            resource: "files/x",
            holder: `job:${jobs[0]!.id}`,
            token: "t1",
            priority: "coordinate",
            jobId: jobs[0]!.id,
            acquiredAt: now,
            expiresAt: now + 600_000,
          },
          null,
          now,
        );
        const changes: StoreChange[] = [];
        survivor.onChange((change) => changes.push(change));

        const doomed = await spawnNode(db.url, "doomed");
        try {
          assert.deepEqual(doomed.claimed.sort(), jobs.map((j) => j.id).sort());
          // Alive: nothing of it is touched, by recoverInterrupted or by the sweep.
          assert.deepEqual(await survivor.recoverInterrupted(Date.now()), { queued: 0, dead: [] });
          const alive = (await survivor.nodes()).find((n) => n.id === "doomed");
          assert.equal(alive?.alive, true);
          assert.equal(alive?.running, 5);
          await delay(300);
          assert.equal((await survivor.get(jobs[0]!.id))?.state, "running");
        } finally {
          await doomed.crash();
        }
        const crashedAt = Date.now();
        await eventually("the dead node's jobs to be requeued", async () => {
          for (const job of jobs) {
            if ((await survivor.get(job.id))?.state !== "queued") return false;
          }
          return true;
        });
        const tookMs = Date.now() - crashedAt;
        console.log(`  recovered ${tookMs} ms after the crash (timeout 600 ms, beats 100 ms)`);
        assert.ok(tookMs >= 300, `not before the node timeout (${tookMs} ms)`);
        const record = await survivor.get(jobs[0]!.id);
        assert.equal(record?.interruptions, 1);
        assert.equal(record?.attempts[0]?.outcome, "interrupted");
        assert.equal(record?.attempts[0]?.worker, "doomed/w1");
        assert.match(record?.lastError?.message ?? "", /node doomed/);
        assert.deepEqual(await survivor.listLeases(), [], "its job's lease is released");
        assert.ok(changes.some((c) => c.kind === "ready"), "the survivor hears of ready jobs");
        assert.ok(changes.some((c) => c.kind === "leases"), "and of freed leases");
        assert.ok(changes.some((c) => c.kind === "finished" && c.jobKind === "sleep"));
        const dead = (await survivor.nodes()).find((n) => n.id === "doomed");
        assert.equal(dead?.alive, false);
        assert.equal(dead?.running, 0);
        // The requeued jobs can be claimed again, with a second attempt.
        const [again] = await survivor.claim([{ id: jobs[0]!.id, worker: "w9", at: Date.now() }]);
        assert.equal(got(again)?.attempt, 2);
        assert.equal(got(again)?.interruptions, 1);
      },
    );
  },
});

Deno.test({
  name:
    "liveness: a node id in use is refused (CONFLICT); restarted after its death, it takes its jobs back",
  ignore,
  fn: async () => {
    const db = await database("takeover");
    const options = { nodeId: "fixed", heartbeatInterval: "100ms", nodeTimeout: "500ms" };
    await withStores(db, [{}], async (seed) => {
      await seed.insert(Array.from({ length: 3 }, () => newJob()), Date.now());
    });
    const first = await spawnNode(db.url, "fixed");
    await first.crash();
    assert.equal(first.claimed.length, 3);
    const early = new PostgresStore({ url: db.url, ...options });
    await assert.rejects(
      early.open(),
      (e) =>
        isLiminalError(e, "CONFLICT") && e.exitCode === 4 &&
        /node id "fixed" is in use by pid \d+/.test(e.message),
    );
    await early.close();
    await delay(600);
    await withStores(db, [options], async (restarted) => {
      assert.deepEqual(await restarted.recoverInterrupted(Date.now()), { queued: 3, dead: [] });
      for (const id of first.claimed) {
        const record = await restarted.get(id);
        assert.equal(record?.state, "queued");
        assert.equal(record?.attempts[0]?.outcome, "interrupted");
      }
      assert.deepEqual(await restarted.recoverInterrupted(Date.now()), { queued: 0, dead: [] });
    });
  },
});

Deno.test({
  name: "liveness: jobs running on an unknown node are recovered at once; close() unregisters",
  ignore,
  fn: async () => {
    const db = await database("unknown_node");
    await withStores(db, [{}, {}], async (a, b) => {
      const job = newJob();
      await a.insert([job], Date.now());
      await a.claim([{ id: job.id, worker: "w1", at: Date.now() }]);
      assert.deepEqual(
        await b.recoverInterrupted(Date.now()),
        { queued: 0, dead: [] },
        "a is alive",
      );
      await db.query(`UPDATE liminal.jobs SET node_id = 'ghost' WHERE id = '${job.id}'`);
      assert.deepEqual(
        await b.recoverInterrupted(Date.now()),
        { queued: 1, dead: [] },
        "no such node",
      );
      assert.equal((await b.get(job.id))?.state, "queued");
      assert.deepEqual((await b.nodes()).map((n) => n.id).sort(), [a.nodeId, b.nodeId].sort());
      await a.close();
      await a.close();
      assert.deepEqual((await b.nodes()).map((n) => [n.id, n.self]), [[b.nodeId, true]]);
      await assert.rejects(a.get(job.id), (e) => isLiminalError(e, "STORE_ERROR"));
    });
  },
});

Deno.test({
  name:
    "forgetNode: a dead node running nothing leaves the list at once; alive, running jobs, self, unknown refused",
  ignore,
  fn: async () => {
    const db = await database("forget_node");
    // Beats far apart: the sweep does not rescue the ghost's job during the test.
    const slow = { heartbeatInterval: "1m", nodeTimeout: "2m" };
    await withStores(db, [slow, slow], async (a, b) => {
      const addNode = (id: string, silent: string) =>
        db.query(
          `INSERT INTO liminal.nodes (id, host, pid, version, heartbeat_at)
           VALUES ('${id}', 'gone.example', 4242, '0.0.0', now() - interval '${silent}')`,
        );
      await addNode("dead-idle", "5 minutes");
      await addNode("dead-busy", "5 minutes");
      await addNode("quiet", "1 minute");
      const job = newJob();
      await a.insert([job], Date.now());
      await a.claim([{ id: job.id, worker: "w1", at: Date.now() }]);
      await db.query(`UPDATE liminal.jobs SET node_id = 'dead-busy' WHERE id = '${job.id}'`);
      const listed = async () => (await b.nodes()).map((n) => n.id).sort();
      const before = await listed();
      assert.deepEqual(before, [a.nodeId, b.nodeId, "dead-busy", "dead-idle", "quiet"].sort());

      await assert.rejects(
        b.forgetNode("nobody"),
        (e) =>
          isLiminalError(e, "NODE_NOT_FOUND") && e.exitCode === 2 &&
          /^no node with id nobody$/.test(e.message),
      );
      await assert.rejects(
        b.forgetNode(b.nodeId),
        (e) =>
          isLiminalError(e, "CONFLICT") && e.exitCode === 4 && /is this runtime/.test(e.message),
      );
      // Alive: another runtime beating, or a node silent for less than the node timeout.
      await assert.rejects(
        b.forgetNode(a.nodeId),
        (e) =>
          isLiminalError(e, "CONFLICT") &&
          new RegExp(
            `^node ${a.nodeId} \\(pid \\d+ on .+\\) is alive: last heartbeat \\d+s ago, \\d{4}-`,
          )
            .test(e.message),
      );
      await assert.rejects(
        b.forgetNode("quiet"),
        (e) =>
          isLiminalError(e, "CONFLICT") &&
          /^node quiet \(pid 4242 on gone\.example\) is alive: last heartbeat (59|60|61)s ago/
            .test(e.message),
      );
      // Dead but its job still running: rescued first.
      await assert.rejects(
        b.forgetNode("dead-busy"),
        (e) =>
          isLiminalError(e, "CONFLICT") && e.exitCode === 4 &&
          /^node dead-busy still has 1 running job\(s\) \(last heartbeat 30\ds ago, .*\): they are rescued first$/
            .test(e.message),
      );
      assert.deepEqual(await listed(), before, "nothing refused was removed");
      assert.equal((await b.get(job.id))?.state, "running");

      await b.forgetNode("dead-idle");
      assert.deepEqual(await listed(), [a.nodeId, b.nodeId, "dead-busy", "quiet"].sort());
      await assert.rejects(b.forgetNode("dead-idle"), (e) => isLiminalError(e, "NODE_NOT_FOUND"));

      // Once its job is rescued, the busy one can be forgotten too.
      assert.deepEqual(await b.recoverInterrupted(Date.now()), { queued: 1, dead: [] });
      await b.forgetNode("dead-busy");
      assert.deepEqual(await listed(), [a.nodeId, b.nodeId, "quiet"].sort());
    });
  },
});

// ── Wake-ups ──────────────────────────────────────────────────────────────────────────────

Deno.test({
  name:
    "notify: a cancel reaches the node running the job; ready, scheduled, finished and leases the others",
  ignore,
  fn: async () => {
    const db = await database("notify");
    await withStores(db, [{ heartbeatInterval: "100ms" }, {}], async (runner, other) => {
      const heard: StoreChange[] = [];
      const otherHeard: StoreChange[] = [];
      const stopRunner = runner.onChange((change) => heard.push(change));
      const stop = other.onChange((change) => otherHeard.push(change));
      const job = newJob();
      await other.insert([job], Date.now());
      await eventually("ready", () => heard.some((c) => c.kind === "ready"));
      // An enqueue says which levels gained jobs, so the others read only those.
      const readies = () => heard.filter((c) => c.kind === "ready");
      assert.deepEqual(readies()[0], { kind: "ready", levels: [priorityLevel("coordinate")] });
      await other.insert(
        [newJob({ priority: "critical" }), newJob({ priority: "info" })],
        Date.now(),
      );
      await eventually("ready at two levels", () => readies().length === 2);
      assert.deepEqual(readies()[1], {
        kind: "ready",
        levels: [priorityLevel("info"), priorityLevel("critical")].sort((a, b) => a - b),
      });
      await other.insert([newJob({ runAt: Date.now() + 60_000 })], Date.now());
      await eventually("scheduled", () => heard.some((c) => c.kind === "scheduled"));
      await runner.claim([{ id: job.id, worker: "w1", at: Date.now() }]);
      const record = await other.cancel(job.id, Date.now());
      assert.equal(record.state, "running", "a running job is returned unchanged");
      await eventually("cancel", () => heard.some((c) => c.kind === "cancel" && c.id === job.id));
      assert.equal(heard.filter((c) => c.kind === "cancel").length, 1);
      assert.ok(!otherHeard.some((c) => c.kind !== "ready"), "nothing of its own making");
      void stop;
      // A node that missed the NOTIFY (nobody listened then) hears it from a heartbeat.
      const second = newJob();
      await other.insert([second], Date.now());
      await runner.claim([{ id: second.id, worker: "w2", at: Date.now() }]);
      stopRunner();
      await other.cancel(second.id, Date.now());
      await delay(150);
      const late: StoreChange[] = [];
      runner.onChange((change) => late.push(change));
      await eventually(
        "the re-announced cancel",
        () => late.some((c) => c.kind === "cancel" && c.id === second.id),
      );
      await runner.settle([{
        id: second.id,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "cancelled",
        error: { code: "JOB_CANCELLED", message: "cancelled while running" },
        result: null,
        next: "cancelled",
      }]);
      assert.equal((await other.get(second.id))?.state, "cancelled");
      await eventually(
        "finished",
        () => otherHeard.some((c) => c.kind === "finished" && c.jobKind === "sleep"),
      );
      // Leases taken or released on one node are announced to the others.
      const now = Date.now();
      await other.swapLease(
        {
          resource: "db/x",
          holder: "h",
          token: "t",
          priority: "info",
          jobId: null,
          acquiredAt: now,
          expiresAt: now + 1_000,
        },
        null,
        now,
      );
      await eventually("leases", () => late.some((c) => c.kind === "leases"));
      assert.ok(!heard.some((c) => c.kind === "finished"), "its own settles are not echoed");
    });
  },
});

// ── Errors ────────────────────────────────────────────────────────────────────────────────

Deno.test({
  name: "errors: unreachable server, missing database, unknown user, missing permission",
  ignore,
  fn: async () => {
    const server = (await sharedPostgres())!;
    const refused = new PostgresStore({
      url: "postgres://liminal:s3cret-pw@127.0.0.1:1/jobs",
      connectTimeout: "2s",
    });
    assert.equal(refused.info.location, "postgres://liminal:***@127.0.0.1:1/jobs");
    await assert.rejects(
      refused.open(),
      (e) =>
        isLiminalError(e, "STORE_UNREACHABLE") && e.exitCode === 3 &&
        /cannot reach PostgreSQL at 127\.0\.0\.1:1: connection refused/.test(e.message) &&
        !e.message.includes("s3cret-pw"),
    );
    await refused.close();

    const noSocket = new PostgresStore({ url: "postgres://liminal@/jobs?host=/nonexistent" });
    await assert.rejects(
      noSocket.open(),
      (e) =>
        isLiminalError(e, "STORE_UNREACHABLE") &&
        e.message.includes("/nonexistent/.s.PGSQL.5432: no such socket"),
    );
    await noSocket.close();

    const noDb = new PostgresStore({ url: server.url("no_such_db") });
    await assert.rejects(
      noDb.open(),
      (e) =>
        isLiminalError(e, "STORE_UNAVAILABLE") &&
        /database "no_such_db" does not exist/.test(e.message) &&
        /createdb no_such_db/.test(e.hint ?? ""),
    );
    await noDb.close();

    const db = await database("errors");
    const ghost = new PostgresStore({ url: db.url.replace("postgres@", "ghost:pw-123@") });
    await assert.rejects(
      ghost.open(),
      (e) =>
        isLiminalError(e, "STORE_UNAVAILABLE") && /user "ghost"/.test(e.message) &&
        /role "ghost" does not exist/.test(e.message) && !e.message.includes("pw-123"),
    );
    await ghost.close();

    await db.query("DROP ROLE IF EXISTS limited; CREATE ROLE limited LOGIN");
    const limited = new PostgresStore({ url: db.url.replace("postgres@", "limited@") });
    await assert.rejects(
      limited.open(),
      (e) =>
        isLiminalError(e, "STORE_UNAVAILABLE") &&
        /user "limited" lacks a permission/.test(e.message) &&
        /GRANT CREATE ON DATABASE/.test(e.hint ?? ""),
    );
    await limited.close();

    assert.throws(
      () => new PostgresStore({ url: "mysql://x@y/z" }),
      (e) => isLiminalError(e, "INVALID_ARGUMENT") && /invalid PostgreSQL URL/.test(e.message),
    );
    assert.throws(
      () => new PostgresStore({ url: db.url, heartbeatInterval: "5s", nodeTimeout: "6s" }),
      (e) => isLiminalError(e, "INVALID_ARGUMENT") && /twice the heartbeat/.test(e.message),
    );
  },
});

Deno.test({
  name:
    "errors: a lost connection fails a verb with STORE_UNREACHABLE or STORE_ERROR at most; the store reconnects",
  ignore,
  fn: async () => {
    const db = await database("lost");
    await withStores(db, [{}, {}], async (store, other) => {
      const heard: StoreChange[] = [];
      store.onChange((change) => heard.push(change));
      const job = newJob();
      await store.insert([job], Date.now());
      await db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      const failures: string[] = [];
      let record = null;
      for (let i = 0; i < 10 && record === null; i++) {
        try {
          record = await store.get(job.id);
        } catch (error) {
          assert.ok(
            isLiminalError(error, "STORE_UNREACHABLE") || isLiminalError(error, "STORE_ERROR"),
            String(error),
          );
          failures.push(error.message);
          await delay(50);
        }
      }
      assert.equal(record?.state, "queued");
      assert.ok(failures.length <= 4, failures.join("\n"));
      console.log(`  ${failures.length} verb(s) failed after the connections were cut`, failures);
      const [claimed] = await store.claim([{ id: job.id, worker: "w1", at: Date.now() }]);
      assert.equal(got(claimed)?.attempt, 1);
      // The LISTEN connection comes back too.
      heard.length = 0;
      await eventually("a notification after the reconnect", async () => {
        try {
          await other.insert([newJob()], Date.now());
        } catch {
          // The other store reconnects as well.
        }
        return heard.some((c) => c.kind === "ready");
      });
    });
  },
});

// ── Single-node behaviour ─────────────────────────────────────────────────────────────────

Deno.test({
  name: "progress and logs are batched, written before the settle, and trimmed",
  ignore,
  fn: async () => {
    const db = await database("side");
    await withStores(db, [{}], async (store) => {
      const job = newJob();
      await store.insert([job], Date.now());
      await store.claim([{ id: job.id, worker: "w1", at: Date.now() }]);
      for (let i = 0; i < MAX_LOG_LINES + 20; i++) {
        await store.appendLog(job.id, { at: Date.now(), message: `line ${i}` });
      }
      await store.recordProgress(job.id, { done: 3, total: 4, at: Date.now() });
      await store.settle([{
        id: job.id,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "succeeded",
        error: null,
        result: '{"ok":true}',
        next: "succeeded",
      }]);
      const record = await store.get(job.id);
      assert.equal(record?.logs.length, MAX_LOG_LINES);
      assert.equal(record?.logs.at(-1)?.message, `line ${MAX_LOG_LINES + 19}`);
      assert.equal(record?.logs[0]?.message, "line 20");
      assert.deepEqual(
        { done: record?.progress?.done, total: record?.progress?.total },
        { done: 3, total: 4 },
      );
      assert.equal(record?.result, '{"ok":true}');
      // A settle of an attempt that is over changes nothing (a retried batch).
      const again = await store.settle([{
        id: job.id,
        attempt: 1,
        endedAt: Date.now(),
        outcome: "failed",
        error: { code: "JOB_FAILED", message: "late" },
        result: null,
        next: "queued",
      }]);
      assert.deepEqual(again, []);
      assert.equal((await store.get(job.id))?.state, "succeeded");
    });
  },
});

Deno.test({
  name: "prune by age and count; counts are cached briefly and dropped by own writes",
  ignore,
  fn: async () => {
    const db = await database("prune");
    await withStores(db, [{}, {}], async (store, other) => {
      const jobs = Array.from({ length: 6 }, () => newJob());
      await store.insert(jobs, Date.now());
      const finishedAt = [1_000, 2_000, 3_000, 4_000, 5_000, 6_000];
      for (let i = 0; i < jobs.length; i++) {
        await store.claim([{ id: jobs[i]!.id, worker: "w1", at: 0 }]);
        await store.settle([{
          id: jobs[i]!.id,
          attempt: 1,
          endedAt: finishedAt[i]!,
          outcome: "succeeded",
          error: null,
          result: null,
          next: "succeeded",
        }]);
      }
      assert.equal((await store.counts()).byState.succeeded, 6);
      assert.equal(await store.prune({ finishedBefore: 2_500 }), 2);
      assert.equal((await store.counts()).byState.succeeded, 4, "own write drops the cache");
      assert.equal(await store.prune({ keep: 1 }), 3);
      assert.equal((await store.get(jobs[5]!.id))?.state, "succeeded");
      assert.equal((await other.counts()).byState.succeeded, 1);
      await store.insert([newJob()], Date.now());
      const cached = (await other.counts()).byState.queued;
      assert.ok(cached === 0 || cached === 1, "another node's write shows within a second");
      await delay(1_100);
      assert.equal((await other.counts()).byState.queued, 1);
    });
  },
});

Deno.test({
  name: "the test server stops and leaves nothing behind",
  ignore,
  fn: async () => {
    const server = (await sharedPostgres())!;
    await stopSharedPostgres();
    await assert.rejects(Deno.stat(server.dir), Deno.errors.NotFound);
  },
});
