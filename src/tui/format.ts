/**
 * Small text helpers for the dashboard's frames.
 *
 * @module
 */

const BARS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/** A sparkline of `values` (the last `width` of them), scaled to their maximum. */
export function sparkline(values: readonly number[], width: number): string {
  const slice = values.slice(-width);
  const max = Math.max(0, ...slice);
  const line = slice.map((
    v,
  ) => (max === 0 ? " " : v <= 0 ? " " : BARS[Math.min(7, Math.floor((v / max) * 7.999))]!)).join(
    "",
  );
  return line.padStart(width, " ");
}

export { formatMs } from "../shared/duration.ts";

/** Cuts `text` to `width` columns, with an ellipsis. */
export function fit(text: string, width: number): string {
  if (width <= 0) return "";
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** A short job id: its first 8 and last 4 characters. */
export function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** Pads or cuts to exactly `width` columns. */
export function cell(text: string, width: number, align: "left" | "right" = "left"): string {
  const cut = fit(text, width);
  return align === "right" ? cut.padStart(width) : cut.padEnd(width);
}

/** Ink's `color` prop, or none: spread it (`<Text {...fg(c)}>`). */
export function fg(color: string | undefined): { color?: string } {
  return color === undefined ? {} : { color };
}
