/**
 * The memory store's hot verbs per job, as the executor calls them with 4 workers: `insert`
 * in one batch, `claim` and `settle` in batches of 4. The baseline is a bare
 * `Map<string, object>` doing a set, a get and a get per job (the floor of any keyed store).
 *
 *   deno bench --allow-read --allow-env bench/store_bench.ts
 *
 * @module
 */
import { MemoryStore } from "../mod.ts";
import type { ClaimRequest, NewJob, Settlement } from "../src/store/types.ts";
import { benchRuns, count, pick } from "./_config.ts";
import { newJobRows } from "./_stores.ts";

const SIZE = pick(10_000, 100);
const BATCH = 4;
const group = `memory store verbs, ${count(SIZE)} jobs`;
const runs = benchRuns(200, 20);

function newJobs(): NewJob[] {
  return newJobRows(SIZE);
}

async function claimAll(store: MemoryStore, jobs: NewJob[], at: number): Promise<void> {
  for (let i = 0; i < jobs.length; i += BATCH) {
    const requests: ClaimRequest[] = [];
    for (let j = i; j < Math.min(i + BATCH, jobs.length); j++) {
      requests.push({ id: jobs[j]!.id, worker: "w1", at });
    }
    await store.claim(requests);
  }
}

Deno.bench({
  name: "bare Map: set, get, get",
  group,
  baseline: true,
  ...runs,
  fn(b) {
    const jobs = newJobs();
    b.start();
    const map = new Map<string, { id: string; state: string }>();
    for (const job of jobs) map.set(job.id, { id: job.id, state: "queued" });
    for (const job of jobs) map.get(job.id)!.state = "running";
    for (const job of jobs) map.get(job.id)!.state = "succeeded";
    b.end();
  },
});

Deno.bench({
  name: "liminal MemoryStore.insert (one batch)",
  group,
  ...runs,
  async fn(b) {
    const store = new MemoryStore();
    await store.open();
    const jobs = newJobs();
    b.start();
    await store.insert(jobs, Date.now());
    b.end();
  },
});

Deno.bench({
  name: "liminal MemoryStore.claim (batches of 4)",
  group,
  ...runs,
  async fn(b) {
    const store = new MemoryStore();
    await store.open();
    const jobs = newJobs();
    const now = Date.now();
    await store.insert(jobs, now);
    b.start();
    await claimAll(store, jobs, now);
    b.end();
  },
});

Deno.bench({
  name: "liminal MemoryStore.settle (batches of 4)",
  group,
  ...runs,
  async fn(b) {
    const store = new MemoryStore();
    await store.open();
    const jobs = newJobs();
    const now = Date.now();
    await store.insert(jobs, now);
    await claimAll(store, jobs, now);
    b.start();
    for (let i = 0; i < jobs.length; i += BATCH) {
      const settlements: Settlement[] = [];
      for (let j = i; j < Math.min(i + BATCH, jobs.length); j++) {
        settlements.push({
          id: jobs[j]!.id,
          attempt: 1,
          endedAt: now,
          outcome: "succeeded",
          error: null,
          result: null,
          next: "succeeded",
        });
      }
      await store.settle(settlements);
    }
    b.end();
  },
});
