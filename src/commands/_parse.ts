/**
 * Parsing of command-line values, once, at the edge: each error quotes the bad value and
 * says what is accepted.
 *
 * @module
 */
import { resolveWorkers } from "../executor/options.ts";
import { type Duration, parseDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { type JsonValue, MAX_PAYLOAD_BYTES, parseJson } from "../shared/json.ts";

/** `--workers N`. */
export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  return resolveWorkers(Number.isNaN(n) ? value : n, "--workers");
}

/** A duration option such as `--grace 10s`. */
export function parseDurationOption(value: string | undefined, flag: string): Duration | undefined {
  if (value === undefined) return undefined;
  parseDuration(value, flag);
  return value;
}

/** A `--timeout` option: a duration, or `none` for no timeout at all (`null`). */
export function parseTimeoutOption(
  value: string | undefined,
  flag: string,
): Duration | null | undefined {
  if (value !== undefined && value.trim().toLowerCase() === "none") return null;
  return parseDurationOption(value, flag);
}

/** A positive whole number option such as `--count 10`. */
export function parseCount(
  value: string | undefined,
  flag: string,
  max = 1_000_000,
): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ${flag} "${value}": use a whole number from 1 to ${max}`,
    );
  }
  return n;
}

/** Reads a text file given by a user, with a clear error. */
export async function readUserFile(
  path: string,
  what: string,
  maxBytes = MAX_PAYLOAD_BYTES * 8,
): Promise<string> {
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new LiminalError("INVALID_ARGUMENT", `${what} ${path} is not a file`);
    if (info.size > maxBytes) {
      throw new LiminalError(
        "PAYLOAD_TOO_LARGE",
        `${what} ${path} is ${info.size} bytes; the limit is ${maxBytes}`,
      );
    }
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof LiminalError) throw error;
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
      ? "permission denied"
      : errorMessage(error);
    throw new LiminalError("INVALID_ARGUMENT", `cannot read ${what} ${path}: ${reason}`);
  }
}

/** `--payload JSON` or `--payload @file.json`. */
export async function parsePayloadOption(
  value: string | undefined,
): Promise<JsonValue | undefined> {
  if (value === undefined) return undefined;
  if (value.startsWith("@")) {
    const path = value.slice(1);
    const text = await readUserFile(path, "payload file", MAX_PAYLOAD_BYTES);
    return parseJson(text, `--payload ${value}`);
  }
  return parseJson(value, "--payload");
}
