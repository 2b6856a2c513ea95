/**
 * `liminal nodes`: the runtimes sharing the running runtime's store (a Postgres store shared
 * by several machines), with their health and the jobs they run; `nodes forget ID` removes a
 * dead one from the list.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, printJson, writeOut } from "./_output.ts";
import { formatNodes } from "./_render.ts";

/** The `nodes` subcommand. */
export function nodesCommand(_ctx: CliContext) {
  const nodes = new Command("nodes")
    .description("the runtimes sharing this runtime's store (postgres), with their health")
    // `nodes` runs `nodes list`: its options are listed (and read) here too.
    .option("--json", "print { nodes: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ liminal nodes
  $ liminal nodes --json
  $ liminal nodes forget web-2

With a store only one runtime uses (SQLite, :memory:), the list is that runtime alone.
A dead node leaves the list an hour after its last heartbeat; \`nodes forget ID\` removes
it at once (refused while it is alive or still has running jobs).`,
    );
  nodes.command("list", { isDefault: true })
    .description("every node: health, host, pid, jobs running, last heartbeat")
    .option("--json", "print { nodes: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (_options, command) => {
      // `nodes --json` and `nodes list --json` alike (the group reads its options first).
      const options = command.optsWithGlobals() as { json?: true; socket?: string };
      await withClient(options.socket, async (client) => {
        const answer = await client.nodes();
        if (options.json) {
          printJson(answer);
          return;
        }
        const color = colorEnabled();
        let text = formatNodes(answer.nodes, color);
        const alive = answer.nodes.filter((n) => n.alive).length;
        text += answer.shared
          ? `${answer.nodes.length} node(s), ${alive} alive, sharing one queue\n`
          : "this runtime's store is its own: no other node shares it\n";
        writeOut(text);
      });
    });
  nodes.command("forget")
    .description("remove a dead node from the list now (not for a live one, or one running jobs)")
    .argument("<id>", "the node's id, as liminal nodes shows it")
    .option("--json", "print { forgotten: id }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, _options, command) => {
      const options = command.optsWithGlobals() as { json?: true; socket?: string };
      await withClient(options.socket, async (client) => {
        const answer = await client.forgetNode(id);
        if (options.json) printJson(answer);
        else writeOut(`forgot node ${answer.forgotten}\n`);
      });
    });
  return nodes;
}
