/**
 * Durations: written `250ms`, `10s`, `5m`, `1h`, `2d` (or combined, `1m30s`) at the edges,
 * milliseconds everywhere inside.
 *
 * @module
 */
import { LiminalError } from "./errors.ts";

/** A duration as a user writes it (`"10s"`) or as a number of milliseconds. */
export type Duration = number | string;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * Parses a duration into milliseconds. Numbers are taken as milliseconds; strings need a
 * unit. The error quotes the bad value and lists the accepted units.
 *
 * @example
 * ```ts
 * parseDuration("1m30s"); // 90000
 * ```
 */
export function parseDuration(input: Duration, what = "duration"): number {
  if (typeof input === "number") {
    if (Number.isFinite(input) && input >= 0) return bounded(input, String(input), what);
    throw invalid(String(input), what);
  }
  if (typeof input !== "string") throw invalid(String(input), what);
  const text = input.trim();
  if (text === "") throw invalid(input, what);
  if (/^\d+$/.test(text)) {
    throw invalid(input, what, ` (a number needs a unit, e.g. "${text}ms" or "${text}s")`);
  }
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const at = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null || match.index !== at) throw invalid(input, what);
    total += Number(match[1]) * (UNIT_MS[match[2]!] ?? Number.NaN);
  }
  if (!Number.isFinite(total)) throw invalid(input, what);
  return bounded(Math.round(total), input, what);
}

/**
 * The longest duration accepted anywhere: 10 years (3650d). Longer ones are mistakes, and
 * past it times stop fitting in dates and the stores' integers.
 */
export const MAX_DURATION_MS = 3650 * 86_400_000;

function bounded(ms: number, shown: string, what: string): number {
  if (ms <= MAX_DURATION_MS) return ms;
  throw new LiminalError(
    "INVALID_DURATION",
    `invalid ${what} "${shown}": longer than the longest allowed, 3650d (10 years)`,
  );
}

function invalid(shown: string, what: string, detail = ""): LiminalError {
  return new LiminalError(
    "INVALID_DURATION",
    `invalid ${what} "${shown}"${detail}; write a number with a unit: ms, s, m, h or d (e.g. 250ms, 10s, 5m, 1h, 2d)`,
  );
}

/**
 * Formats milliseconds for people: `850ms`, `1.4s`, `2m 3s`, `1h 5m`, `3d 4h`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1) return `${sign}${abs.toFixed(abs < 0.1 ? 3 : 2).replace(/\.?0+$/, "") || "0"}ms`;
  if (abs < 1_000) return `${sign}${Math.round(abs)}ms`;
  // Each unit is rounded before it is split, so that 59.7 s reads "1m", never "60s", and
  // 14 min 59.6 s reads "15m", never "14m 60s".
  if (abs < 59_500) {
    const seconds = abs / 1_000;
    return `${sign}${seconds < 10 ? seconds.toFixed(1).replace(/\.0$/, "") : Math.round(seconds)}s`;
  }
  const totalSeconds = Math.round(abs / 1_000);
  if (totalSeconds < 3_600) {
    const m = Math.floor(totalSeconds / 60);
    const s = totalSeconds % 60;
    return `${sign}${m}m${s ? ` ${s}s` : ""}`;
  }
  const totalMinutes = Math.round(abs / 60_000);
  if (totalMinutes < 1_440) {
    const h = Math.floor(totalMinutes / 60);
    const m = totalMinutes % 60;
    return `${sign}${h}h${m ? ` ${m}m` : ""}`;
  }
  const totalHours = Math.round(abs / 3_600_000);
  const d = Math.floor(totalHours / 24);
  const h = totalHours % 24;
  return `${sign}${d}d${h ? ` ${h}h` : ""}`;
}

/** A duration in milliseconds for people ({@link formatDuration}), or `-` when unknown. */
export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "-" : formatDuration(ms);
}

/** A time relative to `now`, for people: `3s ago`, `in 5m`, `just now`. */
export function formatRelative(at: number, now: number = Date.now()): string {
  const delta = at - now;
  if (Math.abs(delta) < 1_000) return "just now";
  return delta < 0 ? `${formatDuration(-delta)} ago` : `in ${formatDuration(delta)}`;
}
