/**
 * The `postgres` store against a real server: batch insert, single enqueue latency, claim and
 * settle in the executor's batches of 4, and two executors on two nodes sharing one queue.
 * Prints one line per case. Uses `$LIMINAL_PG_URL` when set, else starts a throw-away server
 * (tests/_support/postgres.ts: `fsync=off`, so the figures are the store's overhead, not the
 * disk's).
 *
 *   deno run -A bench/postgres_bench.ts          (LIMINAL_BENCH_SMOKE=1: tiny sizes)
 *
 * @module
 */
import { defineJob, MaintenanceExecutor } from "../src/executor/mod.ts";
import type { JobKind } from "../src/executor/job_kind.ts";
import { PostgresStore } from "../src/store/postgres/mod.ts";
import { count, pick } from "./_config.ts";
import { newJobRows } from "./_stores.ts";
import { type PostgresServer, startPostgres } from "../tests/_support/postgres.ts";

const INSERTS = pick(20_000, 200);
const SINGLES = pick(500, 20);
const CLAIMS = pick(5_000, 100);
const SHARED = pick(10_000, 200);

function rate(n: number, ms: number): string {
  return `${count(Math.round(n / (ms / 1000)))} jobs/s`;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function withStore<T>(url: string, fn: (store: PostgresStore) => Promise<T>): Promise<T> {
  const store = new PostgresStore({ url, schema: `bench_${crypto.randomUUID().slice(0, 8)}` });
  await store.open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

let server: PostgresServer | null = null;
let url = Deno.env.get("LIMINAL_PG_URL") ?? "";
if (url === "") {
  server = await startPostgres();
  if (server === null) {
    console.log("postgres bench: no PostgreSQL binaries and no $LIMINAL_PG_URL; skipped");
    Deno.exit(0);
  }
  url = await server.createDatabase("bench");
}

try {
  await withStore(url, async (store) => {
    const jobs = newJobRows(INSERTS);
    const started = performance.now();
    for (let i = 0; i < jobs.length; i += 1_000) {
      await store.insert(jobs.slice(i, i + 1_000), Date.now());
    }
    console.log(
      `insert, batches of 1,000 (${count(INSERTS)})    ${
        rate(INSERTS, performance.now() - started)
      }`,
    );
  });

  await withStore(url, async (store) => {
    const latencies: number[] = [];
    for (const job of newJobRows(SINGLES)) {
      const t = performance.now();
      await store.insert([job], Date.now());
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `enqueue one job, commit latency        p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${
        percentile(latencies, 99).toFixed(2)
      } ms`,
    );
  });

  await withStore(url, async (store) => {
    const jobs = newJobRows(CLAIMS);
    for (let i = 0; i < jobs.length; i += 1_000) {
      await store.insert(jobs.slice(i, i + 1_000), Date.now());
    }
    const started = performance.now();
    for (let i = 0; i < jobs.length; i += 4) {
      const batch = jobs.slice(i, i + 4);
      const at = Date.now();
      await store.claim(batch.map((j) => ({ id: j.id, worker: "w1", at })));
      await store.settle(batch.map((j) => ({
        id: j.id,
        attempt: 1,
        endedAt: at,
        outcome: "succeeded" as const,
        error: null,
        result: null,
        next: "succeeded" as const,
      })));
    }
    console.log(
      `claim + settle, batches of 4 (${count(CLAIMS)})  ${
        rate(CLAIMS, performance.now() - started)
      }`,
    );
  });

  const schema = `bench_shared_${crypto.randomUUID().slice(0, 8)}`;
  const stores = [0, 1].map(() => new PostgresStore({ url, schema }));
  for (const store of stores) await store.open();
  try {
    await stores[0]!.insert(newJobRows(SHARED), Date.now());
    const noop = defineJob({ kind: "noop", handler: () => {} }) as JobKind;
    const executors = stores.map((store) =>
      new MaintenanceExecutor({ store, kinds: [noop], workers: 8 })
    );
    const started = performance.now();
    await Promise.all(executors.map((e) => e.start()));
    while ((await stores[0]!.counts()).byState.succeeded < SHARED) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const ms = performance.now() - started;
    await Promise.all(executors.map((e) => e.stop()));
    console.log(`two executors on two nodes (${count(SHARED)})  ${rate(SHARED, ms)}`);
  } finally {
    for (const store of stores) await store.close();
  }
} finally {
  await server?.stop();
}
