/**
 * `liminal run <plan.json>`: runs a maintenance plan in an ephemeral runtime, prints a
 * summary (a table, or one JSON document with `--json`) and exits 0 when every job
 * succeeded, 1 when one failed, died or was cancelled, 2 for a bad plan, 4 when a lease is
 * held and `--no-wait-leases` was given, 130 on Ctrl-C.
 *
 * When a runtime answers on the control socket, a plan job that names `leases` takes them in
 * that runtime first (see `_remote_leases.ts`): it never runs while the runtime, one of its
 * jobs or an operator holds one.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { parseLeaseList } from "../executor/job_spec.ts";
import { loadJobModules } from "../runtime/modules.ts";
import { Runtime } from "../runtime/runtime.ts";
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { type JobRecord, type JobSnapshot, toJobSnapshot } from "../shared/job.ts";
import { type CliContext, collect } from "./_context.ts";
import { logJobLifecycle } from "./_job_log.ts";
import { configureLogging, parseLogFormat, parseLogLevel } from "./_logging.ts";
import { captureConsole } from "../runtime/module_output.ts";
import {
  colorEnabled,
  formatTable,
  paint,
  paintState,
  printJson,
  writeErr,
  writeOut,
} from "./_output.ts";
import { parseDurationOption, parseWorkers } from "./_parse.ts";
import { loadPlan } from "./_plan.ts";
import { RemoteLeases } from "./_remote_leases.ts";
import { SOCKET_HELP } from "./_client.ts";
import { cutToWidth } from "../shared/text_width.ts";

/** The `--json` document of `liminal run`. */
export interface RunSummary {
  plan: string;
  ok: boolean;
  interrupted: boolean;
  durationMs: number;
  counts: {
    total: number;
    succeeded: number;
    /** Jobs that failed and will not run again (`failed` is an attempt's outcome, not a state). */
    dead: number;
    cancelled: number;
    unfinished: number;
  };
  jobs: JobSnapshot[];
}

