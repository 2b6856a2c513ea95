/**
 * `liminal shutdown`: asks the running runtime for its ordered shutdown and follows the
 * phases and the final report until the process has exited. The runtime stops listening in
 * phase 5 but keeps this event stream open until it has sent the report.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import type { ShutdownPhaseEvent, ShutdownReport } from "../shared/snapshot.ts";
import { formatReport } from "../runtime/runtime.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, paint, printJson, writeOut } from "./_output.ts";
import { parseDurationOption } from "./_parse.ts";

/** How long `shutdown` follows a runtime before giving up. */
const FOLLOW_LIMIT_MS = 10 * 60_000;

/** The `shutdown` subcommand. */
export function shutdownCommand(ctx: CliContext) {
  return new Command("shutdown")
    .description("shut the running runtime down in order and wait until it has exited")
    .option("--grace <duration>", "time running jobs get to finish (default: the runtime's)")
    .option("--force", "interrupt running jobs at once")
    .option("--json", "print the phases as one JSON document at the end")
    .option("--socket <path>", SOCKET_HELP)
    .addHelpText(
      "after",
      `\nExamples:\n  $ liminal shutdown\n  $ liminal shutdown --grace 30s\n  $ liminal shutdown --force`,
    )
    .action(async (options) => {
      const grace = parseDurationOption(options.grace, "--grace");
      await withClient(options.socket, async (client) => {
        const color = colorEnabled();
        const started = performance.now();
        const phases: ShutdownPhaseEvent[] = [];
        let report: ShutdownReport | null = null;
        const follow = new AbortController();
        const events = client.events({ events: ["shutdown:*", "state:changed"] }, follow.signal);
        // Subscribe before asking, so no phase is missed: the stream opens with "stream:open".
        const opened = await events.next();
        if (opened.done) {
          throw new LiminalError("RUNTIME_UNREACHABLE", "the runtime closed its event stream");
        }
        const first = events.next();
        const accepted = await client.shutdown({
          ...(grace === undefined ? {} : { grace }),
          ...(options.force ? { force: true } : {}),
        });
        if (!options.json) writeOut(`shutting down runtime (pid ${accepted.pid})\n`);
        const limit = setTimeout(() => follow.abort(), FOLLOW_LIMIT_MS);
        try {
          for (let next = await first; !next.done; next = await events.next()) {
            const { event, data } = next.value;
            if (event === "shutdown:report") {
              report = data as unknown as ShutdownReport;
              if (!options.json) writeOut(`${formatReport(report)}\n`);
              continue;
            }
            if (event !== "shutdown:phase") continue;
            const phase = data as unknown as ShutdownPhaseEvent;
            if (phase.status === "started") continue;
            phases.push(phase);
            if (!options.json) {
              const took = phase.durationMs === undefined
                ? ""
                : ` in ${formatDuration(phase.durationMs)}`;
              const detail = phase.detail ? ` (${phase.detail})` : "";
              const status = phase.status === "failed"
                ? paint(phase.status, "red", color)
                : phase.status;
              writeOut(`  phase ${phase.index}/6 ${phase.phase}: ${status}${took}${detail}\n`);
            }
          }
        } finally {
          clearTimeout(limit);
          follow.abort();
        }
        const exited = await waitForExit(accepted.pid, 30_000);
        if (!exited) {
          throw new LiminalError(
            "INTERNAL",
            `runtime (pid ${accepted.pid}) closed its socket but has not exited`,
          );
        }
        const took = performance.now() - started;
        if (options.json) {
          printJson({
            pid: accepted.pid,
            exited: true,
            durationMs: Math.round(took),
            phases,
            report,
          });
        } else writeOut(`runtime (pid ${accepted.pid}) exited after ${formatDuration(took)}\n`);
        ctx.exitCode = 0;
      });
    });
}

/** Polls until the process is gone (Linux: /proc; a zombie counts as gone), at most `ms`. */
async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    let stat: string;
    try {
      stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    } catch {
      // Gone, or no /proc here: the socket closing is all we can see.
      return true;
    }
    // "pid (comm) S …": the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}
