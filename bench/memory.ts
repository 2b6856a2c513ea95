/**
 * Memory: heap bytes per queued job, and the resident memory of an idle `liminal start`.
 *
 * Heap per queued job: in a fresh process run with `--expose-gc`, the executor (memory store,
 * intake paused so nothing runs) takes `size` jobs; full GCs before and after; the growth of
 * `Deno.memoryUsage().heapUsed` divided by `size`. The job specs are built before the first
 * reading (they are the caller's), the executor's results are dropped before the second.
 * For comparison the same is done with the memory store alone (what it keeps per job) and
 * with the three queue libraries holding as many pending no-op tasks (their workers blocked
 * on a gate).
 *
 * Resident memory: `VmRSS` from /proc/PID/status (read with `cat`) of
 * `deno run main.ts start --no-tui --socket <tmp>/s.sock` once its socket exists and it has
 * idled a second, next to `deno run` of a script that only keeps the process alive.
 *
 *   deno run --allow-read --allow-write --allow-env --allow-run bench/memory.ts
 *   deno run --allow-read --allow-env --v8-flags=--expose-gc bench/memory.ts \
 *     --measure heap --queue liminal --size 100000                                # one case
 *
 * @module
 */
import { newQueue } from "@henrygd/queue";
import fastq from "fastq";
import PQueue from "p-queue";
import { type JobStore, MaintenanceExecutor, MemoryStore } from "../mod.ts";
import type { NewJob } from "../src/store/types.ts";
import { CONCURRENCY, pick } from "./_config.ts";
import { parseArgs, procStatus, ROOT, runJsonScript, START_PERMISSIONS } from "./_proc.ts";
import { noopJob, noopSpecs, noopTask } from "./_queues.ts";
import { median } from "./_stats.ts";
import { newJobRows, openSqliteStore, sqliteBuilt } from "./_stores.ts";

/** One heap measurement. */
export interface HeapResult {
  queue: string;
  label: string;
  size: number;
  heapBytes: number;
  bytesPerJob: number;
}

/** One idle process. */
export interface RssResult {
  label: string;
  command: string;
  rssBytes: number | null;
  /** Spawn → ready (socket listening, or "ready" printed), ms. */
  readyMs: number;
}

/** Everything this script measures. */
export interface MemoryReport {
  size: number;
  heap: HeapResult[];
  rss: RssResult[];
  /** Set when the SQLite store exists: its heap per queued job, or why it could not run. */
  sqlite: HeapResult | { error: string } | null;
}

const HEAP_CASES: readonly { queue: string; label: string }[] = [
  { queue: "liminal", label: "liminal executor + memory store (paused)" },
  { queue: "liminal-store", label: "memory store alone (insert)" },
  { queue: "fastq", label: "fastq (pending tasks)" },
  { queue: "p-queue", label: "p-queue (pending tasks)" },
  { queue: "henrygd", label: "@henrygd/queue (pending tasks)" },
];

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}

async function executorHeap(store: JobStore, size: number): Promise<number> {
  const specs = noopSpecs(size);
  const executor = new MaintenanceExecutor({ store, kinds: [noopJob], workers: CONCURRENCY });
  await executor.start();
  executor.pause();
  const before = heapUsed();
  let results: unknown[] | null = await executor.enqueueMany(specs);
  results = null;
  const after = heapUsed();
  if (specs.length !== size || results !== null) throw new Error("unreachable");
  await executor.stop();
  return after - before;
}

async function libraryHeap(queue: string, size: number): Promise<number> {
  const gate = Promise.withResolvers<void>();
  const blocked = () => gate.promise;
  let add: (task: () => Promise<void>) => void;
  let done: () => Promise<void>;
  if (queue === "fastq") {
    const q = fastq.promise((task: () => Promise<void>) => task(), CONCURRENCY);
    add = (task) => void q.push(task);
    done = () => q.drained();
  } else if (queue === "p-queue") {
    const q = new PQueue({ concurrency: CONCURRENCY });
    add = (task) => void q.add(task);
    done = () => q.onIdle();
  } else if (queue === "henrygd") {
    const q = newQueue(CONCURRENCY);
    add = (task) => void q.add(task);
    done = () => q.done();
  } else throw new Error(`unknown queue "${queue}"`);
  for (let i = 0; i < CONCURRENCY; i++) add(blocked);
  const before = heapUsed();
  for (let i = 0; i < size; i++) add(noopTask);
  const after = heapUsed();
  gate.resolve();
  await done();
  return after - before;
}

