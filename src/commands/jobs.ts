/**
 * `liminal jobs`: list, show, cancel and retry jobs of the running runtime.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { LiminalError } from "../shared/errors.ts";
import { isJobState, JOB_STATES } from "../shared/job.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, paintState, printJson, writeErr, writeOut } from "./_output.ts";
import { parseCount, parseDurationOption } from "./_parse.ts";
import { promptConfirm } from "./_prompt.ts";
import { formatJobDetail, formatJobTable } from "./_render.ts";

/** What an `<id>` argument takes. */
const ID_HELP =
  "the job id, its last 6 or more characters, or the short form the dashboard shows (01a24785…83f1)";
/** The `jobs` subcommand and its own subcommands. */
export function jobsCommand(_ctx: CliContext) {
  const jobs = new Command("jobs")
    .description("list, show, cancel and retry jobs")
    .addHelpText(
      "after",
      `
Examples:
  $ liminal jobs --state dead
  $ liminal jobs show 01a2b3c4-…
  $ liminal jobs show 01a2b3c4-… --reveal        # env values in full
  $ liminal jobs why 01a2b3c4-…
  $ liminal jobs cancel 01a2b3c4-… --yes
  $ liminal jobs retry 01a2b3c4-…
  $ liminal jobs prune --older-than 1d`,
    );

  jobs.command("list", { isDefault: true })
    .description("list jobs, newest first")
    .option(
      "--state <state>",
      `only jobs in this state (${
        JOB_STATES.join(", ")
      }); failed: the same as dead (a failed job that will not run again is dead)`,
    )
    .option("--kind <kind>", "only jobs of this kind")
    .option("--limit <n>", "at most this many", "50")
    .option("--json", "print one JSON document: { jobs: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      let state = options.state;
      if (state === "failed") {
        // `failed` is an attempt's outcome: the jobs people mean by it are the dead ones.
        writeErr(
          "note: failed is how an attempt ends, not a job state; a job that failed and will not run again is dead: listing --state dead\n",
        );
        state = "dead";
      }
      if (state !== undefined && !isJobState(state)) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `invalid --state "${state}"; use one of: ${JOB_STATES.join(", ")}`,
        );
      }
      const limit = parseCount(options.limit, "--limit", 10_000);
      await withClient(options.socket, async (client) => {
        const list = await client.listJobs({
          ...(state === undefined ? {} : { state }),
          ...(options.kind === undefined ? {} : { kind: options.kind }),
          ...(limit === undefined ? {} : { limit }),
        });
        if (options.json) printJson({ jobs: list });
        else writeOut(formatJobTable(list, colorEnabled()));
      });
    });

  jobs.command("show")
    .description("everything about one job: spec, state, attempts, progress, log, result")
    .argument("<id>", ID_HELP)
    .option("--json", "print the job as one JSON document")
    .option("--reveal", "show the payload's env values (masked as *** otherwise)")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, options) => {
      await withClient(options.socket, async (client) => {
        const job = await client.getJob(id, { reveal: options.reveal === true });
        if (options.json) printJson(job);
        else writeOut(formatJobDetail(job, colorEnabled()));
      });
    });

  jobs.command("why")
    .description("why a job is not running: its place in line, leases, limits, delays")
    .argument("<id>", ID_HELP)
    .option("--json", "print { id, state, reasons } as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, options) => {
      await withClient(options.socket, async (client) => {
        const why = await client.whyJob(id);
        if (options.json) printJson(why);
        else {writeOut(`${why.id} is ${why.state}:\n${
            why.reasons.map((r) => `  - ${r}\n`).join("")
          }`);}
      });
    });

  jobs.command("cancel")
    .description("cancel a job: a waiting one at once, a running one through its signal")
    .argument("<id>", ID_HELP)
    .option("-y, --yes", "do not ask before cancelling a running job")
    .option("--json", "print the job as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, options) => {
      await withClient(options.socket, async (client) => {
        const current = await client.getJob(id);
        if (current.state === "running" && !options.yes) {
          const sure = await promptConfirm(
            `Job ${current.id} (${current.kind}) is running. Abort it?`,
            true,
          );
          if (!sure) {
            writeErr("not cancelled\n");
            return;
          }
        }
        const job = await client.cancelJob(current.id);
        if (options.json) printJson(job);
        else {
          const color = colorEnabled();
          writeOut(
            job.state === "running"
              ? `${job.id} cancelling: its signal was aborted; it ends cancelled when its handler stops\n`
              : `${job.id} ${paintState(job.state, color)}\n`,
          );
        }
      });
    });

  jobs.command("retry")
    .description("put a dead or cancelled job back in the queue with fresh attempts")
    .argument("<id>", ID_HELP)
    .option("--json", "print the job as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, options) => {
      await withClient(options.socket, async (client) => {
        const job = await client.retryJob(id);
        if (options.json) printJson(job);
        else writeOut(`${job.id} ${paintState(job.state, colorEnabled())}\n`);
      });
    });

  jobs.command("prune")
    .description("remove finished jobs now (by default as the runtime's retention would)")
    .option("--older-than <duration>", "remove jobs finished longer ago than this (e.g. 7d)")
    .option("--keep <n>", "keep at most this many finished jobs, the newest")
    .option("--json", "print { removed } as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      const olderThan = parseDurationOption(options.olderThan, "--older-than");
      const keep = options.keep === undefined ? undefined : parseKeep(options.keep);
      await withClient(options.socket, async (client) => {
        const { removed } = await client.pruneJobs({
          ...(olderThan === undefined ? {} : { olderThan }),
          ...(keep === undefined ? {} : { keep }),
        });
        if (options.json) printJson({ removed });
        else writeOut(`pruned ${removed} finished job(s)\n`);
      });
    });

  return jobs;
}

function parseKeep(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid --keep "${value}": use a whole number of at least 0`,
    );
  }
  return n;
}
