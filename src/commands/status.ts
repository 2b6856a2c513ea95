/**
 * `liminal status`: the running runtime at a glance: state, uptime, workers and their
 * health, queue depth per priority, throughput, wait and run times, warnings.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, printJson, writeOut } from "./_output.ts";
import { formatStatus } from "./_render.ts";

/** The `status` subcommand. */
export function statusCommand(_ctx: CliContext) {
  return new Command("status")
    .description("show the running runtime: workers, queue depth, throughput, latencies, warnings")
    .option("--json", "print the runtime snapshot as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .addHelpText(
      "after",
      `\nExamples:\n  $ liminal status\n  $ liminal status --json | jq .executor.queue`,
    )
    .action(async (options) => {
      await withClient(options.socket, async (client) => {
        const snapshot = await client.status();
        if (options.json) printJson(snapshot);
        else writeOut(formatStatus(snapshot, colorEnabled()));
      });
    });
}
