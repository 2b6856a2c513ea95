/**
 * `liminal start`: runs the runtime in this process until Ctrl-C or SIGTERM, logging each
 * job's life one line at a time, then shuts down in order.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { getLogger } from "@logtape/logtape";
import { loadJobModules } from "../runtime/modules.ts";
import { captureConsole } from "../runtime/module_output.ts";
import { Runtime } from "../runtime/runtime.ts";
import { LiminalError } from "../shared/errors.ts";
import { type Duration, formatDuration, parseDuration } from "../shared/duration.ts";
import { createStore, isPostgresUrl } from "../store/mod.ts";
import { parseDurability, resolveStoreOption } from "./_store.ts";
import { VERSION } from "../shared/version.ts";
import { checkSocketPath, resolveSocketPath } from "../control/socket.ts";
import { SOCKET_HELP } from "./_client.ts";
import { type CliContext, collect } from "./_context.ts";
import { logJobLifecycle } from "./_job_log.ts";
import {
  configureHeldLogging,
  configureLogging,
  parseLogFormat,
  parseLogLevel,
} from "./_logging.ts";
import { writeErr } from "./_output.ts";
import { LocalView } from "../runtime/local_view.ts";
import { formatReport } from "../runtime/runtime.ts";
import { dashboardPossible, loadDashboard } from "../tui/terminal.ts";
import { parseDurationOption, parseWorkers } from "./_parse.ts";

const log = getLogger(["liminal", "cli"]);

/** The `start` subcommand. */
export function startCommand(ctx: CliContext) {
  return new Command("start")
    .description("run the runtime here until Ctrl-C or SIGTERM, then shut down in order")
    .option("-w, --workers <n>", "concurrent workers", "4")
    .option("--grace <duration>", "time running jobs get to finish on shutdown", "10s")
    .option(
      "--stuck-after <duration>",
      "a running job showing no heartbeat, progress or log this long marks its worker stuck (a kind's stuckAfter overrides it)",
      "30s",
    )
    .option("--jobs <module>", "a module exporting job kinds (repeatable)", collect, [] as string[])
    .option(
      "--store <store>",
      "where jobs live: a SQLite file, :memory:, or postgres://user@host/db shared by several runtimes (env LIMINAL_STORE, default .liminal/liminal.db)",
    )
    .option(
      "--heartbeat <duration>",
      "with a postgres store: how often this runtime tells the others it is alive",
      "5s",
    )
    .option(
      "--node-timeout <duration>",
      "with a postgres store: silence after which a runtime is dead and its jobs are run elsewhere",
      "30s",
    )
    .option(
      "--node-id <id>",
      "this runtime's name among those sharing a Postgres store (env LIMINAL_NODE_ID, default <host>-<pid>-<random>)",
    )
    .option(
      "--durability <level>",
      "normal (safe against a crash) or full (also against power loss)",
      "normal",
    )
    .option(
      "--kill-grace <duration>",
      "time a command job's program gets between SIGTERM and SIGKILL (its payload's killGrace wins); also when this runtime dies",
      "5s",
    )
    .option("--retain <duration>", "keep finished jobs this long", "7d")
    .option("--retain-count <n>", "keep at most this many finished jobs", "100000")
    .option(
      "--lease-ttl <duration>",
      "a lease's TTL when none is asked (at most 1h); a job's leases are renewed every third of it while it runs, and end at it after a crash: it must be more than 1.5 × --kill-grace",
      "15m",
    )
    .option("--socket <path>", SOCKET_HELP)
    .option("--log-format <format>", "pretty or json", "pretty")
    .option("--log-level <level>", "debug, info, warning or error", "info")
    .option(
      "--no-tui",
      "log lines instead of the dashboard (also without a terminal or with CI set)",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ liminal start
  $ liminal start --workers 8 --jobs ./maintenance_jobs.ts --grace 30s
  $ liminal start --log-format json 2> liminal.log
  $ liminal start --store /var/lib/liminal/jobs.db --durability full
  $ liminal start --store :memory:              # nothing kept across restarts
  $ liminal start --store postgres://liminal@db.internal/ops   # one queue for several machines

Ctrl-C (or SIGTERM) starts the ordered shutdown: intake closes, running jobs get the grace
period, then their signals abort; a second Ctrl-C forces it (exit 130).`,
    )
    .action(async (options) => {
      const format = parseLogFormat(options.logFormat);
      const level = parseLogLevel(options.logLevel);
      const stuckAfter = options.stuckAfter;
      if (parseDuration(stuckAfter, "--stuck-after") <= 0) {
        throw new LiminalError(
          "INVALID_DURATION",
          `--stuck-after must be longer than 0, got "${stuckAfter}"`,
        );
      }
      const workers = parseWorkers(options.workers);
      const grace = parseDurationOption(options.grace, "--grace");
      const durability = parseDurability(options.durability);
      const retain = parseDurationOption(options.retain, "--retain")!;
      const killGrace = parseDurationOption(options.killGrace, "--kill-grace")!;
      const leaseTtl = parseDurationOption(options.leaseTtl, "--lease-ttl")!;
      checkLeaseTtl(leaseTtl, killGrace); // before the store or its migrations exist
      const retainCount = parseRetainCount(options.retainCount);
      const socket = resolveSocketPath(options.socket);
      checkSocketPath(socket); // before the store, its directory or its migrations exist
      const location = resolveStoreOption(options.store);
      const nodeId = options.nodeId ??
        (isPostgresUrl(location) ? Deno.env.get("LIMINAL_NODE_ID") || undefined : undefined);
      const store = await createStore(location, {
        durability,
        ...(nodeId === undefined ? {} : { nodeId }),
        heartbeat: parseDurationOption(options.heartbeat, "--heartbeat")!,
        nodeTimeout: parseDurationOption(options.nodeTimeout, "--node-timeout")!,
      });
      const tui = options.tui && dashboardPossible();
      // The dashboard owns the terminal: log records are kept, not printed, while it runs.
      const held = tui ? configureHeldLogging(level) : (configureLogging(format, level), null);
      // What job modules print goes to the log (and a job's own log), not onto the terminal.
      captureConsole();
      const modules = await loadJobModules(options.jobs);
      const runtime = new Runtime({
        ...(workers === undefined ? {} : { workers }),
        ...(grace === undefined ? {} : { grace }),
        killGrace,
        jobs: modules.flatMap((m) => m.kinds),
        schedules: modules.flatMap((m) => m.schedules),
        stuckAfter,
        endpoints: modules.flatMap((m) => m.endpoints),
        handleSignals: true,
        socket,
        store,
        retention: { maxAge: retain, maxCount: retainCount },
        leases: { defaultTtl: leaseTtl },
      });
      const stopLogging = logJobLifecycle(runtime.executor);
      try {
        await runtime.start();
      } catch (error) {
        held?.flush();
        throw error;
      }
      log.info(
        "liminal {version} running (pid {pid}, {workers} workers, store {store}, socket {socket}, kinds: {kinds}); Ctrl-C to stop",
        {
          store: store.info.location,
          version: VERSION,
          socket,
          pid: Deno.pid,
          workers: runtime.config.workers,
          kinds: runtime.executor.kinds.names().join(", "),
        },
      );
      if (tui) {
        const view = new LocalView(runtime);
        try {
          // Loaded only now: a runtime without a terminal never pays for Ink and React.
          const { runDashboard } = await loadDashboard();
          await runDashboard(view, { patchConsole: false }); // the console is captured
        } finally {
          view.close();
        }
        // The dashboard exits once the runtime has stopped; be sure of it.
        await runtime.shutdown();
        held?.flush({ onlyWarnings: true });
        if (runtime.report) writeErr(`${formatReport(runtime.report)}\n`);
      }
      await runtime.stopped();
      stopLogging();
      const report = runtime.report;
      ctx.exitCode = report?.forced ? 130 : report && report.errors.length > 0 ? 1 : 0;
    });
}

function parseRetainCount(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid --retain-count "${value}": use a whole number of at least 0`,
    );
  }
  return n;
}

