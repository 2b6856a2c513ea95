/**
 * Shell completion (bash, zsh, fish) through `@bomb.sh/tab`: `liminal completions <shell>`
 * prints the script; the script calls back `liminal complete -- <words>`, which answers
 * with subcommands, options, priorities, states and, from the running runtime when one
 * answers, its job kinds.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import tab from "@bomb.sh/tab/commander";
import { script } from "@bomb.sh/tab";
import { writeOut } from "./_output.ts";
import { ControlClient } from "../control/client.ts";
import { resolveSocketPath } from "../control/socket.ts";
import { builtinJobs, runtimeJobs } from "../jobs/mod.ts";
import { JOB_STATES } from "../shared/job.ts";
import { PRIORITIES } from "../shared/priority.ts";

/** Whether these arguments are a completion request from a shell script. */
export function isCompletionRequest(args: readonly string[]): boolean {
  return args[0] === "complete" && args[1] === "--";
}

type Completion = ReturnType<typeof tab>;
type Complete = (value: string, description: string) => void;

/**
 * Adds `completions <shell>` and the hidden `complete` to the program. Call after every
 * subcommand is defined. For a completion request, pass the job kinds to offer.
 */
export function addCompletions(
  program: Command,
  kinds: { kind: string; description: string }[] = [],
): Completion {
  const completion = tab(program as unknown as Parameters<typeof tab>[0], {
    completionCommandName: "completions",
  });
  const offer =
    (values: readonly { value: string; description: string }[]) => (complete: Complete) => {
      for (const v of values) complete(v.value, v.description);
    };
  const priorities = offer(PRIORITIES.map((p) => ({ value: p, description: "priority" })));
  const states = offer(JOB_STATES.map((s) => ({ value: s, description: "job state" })));
  const kindValues = offer(
    kinds.map((k) => ({ value: k.kind, description: k.description || "job kind" })),
  );
  const completions = program.commands.find((c) => c.name() === "completions");
  completions?.action((...args: unknown[]) =>
    writeOut(completionScript(String(args[0]), program.name()))
  );
  for (const [name, command] of completion.commands) {
    const priority = command.options.get("priority");
    if (priority) priority.handler = priorities;
    const state = command.options.get("state");
    if (state) state.handler = states;
    const kind = command.options.get("kind");
    if (kind) kind.handler = kindValues;
    if (name === "enqueue") {
      const argument = command.arguments.get("kind");
      if (argument) argument.handler = kindValues;
    }
  }
  return completion;
}

/**
 * The completion script for `shell`. bash's declares its constants `readonly`, so sourcing it
 * a second time (a re-read `~/.bashrc`) printed "readonly variable" errors: each is declared
 * only when it is not yet set.
 */
export function completionScript(shell: string, name: string): string {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => void lines.push(parts.map(String).join(" "));
  try {
    script(shell, name, name);
  } finally {
    console.log = log;
  }
  const text = lines.join("\n");
  return `${
    text.replace(
      /^readonly ([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm,
      (_, variable: string, value: string) =>
        `[ -n "\${${variable}+set}" ] || readonly ${variable}=${value}`,
    )
  }\n`;
}

/**
 * The job kinds to complete: those of the running runtime when one answers quickly, else the
 * built-in ones.
 */
export async function kindsForCompletion(
  args: readonly string[],
): Promise<{ kind: string; description: string }[]> {
  const socketIndex = args.indexOf("--socket");
  const socket = socketIndex >= 0 ? args[socketIndex + 1] : undefined;
  const client = new ControlClient(resolveSocketPath(socket));
  try {
    return (await client.kinds({ timeoutMs: 500 })).map((k) => ({
      kind: k.kind,
      description: k.description,
    }));
  } catch {
    // No runtime answers: the kinds every runtime has (the services are never called here).
    const none = () => Promise.reject(new Error("no runtime"));
    return [...builtinJobs(), ...runtimeJobs({ prune: none, sweepLeases: none })]
      .map((k) => ({ kind: k.kind, description: k.description }))
      .sort((a, b) => a.kind.localeCompare(b.kind));
  } finally {
    client.close();
  }
}
