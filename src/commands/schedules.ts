/**
 * `liminal schedules`: list, add, remove, pause, resume and trigger recurring schedules of
 * the running runtime.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { checkScheduleName } from "../scheduler/schedule.ts";
import { formatDuration, formatRelative } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import type { JsonValue } from "../shared/json.ts";
import { parsePriority } from "../shared/priority.ts";
import type { ScheduleSnapshot } from "../shared/schedule.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import { type CliContext, collect } from "./_context.ts";
import { colorEnabled, formatTable, paint, paintState, printJson, writeOut } from "./_output.ts";
import {
  parseCount,
  parseDurationOption,
  parsePayloadOption,
  parseTimeoutOption,
} from "./_parse.ts";
import { parseLeaseList } from "../shared/job_spec.ts";

function timing(s: ScheduleSnapshot): string {
  if (s.every !== null) return `every ${formatDuration(s.every)}`;
  return `cron ${s.cron}${s.timezone ? ` (${s.timezone})` : ""}`;
}

/** A table of schedules. */
export function formatSchedules(
  schedules: readonly ScheduleSnapshot[],
  color: boolean,
  now = Date.now(),
): string {
  if (schedules.length === 0) return "no schedules\n";
  return formatTable(schedules, [
    { header: "NAME", value: (s) => s.name },
    { header: "WHEN", value: timing },
    { header: "JOB", value: (s) => s.job.kind },
    { header: "STATE", value: (s) => (s.paused ? paint("paused", "yellow", color) : "active") },
    {
      header: "NEXT",
      value: (s) => (s.nextRunAt === null ? "-" : formatRelative(Date.parse(s.nextRunAt), now)),
    },
    {
      header: "LAST RUN",
      value: (s) => (s.lastRun === null ? "-" : formatRelative(Date.parse(s.lastRun.dueAt), now)),
    },
    {
      header: "OUTCOME",
      value: (s) =>
        s.lastRun === null
          ? ""
          : s.lastRun.skipped !== null
          ? paint(`skipped: ${s.lastRun.skipped}`, "yellow", color)
          : paintState(s.lastRun.state ?? "-", color),
    },
    {
      header: "LATE",
      value: (
        s,
      ) => (s.lastRun?.lateMs === null || s.lastRun === null
        ? ""
        : formatDuration(s.lastRun.lateMs)),
      align: "right",
    },
    { header: "RUNS", value: (s) => String(s.runs), align: "right" },
  ], color);
}

/** The `schedules` subcommand. */
export function schedulesCommand(_ctx: CliContext) {
  const schedules = new Command("schedules")
    .description("list and manage recurring schedules")
    .addHelpText(
      "after",
      `
Examples:
  $ liminal schedules
  $ liminal schedules add health --every 30s --kind http-check --payload '{"url": "http://localhost:8080/health"}'
  $ liminal schedules add weekly-vacuum --cron "0 4 * * 0" --timezone Europe/Berlin --kind vacuum --payload '{"path": "data/app.db"}'
  $ liminal schedules pause health && liminal schedules trigger health`,
    );

  schedules.command("list", { isDefault: true })
    .description("every schedule: timing, next run, last run and its outcome, how late it started")
    .option("--json", "print { schedules: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      await withClient(options.socket, async (client) => {
        const list = await client.schedules();
        if (options.json) printJson({ schedules: list });
        else writeOut(formatSchedules(list, colorEnabled()));
      });
    });

  schedules.command("add")
    .description("add a schedule (kept in the store across restarts)")
    .argument("<name>", "the schedule's name")
    .option("--every <duration>", "run every interval (e.g. 30s, 5m)")
    .option("--cron <expression>", 'run on a cron expression (e.g. "0 3 * * *")')
    .option("--timezone <tz>", "the cron expression's IANA time zone (e.g. Europe/Berlin)")
    .option("--kind <kind>", "the job kind each run enqueues")
    .option("--payload <json>", "the job's payload: JSON text, or @file.json")
    .option("-p, --priority <priority>", "the job's priority")
    .option("--timeout <duration>", "the job's timeout, or none (default: the kind's)")
    .option("--attempts <n>", "attempts that may fail before the job is dead")
    .option(
      "--lease <resource>",
      "a territory lease the job must hold to run (repeatable)",
      collect,
      [] as string[],
    )
    .option("--overlap <policy>", "skip or queue a run while the previous one is live", "skip")
    .option(
      "--missed <policy>",
      "skip or run-once the runs missed while the runtime was down",
      "skip",
    )
    .option("--json", "print the schedule as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (name, options) => {
      checkScheduleName(name);
      if (options.kind === undefined) {
        throw new LiminalError("USAGE", "missing required option '--kind <kind>'");
      }
      if ((options.every === undefined) === (options.cron === undefined)) {
        throw new LiminalError("USAGE", "give --every or --cron, exactly one");
      }
      const every = parseDurationOption(options.every, "--every");
      const payload = await parsePayloadOption(options.payload);
      const job: Record<string, JsonValue> = { kind: options.kind, payload: payload ?? null };
      if (options.priority !== undefined) {
        job.priority = parsePriority(options.priority, "--priority");
      }
      const timeout = parseTimeoutOption(options.timeout, "--timeout");
      if (timeout !== undefined) job.timeout = timeout;
      const attempts = parseCount(options.attempts, "--attempts", 1000);
      if (attempts !== undefined) job.attempts = attempts;
      if (options.lease.length > 0) job.leases = parseLeaseList(options.lease, "--lease");
      const body: Record<string, JsonValue> = {
        name,
        job,
        overlap: options.overlap,
        missed: options.missed,
      };
      if (every !== undefined) body.every = every;
      if (options.cron !== undefined) body.cron = options.cron;
      if (options.timezone !== undefined) body.timezone = options.timezone;
      await withClient(options.socket, async (client) => {
        const schedule = await client.addSchedule(body);
        if (options.json) printJson(schedule);
        else {writeOut(
            `added ${schedule.name}: ${timing(schedule)}, next run ${schedule.nextRunAt ?? "-"}\n`,
          );}
      });
    });

  for (const action of ["remove", "pause", "resume", "trigger"] as const) {
    const description = {
      remove: "remove a schedule added at run time",
      pause: "pause a schedule: it fires nothing until resumed",
      resume: "resume a paused schedule",
      trigger: "run a schedule once now (its overlap policy applies)",
    }[action];
    schedules.command(action)
      .description(description)
      .argument("<name>", "the schedule's name")
      .option("--json", "print the result as one JSON document")
      .option("--socket <path>", SOCKET_HELP)
      .action(async (name, options) => {
        checkScheduleName(name);
        await withClient(options.socket, async (client) => {
          if (action === "remove") {
            const result = await client.removeSchedule(name);
            if (options.json) printJson(result);
            else writeOut(`removed ${name}\n`);
          } else if (action === "trigger") {
            const result = await client.scheduleAction(name, "trigger");
            if (options.json) printJson(result);
            else {writeOut(
                result.jobId !== null ? `${result.jobId}\n` : `skipped: ${result.skipped}\n`,
              );}
          } else {
            const schedule = await client.scheduleAction(name, action);
            if (options.json) printJson(schedule);
            else {writeOut(
                `${name} ${
                  schedule.paused ? "paused" : `active, next run ${schedule.nextRunAt ?? "-"}`
                }\n`,
              );}
          }
        });
      });
  }
  return schedules;
}