/** The longest lease TTL (the lease manager's maximum). */
const MAX_LEASE_TTL_MS = 3_600_000;

/**
 * Checks `--lease-ttl` against its maximum and against `--kill-grace`. A running job's lease is
 * renewed every third of the TTL, so when the runtime dies it still has at least two thirds of
 * the TTL to live; the job's processes are killed within the kill grace of that death. The
 * lease must outlive them: 2/3 × TTL > kill grace, i.e. TTL > 1.5 × kill grace.
 */
export function checkLeaseTtl(leaseTtl: Duration, killGrace: Duration): void {
  const ttlMs = parseDuration(leaseTtl, "--lease-ttl");
  const graceMs = parseDuration(killGrace, "--kill-grace");
  if (ttlMs <= 0 || ttlMs > MAX_LEASE_TTL_MS) {
    throw new LiminalError(
      "INVALID_DURATION",
      `--lease-ttl must be longer than 0 and at most ${formatDuration(MAX_LEASE_TTL_MS)}, got ${
        JSON.stringify(leaseTtl)
      }`,
    );
  }
  if (ttlMs * 2 <= graceMs * 3) {
    throw new LiminalError(
      "INVALID_DURATION",
      `--lease-ttl ${formatDuration(ttlMs)} is too short for --kill-grace ${
        formatDuration(graceMs)
      }: after a crash a job's lease lives at least 2/3 of its TTL (it is renewed every third), ` +
        "and must outlive the job's processes, killed within the kill grace",
      {
        hint: `use --lease-ttl above ${
          formatDuration(Math.floor(graceMs * 1.5))
        }, or a shorter --kill-grace`,
      },
    );
  }
}
