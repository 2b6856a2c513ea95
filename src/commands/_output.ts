/**
 * Human output: colours (only on a terminal, never with `NO_COLOR`), aligned tables, and the
 * writers every command prints through.
 *
 * @module
 */
import { displayWidth } from "../shared/text_width.ts";

const encoder = new TextEncoder();

/** Writes text to stdout, synchronously. */
export function writeOut(text: string): void {
  if (stdoutClosed) return;
  try {
    writeAll(Deno.stdout, text);
  } catch (error) {
    // `liminal jobs | head -1`: the reader is gone; what is left to print is not wanted.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
    stdoutClosed = true;
  }
}

let stdoutClosed = false;

/** Writes text to stderr, synchronously. */
export function writeErr(text: string): void {
  writeAll(Deno.stderr, text);
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

let printedJson = false;
let jsonLines = false;

/** Prints one JSON document on stdout (one line in a JSON-lines stream). */
export function printJson(value: unknown): void {
  printedJson = true;
  writeOut(jsonLines ? `${JSON.stringify(value)}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * For a command whose `--json` output is a stream of one JSON object per line (`router tail`):
 * a document printed after (an error's) is one line too, so line readers keep working.
 */
export function useJsonLines(): void {
  jsonLines = true;
}

/** Whether {@link printJson} has printed a document in this process. */
export function jsonPrinted(): boolean {
  return printedJson;
}

/** Whether colours may be used on a stream. */
export function colorEnabled(stream: { isTerminal(): boolean } = Deno.stdout): boolean {
  const noColor = Deno.env.get("NO_COLOR");
  if (noColor !== undefined && noColor !== "") return false;
  try {
    return stream.isTerminal();
  } catch {
    return false;
  }
}

const STYLES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

/** A style name. */
export type Style = keyof typeof STYLES;

/** Paints text with ANSI styles when `enabled`. */
export function paint(text: string, style: Style | Style[], enabled: boolean): string {
  if (!enabled) return text;
  const styles = Array.isArray(style) ? style : [style];
  return styles.reduce((out, s) => `\x1b[${STYLES[s][0]}m${out}\x1b[${STYLES[s][1]}m`, text);
}

/**
 * The visible width of text in terminal columns: ANSI escapes take none, CJK characters and
 * emoji two.
 */
export function visibleWidth(text: string): number {
  return displayWidth(text);
}

/** A column of {@link formatTable}. */
export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: "left" | "right";
}

/** An aligned table with a header row, two spaces between columns. */
export function formatTable<T>(
  rows: readonly T[],
  columns: readonly Column<T>[],
  color: boolean,
): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) =>
    Math.max(visibleWidth(column.header), ...cells.map((row) => visibleWidth(row[i]!)))
  );
  const line = (values: string[]) =>
    values
      .map((value, i) => {
        const pad = " ".repeat(widths[i]! - visibleWidth(value));
        return columns[i]!.align === "right"
          ? pad + value
          : i === values.length - 1
          ? value
          : value + pad;
      })
      .join("  ")
      .trimEnd();
  const header = paint(line(columns.map((c) => c.header)), "bold", color);
  return [header, ...cells.map(line)].join("\n") + "\n";
}

/** Colours a job state for people. */
export function paintState(state: string, color: boolean, text = state): string {
  switch (state) {
    case "succeeded":
      return paint(text, "green", color);
    case "failed":
    case "dead":
      return paint(text, "red", color);
    case "cancelled":
      return paint(text, "yellow", color);
    case "running":
      return paint(text, "cyan", color);
    default:
      return paint(text, "gray", color);
  }
}
