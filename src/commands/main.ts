/**
 * The `liminal` command line: parses, dispatches to one subcommand, maps errors to exit
 * statuses (see the CLI contract in the design notes).
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { VERSION } from "../shared/version.ts";
import type { CliContext } from "./_context.ts";
import { errorDocument, printErrorDocument, reportError } from "./_errors.ts";
import { closest } from "../executor/job_kind.ts";
import { colorEnabled, paint, writeErr, writeOut } from "./_output.ts";
import { addCompletions, isCompletionRequest, kindsForCompletion } from "./completions.ts";
import { enqueueCommand } from "./enqueue.ts";
import { jobsCommand } from "./jobs.ts";
import { leasesCommand } from "./leases.ts";
import { nodesCommand } from "./nodes.ts";
import { routerCommand } from "./router.ts";
import { schedulesCommand } from "./schedules.ts";
import { runCommand } from "./run.ts";
import { shutdownCommand } from "./shutdown.ts";
import { startCommand } from "./start.ts";
import { statusCommand } from "./status.ts";
import { topCommand } from "./top.ts";

/** Builds the program with every subcommand. */
export function createProgram(
  ctx: CliContext,
  kinds: { kind: string; description: string }[] = [],
): Command {
  const program = new Command()
    .name("liminal")
    .description("a maintenance runtime: run, watch and drive maintenance jobs")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Examples:
  $ liminal start                      run the runtime (Ctrl-C stops it in order)
  $ liminal run nightly.json           run a plan once, exit with its result
  $ liminal enqueue sleep --payload '{"ms": 500}' --wait
  $ liminal status                     workers, queue depth, latencies, warnings
  $ liminal top                        the live dashboard of a running runtime
  $ liminal completions bash >> ~/.bash_completion

--socket <path> and --json may come before the subcommand or after it:
  $ liminal --socket /run/liminal.sock status     same as: liminal status --socket …

Exit status: 0 ok, 1 work failed, 2 bad input, 3 runtime unreachable, 4 conflict, 130 interrupted.`,
    ) as unknown as Command;
  const subcommands = [
    startCommand(ctx),
    runCommand(ctx),
    enqueueCommand(ctx),
    jobsCommand(ctx),
    statusCommand(ctx),
    routerCommand(ctx),
    schedulesCommand(ctx),
    leasesCommand(ctx),
    nodesCommand(ctx),
    shutdownCommand(ctx),
    topCommand(ctx),
  ];
  for (const sub of subcommands) program.addCommand(sub as unknown as Command);
  addCompletions(program, kinds);
  configure(program);
  return program;
}

/** The usage error commander printed last, as stderr said it (for the `--json` document). */
let lastUsageError: string | null = null;

/** Applies the shared settings to a command and its subcommands. */
function configure(command: Command): void {
  const color = colorEnabled(Deno.stderr);
  command
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => writeOut(text),
      writeErr: (text) => writeErr(text),
      outputError: (text, write) => {
        const said = unknownSubcommand(command, text);
        lastUsageError = said.replace(/^error: /, "").trimEnd();
        write(said.replace(/^error: /, `${paint("error:", ["bold", "red"], color)} USAGE: `));
      },
    });
  for (const sub of command.commands) configure(sub as unknown as Command);
}

/**
 * `liminal router dead-letters` reaches the default subcommand (`router show`) as an extra
 * argument; commander then says "too many arguments for 'show'". Say what was meant instead:
 * an unknown subcommand of the group, with the closest one.
 */
function unknownSubcommand(command: Command, text: string): string {
  const parent = command.parent;
  const match =
    /^error: too many arguments for '[^']*'\. Expected 0 arguments but got \d+: ([^ ,.]+)/
      .exec(text);
  if (parent === null || match === null) return text;
  const isDefault = (parent as unknown as { _defaultCommandName?: string })._defaultCommandName ===
    command.name();
  if (!isDefault || command.registeredArguments.length > 0) return text;
  const word = match[1]!;
  const names = parent.commands.map((c) => c.name()).filter((n) => n !== "help");
  const near = names.find((n) => word.startsWith(n) || n.startsWith(word)) ?? closest(word, names);
  return `error: unknown command '${word}' for 'liminal ${parent.name()}'${
    near === undefined ? "" : `; did you mean '${near}'?`
  } (commands: ${names.join(", ")})\n`;
}

/** Runs the CLI with `args` (without the program name); resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  args = hoistGlobalOptions(args);
  const ctx: CliContext = { exitCode: 0 };
  const kinds = isCompletionRequest(args) ? await kindsForCompletion(args) : [];
  const program = createProgram(ctx, kinds);
  if (args.length === 0) {
    writeErr(program.helpInformation());
    return 2;
  }
  const json = wantsJson(args);
  lastUsageError = null;
  try {
    await program.parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
        error.code === "commander.help"
      ) {
        return 0;
      }
      if (json) {
        const document = errorDocument(error);
        document.error.code = "USAGE";
        document.error.message = lastUsageError ?? error.message.replace(/^error: /, "");
        document.error.hint = null;
        printErrorDocument(document);
      }
      return 2;
    }
    return reportError(error, json);
  }
}

/**
 * `--socket <path>` and `--json` are options of the subcommands; typed before the subcommand
 * (`liminal --socket X status`, `liminal --json status`) they are moved after it, where the
 * subcommand reads them (before a `--`, whose words are left as they are).
 */
export function hoistGlobalOptions(args: readonly string[]): string[] {
  const global: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--json" || arg.startsWith("--socket=")) global.push(arg);
    else if (arg === "--socket" && i + 1 < args.length) global.push(arg, args[++i]!);
    else break;
  }
  if (global.length === 0) return [...args];
  const rest = args.slice(i);
  const end = rest.indexOf("--");
  return end < 0 ? [...rest, ...global] : [...rest.slice(0, end), ...global, ...rest.slice(end)];
}

/** Whether the command line asks for JSON output (`--json` before any `--`). */
function wantsJson(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}
