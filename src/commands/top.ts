/**
 * `liminal top`: the dashboard attached to a running runtime through its socket. Ctrl-C or
 * `q` detaches and leaves the runtime running.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { ControlClient } from "../control/client.ts";
import { RemoteView } from "../control/remote_view.ts";
import { resolveSocketPath } from "../control/socket.ts";
import { LiminalError } from "../shared/errors.ts";
import { dashboardPossible, loadDashboard } from "../tui/terminal.ts";
import { SOCKET_HELP } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { writeErr } from "./_output.ts";

/** The `top` subcommand. */
export function topCommand(ctx: CliContext) {
  return new Command("top")
    .description("the live dashboard, attached to a running runtime (q or Ctrl-C detaches)")
    .option("--socket <path>", SOCKET_HELP)
    .addHelpText(
      "after",
      `\nExamples:\n  $ liminal top\n  $ liminal top --socket /run/liminal/liminal.sock`,
    )
    .action(async (options) => {
      if (!dashboardPossible()) {
        throw new LiminalError("USAGE", "liminal top needs a terminal (and CI unset)", {
          hint: "use liminal status, or liminal status --json, from scripts",
        });
      }
      const client = new ControlClient(resolveSocketPath(options.socket));
      try {
        await client.status({ timeoutMs: 5_000 }); // unreachable: exit 3 before taking the screen
        const view = new RemoteView(client);
        try {
          // Loaded only now: a runtime without a terminal never pays for Ink and React.
          const { runDashboard } = await loadDashboard();
          if (await runDashboard(view) === "stopped") {
            writeErr(`the runtime on ${client.path} has shut down\n`);
          }
        } finally {
          view.close();
        }
      } finally {
        client.close();
      }
      ctx.exitCode = 0;
    });
}
