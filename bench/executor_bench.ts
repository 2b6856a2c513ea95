/**
 * Executor overhead per job against a bare promise loop (the baseline) and three queue
 * libraries, all at concurrency 4 running no-op async jobs. The timed part is handing over
 * every job and waiting until all have run; building the queue and starting the executor
 * are not timed (see `lifecycle_bench.ts` for that).
 *
 * One group per size; 1,000,000 jobs is measured by `executor_scale.ts` (one iteration of it
 * takes seconds, which `Deno.bench` would repeat too often to be practical).
 *
 *   deno bench --allow-read --allow-env bench/executor_bench.ts
 *
 * @module
 */
import { benchRuns, count, pick } from "./_config.ts";
import { QUEUES } from "./_queues.ts";

const SIZES = pick([1_000, 100_000], [100]);

for (const size of SIZES) {
  const group = `executor overhead, ${count(size)} jobs`;
  const runs = size >= 100_000 ? benchRuns(8, 1) : benchRuns(400, 50);
  for (const queue of QUEUES) {
    Deno.bench({
      name: queue.name,
      group,
      baseline: queue.role === "floor",
      ...runs,
      async fn(b) {
        const prepared = await queue.prepare(size);
        b.start();
        await prepared.run();
        b.end();
        await prepared.dispose();
      },
    });
  }
}
