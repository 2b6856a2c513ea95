/**
 * The `--socket` option every client subcommand shares, and a client bound to it.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { ControlClient } from "../control/client.ts";
import { resolveSocketPath } from "../control/socket.ts";

/** Help text of `--socket`. */
export const SOCKET_HELP =
  "the runtime's control socket (env LIMINAL_SOCKET, default .liminal/liminal.sock)";

/** Runs `fn` with a client of the runtime on `--socket`, and closes it. */
export async function withClient<T>(
  socket: string | undefined,
  fn: (client: ControlClient) => Promise<T>,
): Promise<T> {
  const client = new ControlClient(resolveSocketPath(socket));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Whether stdin and stderr are a terminal, so a prompt may be shown. */
export function canPrompt(): boolean {
  try {
    return Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/** Adds `--socket` to a command. */
export function socketOption<C extends Command>(command: C): C {
  return command.option("--socket <path>", SOCKET_HELP) as C;
}
