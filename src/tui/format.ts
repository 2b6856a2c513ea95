/**
 * Small text helpers for the dashboard's frames.
 *
 * @module
 */
import { cutToWidth, padToWidth } from "../shared/text_width.ts";

const BARS = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/** A sparkline of `values` (the last `width` of them), scaled to their maximum. */
export function sparkline(values: readonly number[], width: number): string {
  if (width <= 0) return ""; // slice(-0) would be every value
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

/** Cuts `text` to `width` terminal columns, with an ellipsis (CJK and emoji take two). */
export function fit(text: string, width: number): string {
  return cutToWidth(text, width);
}

/** A short job id: its first 8 and last 4 characters. */
export function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** Pads or cuts to exactly `width` terminal columns. */
export function cell(text: string, width: number, align: "left" | "right" = "left"): string {
  return padToWidth(fit(text, width), width, align);
}

/** Ink's `color` prop, or none: spread it (`<Text {...fg(c)}>`). */
export function fg(color: string | undefined): { color?: string } {
  return color === undefined ? {} : { color };
}
