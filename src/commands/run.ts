/**
 * `liminal run <plan.json>`: runs a maintenance plan in an ephemeral runtime, prints a
 * summary (a table, or one JSON document with `--json`) and exits 0 when every job
 * succeeded, 1 when one failed, died or was cancelled, 2 for a bad plan, 130 on Ctrl-C.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { loadJobModules } from "../runtime/modules.ts";
import { Runtime } from "../runtime/runtime.ts";
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { type JobRecord, type JobSnapshot, toJobSnapshot } from "../shared/job.ts";
import { type CliContext, collect } from "./_context.ts";
import { logJobLifecycle } from "./_job_log.ts";
import { configureLogging, parseLogFormat, parseLogLevel } from "./_logging.ts";
import { colorEnabled, formatTable, paint, paintState, printJson, writeOut } from "./_output.ts";
import { parseDurationOption, parseWorkers } from "./_parse.ts";
import { loadPlan } from "./_plan.ts";

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
    .option("--log-format <format>", "pretty or json (logs go to stderr)", "pretty")
    .option("--log-level <level>", "debug, info, warning or error", "info")
    .addHelpText(
      "after",
      `
Examples:
  $ liminal run nightly.json
  $ liminal run nightly.json --workers 2 --json > result.json

Exit status: 0 every job succeeded; 1 a job failed, died or was cancelled; 2 a bad plan;
130 interrupted by Ctrl-C.`,
    )
    .action(async (planPath, options) => {
      const format = parseLogFormat(options.logFormat);
      const level = parseLogLevel(options.logLevel);
      const workersOption = parseWorkers(options.workers);
      const grace = parseDurationOption(options.grace, "--grace");
      const plan = await loadPlan(planPath);
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
      configureLogging(format, level);
      const stopLogging = logJobLifecycle(runtime.executor);
      const started = performance.now();
      await runtime.start();
      let records: JobRecord[] = [];
      let interrupted = false;
      try {
        const results = await runtime.executor.enqueueMany(plan.jobs);
        const ids = [...new Set(results.map((r) => r.id))];
        const finished = Promise.all(ids.map((id) => runtime.executor.waitFor(id)));
        const outcome = await Promise.race([
          finished.then((list) => ({ done: true as const, list })),
          runtime.stopped().then(() => ({ done: false as const })),
        ]);
        if (outcome.done) {
          records = outcome.list;
        } else {
          interrupted = true;
        }
        await runtime.shutdown();
        if (!outcome.done) {
          records = (await Promise.all(ids.map((id) => runtime.store.get(id).catch(() => null))))
            .filter((r): r is JobRecord => r !== null);
        }
      } finally {
        await runtime.shutdown();
        stopLogging();
      }
      interrupted ||= runtime.report?.forced === true || (runtime.report?.interrupted ?? 0) > 0;
      const summary = summarize(plan.name, records, performance.now() - started, interrupted);
      if (options.json) printJson(summary);
      else writeOut(formatSummary(summary));
      ctx.exitCode = interrupted ? 130 : summary.ok ? 0 : 1;
    });
}

function summarize(
  name: string,
  records: JobRecord[],
  durationMs: number,
  interrupted: boolean,
): RunSummary {
  const jobs = records.map(toJobSnapshot);
  const count = (state: string) => jobs.filter((j) => j.state === state).length;
  const counts = {
    total: jobs.length,
    succeeded: count("succeeded"),
    dead: count("dead"),
    cancelled: count("cancelled"),
    unfinished:
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
      value: (j) => (j.state === "succeeded" ? "" : (j.error?.message ?? "").slice(0, 60)),
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
