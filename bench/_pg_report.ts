/**
 * The "PostgreSQL store" section of the report, from what `bench/postgres.ts` printed.
 * `bench/report.ts` hands in its formatting helpers, so every table looks like the others.
 *
 * @module
 */
import { count } from "./_config.ts";
import type {
  InProcessResult,
  LatencyResult,
  Round,
  StatementClass,
  ThroughputResult,
} from "./_pg_driver.ts";
import type { PostgresReport } from "./postgres.ts";

/** The report's helpers. */
export interface ReportTools {
  table(head: string[], rows: string[][]): string;
  formatLatency(value: number | null | undefined): string;
  us(value: number | null | undefined): string;
  ratio(value: number): string;
  bytes(value: number | null | undefined): string;
  /** Records a figure (lower is better) and returns its change from the previous run. */
  change(key: string, value: number | null | undefined): string;
  aim(what: string, measured: string, met: boolean | null): void;
}

/**
 * Graphile Worker's published figures (perfTest, worker.graphile.org/docs/performance):
 * measured by its authors on their hardware, never here.
 */
export const GRAPHILE = {
  url: "https://worker.graphile.org/docs/performance",
  /** Jobs per second without batching (its default): 200,000 trivial jobs. */
  jobsPerSec: 15_600,
  /** The same with its batching options (local queue of 500, batched completions). */
  jobsPerSecBatched: 184_000,
  /** Average add_job → start latency in the run without batching, and with batching, ms. */
  latencyAvgMs: [4.47, 4.28] as const,
  latencyMaxMs: [14.13, 18.18] as const,
  setup:
    "4 worker processes × 24 concurrent jobs, an Intel i9-14900K with the database on the same machine",
};

// ── Figures of one case ────────────────────────────────────────────────────────────────

const rate = (r: Round) => (r.jobs / r.drainMs) * 1_000;

/** The median round by jobs/s, and the slowest and fastest. */
function spread(
  result: ThroughputResult | undefined,
): { median: Round; min: number; max: number } | null {
  if (result === undefined || result.rounds.length === 0) return null;
  const sorted = [...result.rounds].sort((a, b) => rate(a) - rate(b));
  return {
    median: sorted[Math.floor((sorted.length - 1) / 2)]!,
    min: rate(sorted[0]!),
    max: rate(sorted.at(-1)!),
  };
}

/** Jobs over the measured rounds. */
const jobsOf = (result: ThroughputResult) => result.rounds.reduce((n, r) => n + r.jobs, 0);

/** CPU per job over the measured rounds, µs: PostgreSQL's, and the side that ran the jobs. */
function cpuPerJob(result: ThroughputResult): { pg: number; client: number } | null {
  const rounds = result.rounds.filter((r) => r.cpu !== null);
  if (rounds.length === 0) return null;
  const jobs = rounds.reduce((n, r) => n + r.jobs, 0);
  const sum = (pick: (r: Round) => number) => rounds.reduce((t, r) => t + pick(r), 0);
  const inDriver = result.runtimes === 0 || result.id.startsWith("inproc");
  return {
    pg: (sum((r) => r.cpu!.postgresMs) / jobs) * 1_000,
    client: (sum((r) => (inDriver ? r.cpu!.driverMs : r.cpu!.runtimeMs)) / jobs) * 1_000,
  };
}

/** liminal's statements (not the driver's), over the measured rounds. */
function ownStatements(result: { statements: StatementClass[] | null }): StatementClass[] {
  return (result.statements ?? []).filter((s) => !s.name.startsWith("bench driver"));
}

/** Server execution time of the case's own statements per job, µs. */
function serverPerJob(result: ThroughputResult): number {
  const jobs = jobsOf(result);
  return (ownStatements(result).reduce((t, s) => t + s.totalMs, 0) / jobs) * 1_000;
}

function statementOf(result: ThroughputResult, name: string): StatementClass | undefined {
  return result.statements?.find((s) => s.name === name);
}

// ── liminal beside graphile-worker and pg-boss ──────────────────────────────────────────