/** Measures one heap case in this process (run with `--expose-gc`). */
export async function measureHeap(queue: string, size: number): Promise<HeapResult> {
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  let heapBytes: number;
  let label = HEAP_CASES.find((c) => c.queue === queue)?.label ?? queue;
  if (queue === "liminal") {
    const store = new MemoryStore();
    await store.open();
    heapBytes = await executorHeap(store, size);
    await store.close();
  } else if (queue === "liminal-store") {
    const store = new MemoryStore();
    await store.open();
    const before = heapUsed();
    let jobs: NewJob[] | null = newJobRows(size);
    await store.insert(jobs, Date.now());
    jobs = null;
    heapBytes = heapUsed() - before;
    await store.close();
  } else if (queue === "sqlite") {
    label = "liminal executor + SQLite store (paused)";
    const dir = await Deno.makeTempDir({ prefix: "liminal-bench-" });
    try {
      const store = await openSqliteStore(dir);
      heapBytes = await executorHeap(store, size);
      await store.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  } else {
    heapBytes = await libraryHeap(queue, size);
  }
  return { queue, label, size, heapBytes, bytesPerJob: heapBytes / size };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function sampleRss(pid: number): Promise<number | null> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const rss = (await procStatus(pid)).VmRSS;
    if (rss !== null && rss !== undefined) samples.push(rss);
    await sleep(100);
  }
  return samples.length === 0 ? null : median(samples);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 15_000);
  await child.status;
  clearTimeout(timer);
}

/** The resident memory of an idle process started by `args`, once `ready()` resolves. */
async function idleRss(
  label: string,
  args: string[],
  shown: string,
  ready: (child: Deno.ChildProcess) => Promise<void>,
): Promise<RssResult> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await ready(child);
    const readyMs = performance.now() - started;
    await sleep(pick(1_000, 100));
    return { label, command: shown, rssBytes: await sampleRss(child.pid), readyMs };
  } finally {
    await stop(child);
    await child.stdout.cancel().catch(() => {});
  }
}

async function until(what: string, test: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** RSS of an idle `liminal start` (control socket, memory store) and of an idle bare Deno. */
export async function measureRss(): Promise<RssResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "liminal-bench-rss-" });
  try {
    const socket = `${dir}/s.sock`;
    const idle = `${dir}/idle.ts`;
    await Deno.writeTextFile(idle, 'console.log("ready");\nsetInterval(() => {}, 1 << 30);\n');
    const bare = await idleRss(
      "bare deno run (idle script)",
      ["run", idle],
      "deno run idle.ts",
      async (child) => {
        const reader = child.stdout.getReader();
        await reader.read();
        reader.releaseLock();
      },
    );
    const flags = START_PERMISSIONS;
    const liminal = await idleRss(
      "liminal start (idle, memory store, control socket)",
      ["run", ...flags, "main.ts", "start", "--no-tui", "--socket", socket],
      `deno run ${flags.join(" ")} main.ts start --no-tui --socket <tmp>/s.sock`,
      () =>
        until("the control socket", async () => {
          try {
            return (await Deno.stat(socket)).isSocket === true;
          } catch {
            return false;
          }
        }),
    );
    return [bare, liminal];
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Every memory measurement, each heap case in its own process. */
export async function measureMemory(): Promise<MemoryReport> {
  const size = pick(100_000, 1_000);
  const heap: HeapResult[] = [];
  const flags = ["--allow-read", "--allow-env", "--v8-flags=--expose-gc"];
  for (const { queue } of HEAP_CASES) {
    heap.push(
      await runJsonScript<HeapResult>("memory.ts", flags, [
        "--measure",
        "heap",
        "--queue",
        queue,
        "--size",
        String(size),
      ]),
    );
  }
  let sqlite: MemoryReport["sqlite"] = null;
  if (sqliteBuilt()) {
    try {
      sqlite = await runJsonScript<HeapResult>(
        "memory.ts",
        [...flags, "--allow-write", "--allow-ffi", "--allow-net", "--allow-sys"],
        ["--measure", "heap", "--queue", "sqlite", "--size", String(size)],
      );
    } catch (error) {
      sqlite = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  return { size, heap, rss: await measureRss(), sqlite };
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  const measure = args.get("measure");
  if (measure === "heap") {
    const result = await measureHeap(
      args.get("queue") ?? "liminal",
      Number(args.get("size") ?? 100_000),
    );
    console.log(JSON.stringify(result));
  } else if (measure === "rss") {
    console.log(JSON.stringify(await measureRss()));
  } else {
    console.log(JSON.stringify(await measureMemory()));
  }
}
