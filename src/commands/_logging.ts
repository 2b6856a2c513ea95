/**
 * Logging for the CLI: LogTape records to stderr, one line each, `pretty` (coloured on a
 * terminal) or `json` (one JSON object per line: `@timestamp`, `level`, `message` as plain
 * text, `logger`, and the record's values as fields under `properties`).
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

/** A value placed in a message: text as it is (no quotes), anything else as JSON. */
function plainValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  if (value === undefined || typeof value === "bigint" || typeof value === "symbol") {
    return String(value);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * JSON lines whose `message` reads as text (`liminal 0.1.0 running`, not
 * `liminal "0.1.0" running`); the values stay fields under `properties` (nested, so that a
 * value named `message` or `level` cannot overwrite the line's own).
 */
export function jsonLineFormatter(): (record: LogRecord) => string {
  const json = getJsonLinesFormatter({ properties: "nest:properties" });
  return (record) => {
    const text = record.message.map((part, i) => i % 2 === 0 ? String(part) : plainValue(part))
      .join("");
    return json({ ...record, message: [text] });
  };
}

/**
 * Sends liminal's log records to stderr. Call once per process. `quiet` (a scripted `run`
 * without `-v`) keeps only the runtime's errors and the warnings and errors job modules print
 * outside a job: the job lines are left to the summary, what jobs print to their own logs.
 */
export function configureLogging(
  format: LogFormat,
  level: LogLevel = "info",
  options: { quiet?: boolean } = {},
): void {
  const formatter = format === "json"
    ? jsonLineFormatter()
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
        // What job modules print as warnings or errors outside a job (at load, in endpoints:
        // an alert) still reaches stderr; what a job prints stays in its own log.
        {
          category: ["liminal", "output"],
          lowestLevel: "warning",
          sinks: ["stderr"],
          parentSinks: "override",
        },
        { category: ["liminal", "output", "job"], sinks: [], parentSinks: "override" },
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
        // Job lines (and what handlers printed, kept in their jobs' logs) were on the
        // dashboard already; runtime problems were not.
        const ofJob = record.category[1] === "job" || record.properties.event === "job.output";
        if (options.onlyWarnings && (!warning || ofJob)) continue;
        writeErr(formatter(record));
      }
    },
  };
}
