/**
 * `liminal enqueue <kind>`: adds jobs to a running runtime, prints their ids, and with
 * `--wait` follows them to the end (exit 0 all succeeded, 1 otherwise).
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { ControlClient } from "../control/client.ts";
import type { JobSpec } from "../executor/job_spec.ts";
import { parseLeaseList, parseRunAt } from "../executor/job_spec.ts";
import { LiminalError } from "../shared/errors.ts";
import type { JobSnapshot } from "../shared/job.ts";
import { FINAL_STATES } from "../shared/job.ts";
import { parsePriority } from "../shared/priority.ts";
import { canPrompt, SOCKET_HELP, withClient } from "./_client.ts";
import { type CliContext, collect } from "./_context.ts";
import { colorEnabled, paint, printJson, writeErr, writeOut } from "./_output.ts";
import {
  parseCount,
  parseDurationOption,
  parsePayloadOption,
  parseTimeoutOption,
} from "./_parse.ts";
import { promptChoice } from "./_prompt.ts";
import { formatJobTable } from "./_render.ts";

/** The `enqueue` subcommand. */
export function enqueueCommand(ctx: CliContext) {
  return new Command("enqueue")
    .description("add a job (or --count copies) to the running runtime and print the id(s)")
    .argument("[kind]", "the job kind (asked for on a terminal when missing)")
    .option("--payload <json>", "the payload: JSON text, or @file.json")
    .option("-p, --priority <priority>", "info, coordinate, blocking, critical or override")
    .option("--delay <duration>", "run no sooner than this from now (e.g. 30s)")
    .option("--at <time>", "run no sooner than this ISO-8601 time")
    .option("--timeout <duration>", "time an attempt may take, or none (default: the kind's)")
    .option("--attempts <n>", "attempts that may fail before the job is dead")
    .option("--unique <key>", "no second job with this key while one is live")
    .option(
      "--lease <resource>",
      "a territory lease the job must hold to run (repeatable)",
      collect,
      [] as string[],
    )
    .option("--count <n>", "enqueue this many copies in one batch")
    .option("--wait", "follow the job(s) to the end; exit 0 succeeded, 1 failed, dead or cancelled")
    .option("--json", "print one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ liminal enqueue sleep --payload '{"ms": 500}'
  $ liminal enqueue command --payload '{"cmd": ["pg_dump", "app"]}' --priority critical --wait
  $ liminal enqueue cleanup --payload @cleanup.json --delay 10m --unique cleanup:tmp
  $ liminal enqueue sleep --payload '{"ms": 10}' --count 100 --json
  $ liminal enqueue vacuum --payload '{"path": "data/app.db"}' --lease db/app`,
    )
    .action(async (kindArg, options) => {
      // Everything is checked before anything is sent.
      const payload = await parsePayloadOption(options.payload);
      const spec: Omit<JobSpec, "kind"> = {};
      if (payload !== undefined) spec.payload = payload;
      if (options.priority !== undefined) {
        spec.priority = parsePriority(options.priority, "--priority");
      }
      if (options.delay !== undefined && options.at !== undefined) {
        throw new LiminalError("USAGE", "give --delay or --at, not both");
      }
      const delay = parseDurationOption(options.delay, "--delay");
      if (delay !== undefined) spec.delay = delay;
      if (options.at !== undefined) {
        spec.runAt = new Date(parseRunAt(options.at, "--at")).toISOString();
      }
      const timeout = parseTimeoutOption(options.timeout, "--timeout");
      if (timeout !== undefined) spec.timeout = timeout;
      const attempts = parseCount(options.attempts, "--attempts", 1000);
      if (attempts !== undefined) spec.attempts = attempts;
      if (options.unique !== undefined) {
        if (options.unique === "") {
          throw new LiminalError("INVALID_ARGUMENT", "--unique needs a non-empty key");
        }
        spec.uniqueKey = options.unique;
      }
      if (options.lease.length > 0) spec.leases = parseLeaseList(options.lease, "--lease");
      const count = parseCount(options.count, "--count", 100_000) ?? 1;

      await withClient(options.socket, async (client) => {
        let kind = kindArg;
        if (kind === undefined) {
          const kinds = canPrompt() ? await client.kinds() : [];
          kind = await promptChoice(
            "kind",
            "Which job kind?",
            kinds.map((k) => ({ value: k.kind, description: k.description })),
          );
        }
        const { jobs: results, batch } = await client.enqueue({
          kind,
          ...spec,
          ...(count > 1 ? { count } : {}),
        });
        const color = colorEnabled();
        if (!options.wait) {
          if (options.json) printJson({ jobs: results });
          else {
            for (const r of results) writeOut(`${r.id}\n`);
            const existing = results.filter((r) => !r.created).length;
            if (existing > 0) {
              writeErr(
                `${
                  paint("note:", "bold", colorEnabled(Deno.stderr))
                } ${existing} job(s) with unique key "${spec.uniqueKey}" already live: its id is printed\n`,
              );
            }
          }
          return;
        }
        const ids = [...new Set(results.map((r) => r.id))];
        // Ctrl-C stops the waiting, not the jobs: say which they are before leaving (130).
        const onInterrupt = () => {
          if (options.json) printJson({ interrupted: true, ids });
          else for (const id of ids) writeOut(`${id}\n`);
          writeErr("interrupted: the job(s) above go on in the runtime\n");
          Deno.exit(130);
        };
        Deno.addSignalListener("SIGINT", onInterrupt);
        let jobs: JobSnapshot[];
        try {
          jobs = await follow(client, ids, batch);
        } finally {
          Deno.removeSignalListener("SIGINT", onInterrupt);
        }
        const ok = jobs.length === ids.length && jobs.every((j) => j.state === "succeeded");
        if (options.json) printJson({ jobs });
        else {
          writeOut(formatJobTable(jobs, color));
          if (jobs.length < ids.length) {
            writeErr(
              `${paint("note:", "bold", colorEnabled(Deno.stderr))} ${
                ids.length - jobs.length
              } job(s) were removed from the store before they were seen to end\n`,
            );
          }
        }
        ctx.exitCode = ok ? 0 : 1;
      });
    });
}

/** The most ids one wait call carries when a runtime cannot follow a batch. */
const IDS_PER_WAIT = 5_000;

/**
 * Waits until every job is final, showing progress on a terminal: by the enqueue's `batch`
 * (the runtime follows its jobs; no id is sent again), else by the ids, a few thousand per
 * call. If the runtime goes away first: `RUNTIME_UNREACHABLE`.
 */
export async function follow(
  client: ControlClient,
  ids: string[],
  batch?: string,
): Promise<JobSnapshot[]> {
  const tty = Deno.stderr.isTerminal();
  const color = colorEnabled(Deno.stderr);
  const poll = tty ? "1s" : "30s";
  let last: JobSnapshot[] = [];
  let open = "the job(s)";
  const show = (finished: number, total: number, jobs: JobSnapshot[] | null) => {
    if (!tty) return;
    const running = (jobs ?? []).filter((j) => j.state === "running");
    const progress = running.length === 1 && running[0]!.progress
      ? ` ${running[0]!.progress.done}${
        running[0]!.progress.total === null ? "" : `/${running[0]!.progress.total}`
      }`
      : "";
    writeErr(
      `\r\x1b[2K${paint("waiting", "cyan", color)} ${finished}/${total} done${
        jobs === null ? "" : `, ${running.length} running`
      }${progress}`,
    );
  };
  try {
    if (batch !== undefined) {
      try {
        for (;;) {
          const answer = await client.waitBatch(batch, poll);
          if (answer.jobs !== null) last = answer.jobs;
          open = `${answer.total - answer.finished} of ${answer.total} job(s)`;
          show(answer.finished, answer.total, answer.jobs);
          if (answer.done) {
            if (tty) writeErr("\r\x1b[2K");
            return answer.jobs ?? [];
          }
        }
      } catch (error) {
        // A runtime that does not know the batch (an older one, or it dropped it): by ids.
        if (!(error instanceof LiminalError && error.code === "NOT_FOUND")) throw error;
      }
    }
    const done: JobSnapshot[] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_WAIT) {
      const chunk = ids.slice(i, i + IDS_PER_WAIT);
      for (;;) {
        const answer = await client.waitJobs(chunk, poll);
        last = answer.jobs;
        const finished = answer.jobs.filter((j) => FINAL_STATES.has(j.state)).length;
        open = answer.jobs.filter((j) =>
          !FINAL_STATES.has(j.state)
        ).map((j) => `${j.id} (${j.state})`).slice(0, 10).join(", ") || open;
        show(done.length + finished, ids.length, answer.jobs);
        if (answer.done) break;
      }
      done.push(...last);
    }
    if (tty) writeErr("\r\x1b[2K");
    return done;
  } catch (error) {
    if (tty) writeErr("\r\x1b[2K");
    if (error instanceof LiminalError && error.code === "RUNTIME_UNREACHABLE") {
      throw new LiminalError(
        "RUNTIME_UNREACHABLE",
        `the runtime went away before ${open} finished`,
        {
          hint:
            "the jobs stay in the store; follow them with liminal jobs show <id> after the next start",
        },
      );
    }
    // Exit 2 says nothing changed; the jobs exist by now.
    if (error instanceof LiminalError && error.exitCode === 2) {
      throw new LiminalError(
        "INTERNAL",
        `the job(s) were enqueued, but following them failed: ${error.code}: ${error.message}`,
        { cause: error, hint: "follow them with liminal jobs show <id>" },
      );
    }
    throw error;
  }
}
