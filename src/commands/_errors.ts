/**
 * How the CLI reports an error: one line on stderr that starts with `error:` and the code,
 * a hint where one helps, no stack trace (unless `LIMINAL_DEBUG=1`), and the exit status the
 * code maps to. With `--json`, the same error is also one JSON document on stdout:
 * `{"error":{"code","message","hint"}}` (`hint` is `null` when there is none).
 *
 * @module
 */
import { errorMessage, isLiminalError } from "../shared/errors.ts";
import { colorEnabled, jsonPrinted, paint, printJson, writeErr } from "./_output.ts";

/** The hint of an error the CLI did not expect. */
const BUG_HINT = "this is a bug in liminal; run with LIMINAL_DEBUG=1 for the stack trace";

/** The JSON document of a failure, as `--json` prints it on stdout. */
export interface ErrorDocument {
  error: { code: string; message: string; hint: string | null };
}

/** The `--json` document of any thrown value. */
export function errorDocument(error: unknown): ErrorDocument {
  if (isLiminalError(error)) {
    return { error: { code: error.code, message: error.message, hint: error.hint ?? null } };
  }
  return {
    error: { code: "INTERNAL", message: errorMessage(error).split("\n")[0]!, hint: BUG_HINT },
  };
}

/**
 * With `--json`: prints the error document on stdout, unless a JSON document was printed
 * already (stdout holds exactly one).
 */
export function printErrorDocument(document: ErrorDocument): void {
  if (!jsonPrinted()) printJson(document);
}

/** Whether `LIMINAL_DEBUG` asks for stack traces. */
export function debugEnabled(): boolean {
  const value = Deno.env.get("LIMINAL_DEBUG");
  return value !== undefined && value !== "" && value !== "0";
}

/**
 * Prints an error the CLI way (and with `json`, its document on stdout) and returns the exit
 * status for it.
 */
export function reportError(error: unknown, json = false): number {
  if (json) printErrorDocument(errorDocument(error));
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
  else writeErr(`${paint("hint:", "bold", color)} ${BUG_HINT}\n`);
  return 1;
}