/** liminal's runtimes beside each peer measured in the same run: jobs/s and liminal ÷ peer. */
function peersTable(
  d: NonNullable<PostgresReport["driver"]>,
  c: NonNullable<PostgresReport["config"]>,
  t: ReportTools,
): string[] {
  const peers = d.peers ?? [];
  const errors = Object.entries(d.peerErrors ?? {});
  if (peers.length === 0 && errors.length === 0) return [];
  const f = (n: number) => (Number.isFinite(n) ? count(Math.round(n)) : "—");
  const out = [
    `\n### liminal beside graphile-worker and pg-boss (same server, same run)\n`,
    `The same ${
      count(c.jobs)
    } no-op jobs per round, the same ${c.workers} jobs at once per process, 1 and ${
      Math.max(...c.clusters)
    } processes on one database, each on a fresh database with a warm-up round of ${
      count(c.warmupJobs)
    }. The peers run under Deno's npm support, each process \`bench/_pg_peer.ts\` (its own event loop), enqueued in bulk by the first process as each recommends (graphile-worker \`addJobs\`, pg-boss \`insert\`); graphile-worker with \`pollInterval\` at its default and LISTEN/NOTIFY on; pg-boss with \`useListenNotify\`, the queue's \`notify\` on, \`pollingIntervalSeconds\` and \`notifyPollingIntervalSeconds\` at their minimum 0.5. *jobs/s*: first start → last finish as the peer's handlers recorded them (\`performance.timeOrigin + performance.now()\`), liminal's from its own rows; median round (min…max). *liminal ÷ peer*: liminal's jobs/s ÷ the peer's (above 1: liminal faster). Graphile Worker's own published figure is of other hardware.\n`,
  ];
  const rows: string[][] = [];
  for (const n of c.clusters) {
    const liminal = spread(d.clusters.find((r) => r.runtimes === n));
    const label = `${n === 1 ? "1 process" : `${n} processes`} × ${c.workers}`;
    if (liminal !== null) {
      rows.push([
        label,
        "**liminal** (`liminal start`)",
        `**${f(rate(liminal.median))}** (${f(liminal.min)}…${f(liminal.max)})`,
        t.us(1e6 / rate(liminal.median)),
        "",
        Object.values(liminal.median.byNode).join(" / ") || "—",
      ]);
    }
    for (const peer of peers.filter((r) => r.runtimes === n)) {
      const sp = spread(peer);
      if (sp === null) continue;
      rows.push([
        label,
        peer.name,
        `**${f(rate(sp.median))}** (${f(sp.min)}…${f(sp.max)})`,
        t.us(1e6 / rate(sp.median)),
        liminal === null ? "—" : `**${(rate(liminal.median) / rate(sp.median)).toFixed(2)}**`,
        Object.values(sp.median.byNode).join(" / ") || "—",
      ]);
    }
    for (const [id, why] of errors.filter(([id]) => id.endsWith(`.${n}`))) {
      rows.push([label, id, `not measured: ${why.split("\n")[0]}`, "", "", ""]);
    }
  }
  rows.push([
    "(other hardware)",
    `*Graphile Worker, published (${GRAPHILE.setup})*`,
    `*~${count(GRAPHILE.jobsPerSec)}*`,
    `*${t.us(1e6 / GRAPHILE.jobsPerSec)}*`,
    "",
    "",
  ]);
  out.push(
    t.table(
      ["processes", "system", "jobs/s", "µs/job", "liminal ÷ peer", "jobs per process"],
      rows,
    ),
  );
  const latency = d.peerLatency ?? [];
  if (latency.length > 0) {
    out.push(
      `\n*Enqueue → start, open loop at ${c.latencyRate} jobs/s after ${c.latencyWarmup} warm-up probes, on the processes of the rounds above:* graphile-worker: one \`addJob\` per probe from the first process, the handler's start − the clock read just before the call (the probes run in any process); liminal: its rows of the latency table below (control socket: \`POST /v1/jobs\`; database: another process's \`PostgresStore\` insert, the runtimes woken by NOTIFY).\n`,
    );
    const latencyRows: string[][] = [];
    for (const l of latency) {
      const label = `${l.runtimes === 1 ? "1 process" : `${l.runtimes} processes`} × ${c.workers}`;
      for (const own of d.latency.filter((x) => x.runtimes === l.runtimes)) {
        latencyRows.push([
          label,
          `liminal, ${own.path === "socket" ? "control socket" : "database (NOTIFY)"}`,
          `**${t.formatLatency(own.enqueueToStart.p50)}**`,
          `**${t.formatLatency(own.enqueueToStart.p99)}**`,
          t.formatLatency(own.enqueueToStart.max),
          `${own.jobs} of ${own.sent}`,
        ]);
      }
      latencyRows.push([
        label,
        l.name,
        `**${t.formatLatency(l.enqueueToStart.p50)}**`,
        `**${t.formatLatency(l.enqueueToStart.p99)}**`,
        t.formatLatency(l.enqueueToStart.max),
        `${l.jobs} of ${l.sent}`,
      ]);
    }
    out.push(t.table(["processes", "system", "p50", "p99", "max", "probes seen"], latencyRows));
  }
  return out;
}

