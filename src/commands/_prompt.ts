/**
 * Prompts, only on a terminal and only for something missing (`@inquirer/prompts`). With no
 * terminal the same case is a usage error that names what is missing.
 *
 * @module
 */
import process from "node:process";
import { LiminalError } from "../shared/errors.ts";
import { canPrompt } from "./_client.ts";

/** Asks the user to pick one of `choices`, or fails with exit 2 naming `what` when it cannot ask. */
export async function promptChoice(
  what: string,
  message: string,
  choices: { value: string; description?: string }[],
): Promise<string> {
  if (!canPrompt()) {
    throw new LiminalError(
      "USAGE",
      `missing required argument '${what}'`,
      choices.length > 0 ? { hint: `one of: ${choices.map((c) => c.value).join(", ")}` } : {},
    );
  }
  const { select } = await import("@inquirer/prompts");
  return await select({
    message,
    choices: choices.map((c) => ({
      value: c.value,
      name: c.value,
      ...(c.description ? { description: c.description } : {}),
    })),
  }, { output: process.stderr });
}

/** Asks yes or no on a terminal; without one, answers `fallback`. */
export async function promptConfirm(message: string, fallback: boolean): Promise<boolean> {
  if (!canPrompt()) return fallback;
  const { confirm } = await import("@inquirer/prompts");
  return await confirm({ message, default: false }, { output: process.stderr });
}
