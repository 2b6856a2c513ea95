/**
 * How the CLI reports an error: one line on stderr that starts with `error:` and the code,
 * a hint where one helps, no stack trace (unless `LIMINAL_DEBUG=1`), and the exit status the
 * code maps to.
 *
 * @module
 */
import { errorMessage, isLiminalError } from "../shared/errors.ts";
import { colorEnabled, paint, writeErr } from "./_output.ts";

/** Whether `LIMINAL_DEBUG` asks for stack traces. */
export function debugEnabled(): boolean {
  const value = Deno.env.get("LIMINAL_DEBUG");
  return value !== undefined && value !== "" && value !== "0";
}

/** Prints an error the CLI way and returns the exit status for it. */
export function reportError(error: unknown): number {
  const color = colorEnabled(Deno.stderr);
  if (isLiminalError(error)) {
    writeErr(`${paint("error:", ["bold", "red"], color)} ${error.code}: ${error.message}\n`);
    if (error.hint) writeErr(`${paint("hint:", "bold", color)} ${error.hint}\n`);
    if (debugEnabled() && error.stack) writeErr(`${error.stack}\n`);
    return error.exitCode;
  }
  writeErr(
    `${paint("error:", ["bold", "red"], color)} INTERNAL: ${errorMessage(error).split("\n")[0]}\n`,
  );
  if (debugEnabled() && error instanceof Error && error.stack) writeErr(`${error.stack}\n`);
  else {writeErr(
      `${
        paint("hint:", "bold", color)
      } this is a bug in liminal; run with LIMINAL_DEBUG=1 for the stack trace\n`,
    );}
  return 1;
}
