/**
 * Executor overhead per job at 1,000, 100,000 and 1,000,000 queued no-op jobs, against a
 * bare promise loop and three queue libraries at concurrency 4: the same cases as
 * `executor_bench.ts`, timed by hand so that the 1,000,000 case is practical.
 *
 * Every (queue, size) pair runs in a fresh Deno process, so no case inherits another's heap
 * or JIT state. In it: warm-up rounds at min(size, 10,000) jobs, then measured rounds at full
 * size back to back, each paying its share of garbage collection as in a steady state (a
 * forced full GC before each round was tried: it doubled the cost of 1,000-job rounds by
 * starting each from a cold heap). The figure is the median round, in µs per job; min and
 * max show the spread.
 *
 *   deno run --allow-read --allow-env --allow-run bench/executor_scale.ts           # every case
 *   deno run --allow-read --allow-env --allow-run=cat bench/executor_scale.ts \
 *     --impl liminal --size 100000 --rounds 3                                        # one case
 *
 * @module
 */
import { count, pick } from "./_config.ts";
import { parseArgs, procStatus, runJsonScript } from "./_proc.ts";
import { queueCase, QUEUES } from "./_queues.ts";
import { median } from "./_stats.ts";

/** One case's result. */
export interface ScaleResult {
  impl: string;
  name: string;
  role: string;
  size: number;
  /** Each measured round, ms. */
  roundsMs: number[];
  /** Median, min and max µs per job. */
  usPerJob: number;
  minUsPerJob: number;
  maxUsPerJob: number;
  /** Peak resident memory of the process, bytes. */
  peakRss: number | null;
}

/** The sizes measured. */
export const SCALE_SIZES: readonly number[] = pick([1_000, 100_000, 1_000_000], [10, 100, 1_000]);

/** How many rounds a case runs: at least `rounds`, more while under `budgetMs`, at most `maxRounds`. */
export interface RoundPlan {
  rounds: number;
  maxRounds: number;
  budgetMs: number;
  warmup: number;
}

function roundsFor(size: number): RoundPlan {
  if (pick(false, true)) return { rounds: 1, maxRounds: 1, budgetMs: 0, warmup: 0 };
  if (size <= 1_000) return { rounds: 200, maxRounds: 2_000, budgetMs: 1_500, warmup: 100 };
  if (size <= 100_000) return { rounds: 7, maxRounds: 40, budgetMs: 3_000, warmup: 20 };
  return { rounds: 3, maxRounds: 5, budgetMs: 10_000, warmup: 20 };
}

/** Runs one case in this process. */
export async function measureCase(
  impl: string,
  size: number,
  plan: RoundPlan,
): Promise<ScaleResult> {
  const queue = queueCase(impl);
  const warmSize = Math.min(size, 10_000);
  for (let i = 0; i < plan.warmup; i++) {
    const prepared = await queue.prepare(warmSize);
    await prepared.run();
    await prepared.dispose();
  }
  const roundsMs: number[] = [];
  const started = performance.now();
  while (
    roundsMs.length < plan.rounds ||
    (roundsMs.length < plan.maxRounds && performance.now() - started < plan.budgetMs)
  ) {
    const prepared = await queue.prepare(size);
    const t0 = performance.now();
    await prepared.run();
    roundsMs.push(performance.now() - t0);
    await prepared.dispose();
  }
  const perJob = roundsMs.map((ms) => (ms * 1_000) / size);
  return {
    impl,
    name: queue.name,
    role: queue.role,
    size,
    roundsMs,
    usPerJob: median(perJob),
    minUsPerJob: Math.min(...perJob),
    maxUsPerJob: Math.max(...perJob),
    peakRss: (await procStatus(Deno.pid)).VmHWM ?? null,
  };
}

/** Runs every case, each in its own process; `onResult` sees each as it ends. */
export async function measureScale(
  onResult: (result: ScaleResult) => void = () => {},
): Promise<ScaleResult[]> {
  const results: ScaleResult[] = [];
  for (const size of SCALE_SIZES) {
    const plan = roundsFor(size);
    for (const queue of QUEUES) {
      const result = await runJsonScript<ScaleResult>(
        "executor_scale.ts",
        ["--allow-read", "--allow-env", "--allow-run=cat"],
        [
          "--impl",
          queue.id,
          "--size",
          String(size),
          "--rounds",
          String(plan.rounds),
          "--max-rounds",
          String(plan.maxRounds),
          "--budget-ms",
          String(plan.budgetMs),
          "--warmup",
          String(plan.warmup),
        ],
      );
      results.push(result);
      onResult(result);
    }
  }
  return results;
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  const impl = args.get("impl");
  if (impl !== undefined) {
    const size = Number(args.get("size") ?? 100_000);
    const defaults = roundsFor(size);
    const rounds = Number(args.get("rounds") ?? defaults.rounds);
    const result = await measureCase(impl, size, {
      rounds,
      maxRounds: Number(args.get("max-rounds") ?? rounds),
      budgetMs: Number(args.get("budget-ms") ?? 0),
      warmup: Number(args.get("warmup") ?? defaults.warmup),
    });
    console.log(JSON.stringify(result));
  } else {
    await measureScale((r) =>
      console.log(
        `${count(r.size).padStart(9)} jobs  ${r.name.padEnd(34)} ${
          r.usPerJob.toFixed(3).padStart(8)
        } µs/job  (${r.minUsPerJob.toFixed(3)} … ${r.maxUsPerJob.toFixed(3)})`,
      )
    );
  }
}
