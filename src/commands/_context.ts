/**
 * What every subcommand shares: how it hands back its exit status.
 *
 * @module
 */

/** The outcome of one CLI invocation. */
export interface CliContext {
  /** The exit status; subcommands set it. */
  exitCode: number;
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
