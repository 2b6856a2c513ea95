/**
 * Logging for the CLI: LogTape records to stderr, one line each, `pretty` (coloured on a
 * terminal) or `json` (one JSON object per line).
 *
 * @module
 */
import {
  configureSync,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";
import { LiminalError } from "../shared/errors.ts";
import { colorEnabled, writeErr } from "./_output.ts";

/** Log line formats. */
export type LogFormat = "pretty" | "json";

const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** Checks `--log-format`. */
export function parseLogFormat(value: string): LogFormat {
  if (value === "pretty" || value === "json") return value;
  throw new LiminalError("INVALID_ARGUMENT", `invalid --log-format "${value}"; use pretty or json`);
}

/** Checks `--log-level`. */
export function parseLogLevel(value: string): LogLevel {
  const level = value === "warn" ? "warning" : value;
  if ((LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `invalid --log-level "${value}"; use one of: ${LEVELS.join(", ")}`,
  );
}

/** Sends liminal's log records to stderr. Call once per process. */
export function configureLogging(format: LogFormat, level: LogLevel = "info"): void {
  const formatter = format === "json"
    ? getJsonLinesFormatter({ properties: "flatten" })
    : colorEnabled(Deno.stderr)
    ? getAnsiColorFormatter({ timestamp: "time", category: ".", value: "bare" })
    : getTextFormatter({ timestamp: "time", category: ".", value: "bare" });
  const sink = (record: LogRecord) => writeErr(formatter(record));
  resetSync();
  configureSync({
    sinks: { stderr: sink },
    loggers: [
      { category: ["liminal"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
