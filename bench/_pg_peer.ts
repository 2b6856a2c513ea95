/**
 * One worker process of a peer queue (graphile-worker or pg-boss) for `bench/postgres.ts`:
 * the same no-op jobs as liminal's rounds, each system used as its docs recommend, in a
 * process of its own (its own event loop, as a `liminal start` runtime has).
 *
 *   deno run --allow-env --allow-net --allow-read --allow-sys bench/_pg_peer.ts
 *     <graphile|pgboss-batch|pgboss-loops> <postgres url> <concurrency> <node name>
 *
 * Prints `ready` on stdout once its worker runs, then answers one JSON line per command
 * read from stdin:
 *
 * - `enqueue N`: adds N no-op jobs in bulk (graphile: `addJobs`; pg-boss: `insert`) →
 *   `{"ms": <the call's duration>}`
 * - `stats`: `{"count", "first", "last"}`: jobs run since the last `reset`, the first
 *   start and the last finish (epoch ms, `performance.timeOrigin + performance.now()`,
 *   comparable across processes), recorded by the handler
 * - `reset`: forgets the counts → `{}`
 * - `probe N RATE` (graphile-worker): adds N `probe` jobs one `addJob` each, in an open loop
 *   at RATE/s → `{"sent": N}`; `probes`: the enqueue → start of the probes this process ran
 *   since the last ask, ms → `{"ms": [...]}`
 *
 * End of stdin: stops its worker gracefully and exits.
 *
 * @module
 */
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker";
import { PgBoss } from "pg-boss";

const [system, url, concurrencyText, node] = Deno.args;
const concurrency = Number(concurrencyText);
if (
  (system !== "graphile" && system !== "pgboss-batch" && system !== "pgboss-loops") ||
  url === undefined ||
  !Number.isInteger(concurrency) || concurrency < 1 || node === undefined
) {
  console.error(
    "usage: _pg_peer.ts <graphile|pgboss-batch|pgboss-loops> <url> <concurrency> <node>",
  );
  Deno.exit(2);
}

/** The pg-boss queue and the graphile task the jobs go to. */
const QUEUE = "noop";
const hrNow = () => performance.timeOrigin + performance.now();

let count = 0;
let first = Number.POSITIVE_INFINITY;
let last = 0;
const started = () => {
  const now = hrNow();
  if (now < first) first = now;
};
const finished = (n: number) => {
  count += n;
  last = hrNow();
};

/** Enqueue → start of each `probe` job this process ran, ms (graphile-worker only). */
let probes: number[] = [];
let enqueue: (n: number) => Promise<void>;
/** Adds one `probe` job carrying the time it was added. */
let addProbe: (() => Promise<void>) | null = null;
let stop: () => Promise<void>;

if (system === "graphile") {
  // Quiet: graphile logs every job at info otherwise.
  const logger = new Logger(() => (level, message) => {
    if (level === "error") console.error(`graphile ${node}: ${message}`);
  });
  let utils: WorkerUtils | null = null;
  const runner: Runner = await run({
    connectionString: url,
    concurrency,
    noHandleSignals: true,
    logger,
    // pollInterval: its default (2 s); LISTEN/NOTIFY wakes the workers.
    taskList: {
      [QUEUE]: async () => {
        started();
        await Promise.resolve(); // the no-op
        finished(1);
      },
      probe: (payload) => {
        probes.push(hrNow() - (payload as { t: number }).t);
      },
    },
  });
  enqueue = async (n) => {
    utils ??= await makeWorkerUtils({ connectionString: url, logger });
    await utils.addJobs(Array.from({ length: n }, () => ({ identifier: QUEUE, payload: {} })));
  };
  addProbe = async () => {
    utils ??= await makeWorkerUtils({ connectionString: url, logger });
    await utils.addJob("probe", { t: hrNow() });
  };
  stop = async () => {
    await runner.stop();
    await utils?.release();
  };
} else {
  const boss = new PgBoss({
    connectionString: url,
    useListenNotify: true,
    // No cron or maintenance work in the measured rounds beyond its defaults.
    application_name: `pgboss-${node}`,
  });
  boss.on("error", (error: unknown) => console.error(`pg-boss ${node}: ${error}`));
  await boss.start();
  if ((await boss.getQueue(QUEUE)) === null) {
    await boss.createQueue(QUEUE, { notify: true }).catch(async (error) => {
      // Another process created it first.
      if ((await boss.getQueue(QUEUE)) === null) throw error;
    });
  }
  // `concurrency` jobs in flight either way: one fetch loop taking a batch of that many
  // (run concurrently; it fetches again at once while batches come back full), or that many
  // fetch loops of one job each (each polls every 0.5 s when NOTIFY has not woken it).
  const batch = system === "pgboss-batch";
  await boss.work(
    QUEUE,
    {
      localConcurrency: batch ? 1 : concurrency,
      batchSize: batch ? concurrency : 1,
      burstWhenBatchFull: batch,
      // Both at their minimum: with NOTIFY on, a loop that found nothing waits the notify
      // interval (default 30 s) unless a NOTIFY wakes it.
      pollingIntervalSeconds: 0.5,
      notifyPollingIntervalSeconds: 0.5,
    },
    async (jobs) => {
      started();
      await Promise.all(jobs.map(async () => await Promise.resolve())); // the no-ops
      finished(jobs.length);
    },
  );
  enqueue = async (n) => {
    await boss.insert(QUEUE, Array.from({ length: n }, () => ({ data: {} })));
  };
  stop = async () => {
    await boss.stop({ graceful: true, timeout: 10_000 });
  };
}

const encoder = new TextEncoder();
const say = (value: unknown) =>
  Deno.stdout.write(
    encoder.encode(`${typeof value === "string" ? value : JSON.stringify(value)}\n`),
  );
await say("ready");

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buffer = "";
for await (const chunk of lines) {
  buffer += chunk;
  let newline;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, newline).trim();
    buffer = buffer.slice(newline + 1);
    const [command, arg] = line.split(" ");
    if (command === "enqueue") {
      const t0 = performance.now();
      await enqueue(Number(arg));
      await say({ ms: performance.now() - t0 });
    } else if (command === "stats") {
      await say({ count, first: Number.isFinite(first) ? first : null, last });
    } else if (command === "probe" && addProbe !== null) {
      // `probe N RATE`: N probes in an open loop at RATE/s, each added at its due time.
      const [n, perSec] = [Number(arg), Number(line.split(" ")[2])];
      const t0 = performance.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1_000) / perSec;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        pending.push(addProbe());
      }
      await Promise.all(pending);
      await say({ sent: n });
    } else if (command === "probes") {
      await say({ ms: probes });
      probes = [];
    } else if (command === "reset") {
      count = 0;
      first = Number.POSITIVE_INFINITY;
      last = 0;
      await say({});
    }
  }
}
await stop();
Deno.exit(0);