/** The `run` subcommand. */
export function runCommand(ctx: CliContext) {
  return new Command("run")
    .description("run a maintenance plan once and exit with its result (for cron and CI)")
    .argument("<plan>", 'a plan file: { "jobs": [ { "kind", "payload", "priority", ... } ] }')
    .option("-w, --workers <n>", "concurrent workers (default: the plan's, else 4)")
    .option("--jobs <module>", "a module exporting job kinds (repeatable)", collect, [] as string[])
    .option("--grace <duration>", "time running jobs get to finish on Ctrl-C", "10s")
    .option("--json", "print one JSON document instead of a table")
    .option(
      "-v, --verbose",
      "log each job's steps to stderr (without it a run that succeeds prints nothing there)",
    )
    .option("--log-format <format>", "pretty or json (logs go to stderr)", "pretty")
    .option("--log-level <level>", "debug, info, warning or error (implies --verbose)")
    .option(
      "--no-wait-leases",
      "fail at once (exit 4, naming the holder) when the runtime holds a lease a plan job needs",
    )
    .option("--socket <path>", `whose leases to honour: ${SOCKET_HELP}`)
    .addHelpText(
      "after",
      `
Examples:
  $ liminal run nightly.json              quiet on success: the summary on stdout only
  $ liminal run nightly.json -v           and each job's steps on stderr
  $ liminal run nightly.json --workers 2 --json > result.json
  $ liminal run nightly.json --no-wait-leases

Leases: when a runtime answers on the control socket, a plan job that names "leases" first
takes them in that runtime, through its control API, as a holder named run:<plan>:<pid>-<id>
(not preemptible, renewed while the run needs it, released once the job is final), with the
job's priority (which may preempt a runtime job's lease of lower priority). While the runtime,
one of its jobs or an operator holds one, the job waits in that runtime's line (the other plan
jobs go on); with --no-wait-leases the run takes every lease of the plan before
anything runs, and fails with exit 4 naming the holder when one is held. Without a runtime on
the socket, the plan's leases are only its own (a --socket that does not answer: exit 3).

Output: the summary (a table, or --json) goes to stdout. stderr stays empty when the plan
succeeds (cron mails nothing); when a job fails, one line per failed job names it there.

Exit status: 0 every job succeeded; 1 a job failed, died or was cancelled; 2 a bad plan;
3 the --socket runtime does not answer; 4 a lease is held (--no-wait-leases);
130 interrupted by Ctrl-C.`,
    )
    .action(async (planPath, options) => {
      const format = parseLogFormat(options.logFormat);
      const verbose = options.verbose === true || options.logLevel !== undefined;
      const level = parseLogLevel(options.logLevel ?? "info");
      const workersOption = parseWorkers(options.workers);
      const grace = parseDurationOption(options.grace, "--grace");
      const plan = await loadPlan(planPath);
      configureLogging(format, level, { quiet: !verbose });
      // What job modules print (loading or in handlers) goes to the log and the job's own log,
      // never onto stdout, which holds the summary (or the one JSON document) alone.
      captureConsole();
      const modules = await loadJobModules(options.jobs);
      const userKinds = modules.flatMap((m) => m.kinds);

      const runtime = new Runtime({
        workers: workersOption ?? plan.workers ?? 4,
        ...(grace === undefined ? {} : { grace }),
        jobs: userKinds,
        handleSignals: true,
      });
      try {
        runtime.executor.validate(plan.jobs);
      } catch (error) {
        if (error instanceof LiminalError) {
          const hint = error.code === "UNKNOWN_JOB_KIND" && error.hint === undefined
            ? "load more kinds with --jobs ./module.ts"
            : error.hint;
          throw new LiminalError(error.code, `plan ${planPath}: ${error.message}`, {
            cause: error,
            ...(hint === undefined ? {} : { hint }),
          });
        }
        throw error;
      }
      const leased = plan.jobs.map((spec, i) => ({
        spec,
        label: `plan job #${i + 1} (${spec.kind})`,
        leases: spec.leases === undefined ? [] : parseLeaseList(spec.leases, `jobs[${i}]`),
      }));
      const remote = leased.some((j) => j.leases.length > 0)
        ? await RemoteLeases.connect(
          options.socket,
          `run:${plan.name.slice(0, 60)}:${Deno.pid}-${crypto.randomUUID().slice(0, 4)}`,
          options.waitLeases,
        )
        : null;
      // Jobs that wait for a lease held in the runtime are enqueued once they hold it.
      const later = remote !== null && options.waitLeases
        ? leased.filter((j) => j.leases.length > 0)
        : [];
      const now = leased.filter((j) => !later.includes(j));
      if (remote !== null && !options.waitLeases) {
        // Every lease of the plan before anything runs: held, the run fails at once.
        try {
          for (const job of now) {
            if (job.leases.length > 0) await remote.take(job.leases, job.spec.priority, job.label);
          }
        } catch (error) {
          await remote.close();
          throw error;
        }
      }
      const stopLogging = logJobLifecycle(runtime.executor);
      const started = performance.now();
      await runtime.start();
      let records: JobRecord[] = [];
      let interrupted = false;
      let laterEnqueued = 0;
      const ids: string[] = [];
      const stopWaiting = new AbortController();
      try {
        // The remote leases a job took are given back once it is final.
        const follow = async (id: string, job: (typeof leased)[number]) => {
          try {
            return await runtime.executor.waitFor(id);
          } finally {
            if (remote !== null && job.leases.length > 0) await remote.give(job.leases);
          }
        };
        const results = await runtime.executor.enqueueMany(now.map((j) => j.spec));
        const seen = new Set<string>();
        const tasks: Promise<JobRecord | null>[] = [];
        results.forEach((result, i) => {
          ids.push(result.id);
          // Duplicates (a uniqueKey) are followed once; their leases are given back too.
          if (!seen.has(result.id)) {
            seen.add(result.id);
            tasks.push(follow(result.id, now[i]!));
          } else if (remote !== null && now[i]!.leases.length > 0) {
            void remote.give(now[i]!.leases);
          }
        });
        for (const job of later) {
          tasks.push((async () => {
            try {
              await remote!.take(job.leases, job.spec.priority, job.label, stopWaiting.signal);
            } catch (error) {
              if (stopWaiting.signal.aborted) return null;
              throw error;
            }
            let id: string;
            try {
              id = (await runtime.executor.enqueue(job.spec)).id;
            } catch (error) {
              await remote!.give(job.leases);
              if (runtime.state !== "running") return null;
              throw error;
            }
            laterEnqueued++;
            ids.push(id);
            if (seen.has(id)) {
              await remote!.give(job.leases);
              return null;
            }
            seen.add(id);
            return await follow(id, job);
          })());
        }
        const finished = Promise.all(tasks);
        // Interrupted, the race below is over before the jobs are: their end is read below.
        finished.catch(() => {});
        const outcome = await Promise.race([
          finished.then((list) => ({ done: true as const, list })),
          runtime.stopped().then(() => ({ done: false as const })),
        ]);
        if (outcome.done) {
          records = outcome.list.filter((r): r is JobRecord => r !== null);
        } else {
          interrupted = true;
          stopWaiting.abort();
        }
        await runtime.shutdown();
        if (!outcome.done) {
          records = (await Promise.all(
            [...new Set(ids)].map((id) => runtime.store.get(id).catch(() => null)),
          )).filter((r): r is JobRecord => r !== null);
        }
      } finally {
        stopWaiting.abort();
        await runtime.shutdown();
        await remote?.close();
        stopLogging();
      }
      interrupted ||= runtime.report?.forced === true || (runtime.report?.interrupted ?? 0) > 0;
      const summary = summarize(
        plan.name,
        records,
        performance.now() - started,
        interrupted,
        later.length - laterEnqueued,
      );
      if (options.json) printJson(summary);
      else writeOut(formatSummary(summary));
      if (!summary.ok) writeErr(formatFailures(summary));
      ctx.exitCode = interrupted ? 130 : summary.ok ? 0 : 1;
    });
}

