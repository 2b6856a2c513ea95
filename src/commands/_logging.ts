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

/**
 * Sends liminal's log records to stderr. Call once per process. `quiet` (a scripted `run`
 * without `-v`) keeps only the runtime's errors: the job lines are left to the summary.
 */
export function configureLogging(
  format: LogFormat,
  level: LogLevel = "info",
  options: { quiet?: boolean } = {},
): void {
  const formatter = format === "json"
    ? getJsonLinesFormatter({ properties: "flatten" })
    : colorEnabled(Deno.stderr)
    ? getAnsiColorFormatter({ timestamp: "time", category: ".", value: "bare" })
    : getTextFormatter({ timestamp: "time", category: ".", value: "bare" });
  const sink = (record: LogRecord) => writeErr(formatter(record));
  resetSync();
  configureSync({
    sinks: { stderr: sink },
    loggers: options.quiet
      ? [
        { category: ["liminal"], lowestLevel: "error", sinks: ["stderr"] },
        { category: ["liminal", "job"], sinks: [], parentSinks: "override" },
        { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["stderr"] },
      ]
      : [
        { category: ["liminal"], lowestLevel: level, sinks: ["stderr"] },
        { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
      ],
  });
}

/** Log records kept while the dashboard owns the terminal. */
export interface HeldLogs {
  /** Prints the kept records to stderr (only warnings and errors, if asked) and forgets them. */
  flush(options?: { onlyWarnings?: boolean }): void;
}

/** The most records kept while the dashboard runs. */
const HELD_MAX = 200;

/**
 * Keeps liminal's log records in memory (the last 200) instead of printing them, for while
 * the dashboard owns the terminal.
 */
export function configureHeldLogging(level: LogLevel = "info"): HeldLogs {
  const formatter = getTextFormatter({ timestamp: "time", category: ".", value: "bare" });
  const held: LogRecord[] = [];
  resetSync();
  configureSync({
    sinks: {
      held: (record: LogRecord) => {
        held.push(record);
        if (held.length > HELD_MAX) held.shift();
      },
    },
    loggers: [
      { category: ["liminal"], lowestLevel: level, sinks: ["held"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["held"] },
    ],
  });
  return {
    flush(options = {}) {
      for (const record of held.splice(0)) {
        const warning = record.level === "warning" || record.level === "error" ||
          record.level === "fatal";
        // Job lines were on the dashboard already; runtime problems were not.
        if (options.onlyWarnings && (!warning || record.category[1] === "job")) continue;
        writeErr(formatter(record));
      }
    },
  };
}