// ── The section ────────────────────────────────────────────────────────────────────────

/** The section's Markdown, one block per element. */
export function postgresSection(report: PostgresReport, t: ReportTools): string[] {
  const out: string[] = ["\n## PostgreSQL store\n"];
  if (report.skipped !== null || report.driver === null) {
    out.push(`*Skipped: ${report.skipped ?? "no figures"}.*`);
    return out;
  }
  const d = report.driver;
  const c = report.config!;
  const s = d.server.settings;
  const f = (n: number) => (Number.isFinite(n) ? count(Math.round(n)) : "—");
  const cpuText = (x: { pg: number; client: number } | null, which: "pg" | "client") =>
    x === null ? "—" : `${f(x[which])} µs`;

  out.push(
    [
      `${d.server.version} on this machine, started for the run by \`tests/_support/postgres.ts\` (Unix socket, fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}, shared_buffers=${s.shared_buffers}; \`pg_stat_statements\` and \`auto_explain\` loaded), sharing the ${navigator.hardwareConcurrency} cores with everything it serves. Each case gets a fresh database, a warm-up round of ${
        count(c.warmupJobs)
      } jobs, then ${c.rounds} round(s) of ${count(c.jobs)} no-op jobs enqueued at once.`,
      "",
      `- *liminal*: \`liminal start --no-tui --workers ${c.workers} --log-level warning --jobs bench/_pg_jobs.ts --store postgres://…\` processes with the permissions of \`deno task start\`; a round is one \`POST /v1/jobs\` (\`count\`) to the first runtime.`,
      "- *in-process*: `MaintenanceExecutor`s in one Deno process, each over a `PostgresStore` of its own (own node id), counted at the store's interface (below).",
      `- *bare SKIP LOCKED loop*: the \`postgres\` client on a bare table: one \`INSERT … SELECT\`, then loops of \`UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING\` and one \`UPDATE … WHERE id = ANY(…)\` per claim. **baseline**: ≤ ${c.workers} jobs per claim on one connection per runtime (liminal's batch size and statements per job, the floor of its round trips); the other: one job per claim on one connection per worker (a queue without batching).`,
      "- *jobs/s*: first attempt started → last job finished, from the store's own rows (median round, min…max); *end to end*: the enqueue call → last job finished; × baseline: µs per job ÷ the baseline's. *CPU/job*: utime + stime from /proc over each round; *client*: the runtimes (bare loop and in-process: the one process running the loops or executors). *server µs/job*: execution time of the case's statements (`pg_stat_statements`).",
      "",
    ].join("\n"),
  );

  // Throughput ------------------------------------------------------------------------
  const rows: string[][] = [];
  for (const n of c.clusters) {
    const baseline = d.floor.find((r) => r.concurrency === n && r.batch === c.workers);
    const cases: (ThroughputResult | undefined)[] = [
      baseline,
      d.floor.find((r) => r.concurrency === n * c.workers && r.batch === 1),
      d.clusters.find((r) => r.runtimes === n),
      ...(d.peers ?? []).filter((r) => r.runtimes === n),
      d.inProcess.find((r) => r.runtimes === n),
    ];
    const base = spread(baseline);
    for (const result of cases) {
      if (result === undefined) continue;
      const sp = spread(result);
      if (sp === null) continue;
      const perJob = 1e6 / rate(sp.median);
      const cpu = cpuPerJob(result);
      const server = serverPerJob(result);
      rows.push([
        `${n === 1 ? "1 runtime" : `${n} runtimes`} (${n * c.workers} workers)`,
        `${result === baseline ? "**baseline** " : ""}${result.name}`,
        `**${f(rate(sp.median))}** (${f(sp.min)}…${f(sp.max)})`,
        t.us(perJob),
        result === baseline || base === null ? "1" : t.ratio(perJob / (1e6 / rate(base.median))),
        f((sp.median.jobs / sp.median.endToEndMs) * 1_000),
        cpuText(cpu, "pg"),
        cpuText(cpu, "client"),
        Number.isFinite(server) && server > 0 ? `${f(server)} µs` : "—",
        t.change(`pg.tput.${result.id}`, perJob),
      ]);
    }
  }
  rows.push([
    "(other hardware)",
    `*Graphile Worker, published, not measured here*`,
    `*~${count(GRAPHILE.jobsPerSec)}*`,
    `*${t.us(1e6 / GRAPHILE.jobsPerSec)}*`,
    "",
    "",
    "",
    "",
    "",
    "",
  ]);
  out.push(
    t.table([
      "configuration",
      "case",
      "jobs/s",
      "µs/job",
      "× baseline",
      "end to end, jobs/s",
      "PostgreSQL CPU/job",
      "client CPU/job",
      "server µs/job",
      "vs previous (µs/job)",
    ], rows),
  );
  out.push(
    `\n*Graphile Worker's figures are its authors', from its perfTest on their machine (${GRAPHILE.setup}; ${
      count(GRAPHILE.jobsPerSecBatched)
    } jobs/s with its batching options), quoted for scale only: [${GRAPHILE.url}](${GRAPHILE.url}).*\n`,
  );

  // Beside the peers ---------------------------------------------------------------------
  out.push(...peersTable(d, c, t));

  // Latency -----------------------------------------------------------------------------
  if (d.latency.length > 0) {
    out.push(
      `\n### Enqueue → start latency (open loop, ${c.latencyRate} jobs/s, ${c.latencyJobs} probes per row)\n`,
    );
    out.push(
      `A \`probe\` job's handler returns the time it started; latency = that − the moment the enqueue call began (the same clock in every process: \`performance.timeOrigin + performance.now()\`), after ${c.latencyWarmup} warm-up probes by the same path. The runtimes are the ones of the throughput rounds above. *control socket*: one \`POST /v1/jobs\` per job to a runtime (round robin); *database*: another process inserts each job with a \`PostgresStore\` of its own and the runtimes hear of it through \`LISTEN\`/\`NOTIFY\`. *≥ 50 ms*: probes that waited that long, with the slowest (the node that ran them, when they were sent). *statements/job*: liminal's statements per probe, enqueue to settle (\`pg_stat_statements\`).\n`,
    );
    const slowest = (l: LatencyResult) => {
      if (l.over50ms === 0) return "0";
      const worst = l.slowest.filter((x) => x.ms >= 50);
      const at = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;
      return `${l.over50ms} (${
        worst.slice(0, 3).map((x) => `${t.formatLatency(x.ms)} on ${x.node} at ${at(x.sentAtMs)}`)
          .join(", ")
      })`;
    };
    const latencyRows = d.latency.map((l: LatencyResult) => {
      const key = `pg.lat.${l.runtimes}.${l.path}`;
      const perJob = ownStatements(l).reduce((n, st) => n + st.calls, 0) / Math.max(1, l.jobs);
      t.change(`${key}.p50`, l.enqueueToStart.p50);
      return [
        `${l.runtimes === 1 ? "1 runtime" : `${l.runtimes} runtimes`}, ${
          l.path === "socket" ? "control socket" : "database (NOTIFY)"
        }`,
        `${l.jobs} of ${l.sent}`,
        `**${t.formatLatency(l.enqueueToStart.p50)}**`,
        t.formatLatency(l.enqueueToStart.p90),
        `**${t.formatLatency(l.enqueueToStart.p99)}**`,
        t.formatLatency(l.enqueueToStart.mean),
        t.formatLatency(l.enqueueToStart.max),
        slowest(l),
        t.formatLatency(l.enqueueCall.p50),
        Number.isFinite(perJob) && perJob > 0 ? perJob.toFixed(1) : "—",
        t.change(`${key}.p99`, l.enqueueToStart.p99),
      ];
    });
    latencyRows.push([
      "*Graphile Worker, published (other hardware, not measured here)*",
      "",
      "",
      "",
      "",
      `*${GRAPHILE.latencyAvgMs.map((v) => t.formatLatency(v)).join(" / ")}*`,
      `*${GRAPHILE.latencyMaxMs.map((v) => t.formatLatency(v)).join(" / ")}*`,
      "",
      "",
      "",
      "",
    ]);
    out.push(t.table([
      "runtimes, enqueue path",
      "probes ran",
      "p50",
      "p90",
      "p99",
      "mean",
      "max",
      "≥ 50 ms: probes (slowest, where)",
      "enqueue call p50",
      "statements/job",
      "vs previous (p99)",
    ], latencyRows));
    out.push(
      "\n*Graphile Worker: average and maximum add_job → start of its perfTest latency test (jobs added one after another), without / with batching; it publishes no percentiles.*\n",
    );
  }

  // Where the time goes -------------------------------------------------------------------
  const withStatements = [...d.clusters, ...d.floor.filter((r) => r.batch > 1)]
    .filter((r) => r.statements !== null);
  if (withStatements.length > 0) {
    out.push("\n### Where the time goes\n");
    out.push(
      "Statements per job over the measured rounds (`pg_stat_statements`): calls per job, jobs (rows) per call (the batch size), server execution time per call and per job. A statement is one round trip; `begin / commit` as counted by `pg_stat_statements`. Statements below 0.001 calls/job (heartbeats, schedules, retention) are left out.\n",
    );
    const statementRows: string[][] = [];
    for (const result of withStatements) {
      const jobs = jobsOf(result);
      for (const st of ownStatements(result)) {
        if (st.calls / jobs < 0.001) continue;
        statementRows.push([
          result.runtimes === 0
            ? `baseline, ${result.concurrency} connection${result.concurrency === 1 ? "" : "s"}`
            : `liminal, ${result.runtimes} runtime${result.runtimes === 1 ? "" : "s"}`,
          st.name,
          (st.calls / jobs).toFixed(3),
          (st.rows / Math.max(1, st.calls)).toFixed(2),
          t.formatLatency(st.totalMs / Math.max(1, st.calls)),
          f((st.totalMs / jobs) * 1_000),
        ]);
      }
    }
    out.push(t.table(
      ["case", "statement", "calls/job", "rows/call", "server time/call", "server µs/job"],
      statementRows,
    ));

    // What the executors asked for (in-process).
    if (d.inProcess.length > 0) {
      out.push(
        "\nWhat the executors asked of their store (in-process, counted at the `JobStore` interface over the measured rounds; call times as the executor waits for them, queueing on the pool included):\n",
      );
      out.push(t.table(
        [
          "in-process",
          "claims/job",
          "jobs asked per claim",
          "jobs won per claim",
          "settles/job",
          "jobs per settle",
          "ready-window reads/job",
          "rows per read",
          "claim call",
          "settle call",
        ],
        d.inProcess.map((r: InProcessResult) => {
          const v = r.verbs;
          const jobs = jobsOf(r);
          return [
            `${r.runtimes} executor(s)`,
            (v.claimCalls / jobs).toFixed(3),
            (v.claimRequested / Math.max(1, v.claimCalls)).toFixed(2),
            (v.claimWon / Math.max(1, v.claimCalls)).toFixed(2),
            (v.settleCalls / jobs).toFixed(3),
            (v.settled / Math.max(1, v.settleCalls)).toFixed(2),
            (v.loadReadyCalls / jobs).toFixed(4),
            f(v.loadReadyRows / Math.max(1, v.loadReadyCalls)),
            t.formatLatency(v.claimMs / Math.max(1, v.claimCalls)),
            t.formatLatency(v.settleMs / Math.max(1, v.settleCalls)),
          ];
        }),
      ));
    }

    // NOTIFY traffic.
    const notified = d.clusters.filter((r) => r.notify !== null);
    if (notified.length > 0) {
      out.push(
        `\n\`NOTIFY\`s on the store's jobs channel during the measured rounds, as one listener receives them (every runtime receives all): ${
          notified.map((r) => {
            const jobs = jobsOf(r);
            const kinds = Object.entries(r.notify!.byKind).map(([k, n]) =>
              `${k} ${(n / jobs).toFixed(2)}`
            ).join(", ");
            return `${r.runtimes} runtime(s): ${
              (r.notify!.count / jobs).toFixed(2)
            } per job (${kinds}), ${t.bytes(r.notify!.bytes / jobs)} per job`;
          }).join("; ")
        }.\n`,
      );
    }

    // Computed reading.
    const lines: string[] = [];
    for (const n of c.clusters) {
      const cl = d.clusters.find((r) => r.runtimes === n);
      const base = d.floor.find((r) => r.concurrency === n && r.batch === c.workers);
      if (cl === undefined || base === undefined) continue;
      const cpu = cpuPerJob(cl);
      const baseCpu = cpuPerJob(base);
      const claim = statementOf(cl, "claim");
      const settle = statementOf(cl, "settle");
      const baseClaim = statementOf(base, "floor: claim");
      const baseDone = statementOf(base, "floor: complete");
      const per = (st: StatementClass | undefined) =>
        st === undefined ? Number.NaN : st.totalMs / Math.max(1, st.calls);
      const jobs = jobsOf(cl);
      if (cpu !== null && baseCpu !== null) {
        lines.push(
          `- ${n === 1 ? "1 runtime" : `${n} runtimes`}: PostgreSQL used ${
            f(cpu.pg)
          } µs of CPU per job (baseline ${f(baseCpu.pg)} µs), the runtime process(es) ${
            f(cpu.client)
          } µs. The claim took ${t.formatLatency(per(claim))} of server time per call (${
            ((claim?.calls ?? 0) / jobs).toFixed(2)
          } calls and ${
            ((claim?.rows ?? 0) / Math.max(1, claim?.calls ?? 0)).toFixed(2)
          } jobs per call), the settle ${t.formatLatency(per(settle))} (${
            ((settle?.rows ?? 0) / Math.max(1, settle?.calls ?? 0)).toFixed(2)
          } jobs per call); the baseline's claim and completion of the same batch size ${
            t.formatLatency(per(baseClaim))
          } and ${t.formatLatency(per(baseDone))}.`,
        );
      }
    }
    if (lines.length > 0) out.push(`\n${lines.join("\n")}\n`);
  }

  // Plans -----------------------------------------------------------------------------------
  if (d.plans !== null && d.plans.summaries.length > 0) {
    out.push(
      `\n### How the server runs liminal's statements\n\n\`auto_explain\` (row counts, no timing) on every statement while one runtime drains one round of ${
        count(d.plans.jobs)
      } jobs enqueued at once; the most common plan of each statement and the rows its scans read per execution (rows returned plus rows a filter removed; median).\n`,
    );
    out.push(t.table(
      [
        "statement",
        "executions",
        "jobs per execution",
        "median time",
        "scans of the most common plan (rows read)",
      ],
      d.plans.summaries.map((p) => [
        p.statement,
        `${count(p.executions)}${
          p.sharedBy < p.executions ? ` (plan shown: ${count(p.sharedBy)})` : ""
        }`,
        f(p.medianRows),
        t.formatLatency(p.medianMs),
        p.scans.length === 0 ? "—" : p.scans.map((sc) => `${sc.node}: ${f(sc.rows)}`).join("; "),
      ]),
    ));
  }

  // Aims ------------------------------------------------------------------------------------
  const tput = c.clusters.map((n) => {
    const sp = spread(d.clusters.find((r) => r.runtimes === n));
    const base = spread(d.floor.find((r) => r.concurrency === n && r.batch === c.workers));
    return sp === null
      ? null
      : `${n} runtime(s) ${f(rate(sp.median))}${
        base === null ? "" : ` (baseline ${f(rate(base.median))})`
      }`;
  }).filter((x) => x !== null);
  if (tput.length > 0) {
    t.aim(
      "(no aim) PostgreSQL store: no-op jobs/s",
      `${tput.join("; ")}; Graphile Worker publishes ~${
        count(GRAPHILE.jobsPerSec)
      } on other hardware`,
      null,
    );
  }
  const lat = d.latency.find((l) => l.runtimes === 1 && l.path === "socket") ?? d.latency[0];
  if (lat !== undefined) {
    t.aim(
      `(no aim) PostgreSQL store: enqueue → start, ${lat.runtimes} runtime(s), ${
        lat.path === "socket" ? "control socket" : "database"
      }, ${lat.ratePerSec}/s`,
      `p50 ${t.formatLatency(lat.enqueueToStart.p50)}, p99 ${
        t.formatLatency(lat.enqueueToStart.p99)
      }, mean ${t.formatLatency(lat.enqueueToStart.mean)} (Graphile Worker publishes a ${
        t.formatLatency(GRAPHILE.latencyAvgMs[1])
      }–${t.formatLatency(GRAPHILE.latencyAvgMs[0])} mean on other hardware)`,
      null,
    );
  }
  if (report.statementsError !== null) {
    out.push(
      `\n*No statement or plan figures: \`pg_stat_statements\` could not be loaded (${report.statementsError}).*`,
    );
  }
  return out;
}