function summarize(
  name: string,
  records: JobRecord[],
  durationMs: number,
  interrupted: boolean,
  notEnqueued = 0,
): RunSummary {
  const jobs = records.map(toJobSnapshot);
  const count = (state: string) => jobs.filter((j) => j.state === state).length;
  const counts = {
    total: jobs.length + notEnqueued,
    succeeded: count("succeeded"),
    dead: count("dead"),
    cancelled: count("cancelled"),
    unfinished: notEnqueued +
      jobs.filter((j) => !["succeeded", "failed", "dead", "cancelled"].includes(j.state)).length,
  };
  return {
    plan: name,
    ok: !interrupted && counts.succeeded === counts.total,
    interrupted,
    durationMs: Math.round(durationMs),
    counts,
    jobs,
  };
}

/** What failed, for stderr: one line per job that did not succeed (cron mails this). */
function formatFailures(summary: RunSummary): string {
  const lines = summary.jobs.filter((j) => j.state !== "succeeded").map((j) => {
    const what = j.error === null ? "" : `: ${j.error.code}: ${j.error.message}`;
    return `liminal run: job ${j.id} ${j.kind} ${j.state} after ${j.attempt}/${j.maxAttempts} attempt(s)${what}`;
  });
  const c = summary.counts;
  const head = summary.interrupted
    ? `liminal run: plan ${summary.plan} interrupted: ${c.unfinished} of ${c.total} job(s) unfinished`
    : `liminal run: plan ${summary.plan} failed: ${
      c.total - c.succeeded
    } of ${c.total} job(s) did not succeed`;
  return `${[head, ...lines].join("\n")}\n`;
}

function formatSummary(summary: RunSummary): string {
  const color = colorEnabled();
  const table = formatTable(summary.jobs, [
    { header: "ID", value: (j) => j.id },
    { header: "KIND", value: (j) => j.kind },
    { header: "STATE", value: (j) => paintState(j.state, color) },
    { header: "ATTEMPTS", value: (j) => `${j.attempt}/${j.maxAttempts}`, align: "right" },
    {
      header: "DURATION",
      value: (j) => {
        const ms = j.attempts.reduce((sum, a) => sum + (a.durationMs ?? 0), 0);
        return j.attempts.length === 0 ? "-" : formatDuration(ms);
      },
      align: "right",
    },
    {
      header: "ERROR",
      value: (j) => (j.state === "succeeded" ? "" : cutToWidth(j.error?.message ?? "", 60, false)),
    },
  ], color);
  const c = summary.counts;
  const parts = [`${c.succeeded} succeeded`];
  if (c.dead) parts.push(`${c.dead} dead`);
  if (c.cancelled) parts.push(`${c.cancelled} cancelled`);
  if (c.unfinished) parts.push(`${c.unfinished} unfinished`);
  const verdict = summary.interrupted
    ? paint("interrupted", ["bold", "yellow"], color)
    : summary.ok
    ? paint("ok", ["bold", "green"], color)
    : paint("failed", ["bold", "red"], color);
  return `${table}\nplan ${summary.plan}: ${verdict}: ${c.total} job(s), ${parts.join(", ")} in ${
    formatDuration(summary.durationMs)
  }\n`;
}
