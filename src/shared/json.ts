/**
 * JSON values and the checks every payload passes at the edge: it parses (with the position
 * of a mistake), it serialises, and it fits the size limit.
 *
 * @module
 */
import { LiminalError } from "./errors.ts";

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** The largest payload, result or message body, serialised as UTF-8: 1 MiB. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

/**
 * The UTF-8 size of `text`. A UTF-16 unit takes at most 3 bytes, so a string of at most
 * `limit / 3` units is known to fit without encoding it: then its length is returned.
 */
export function utf8SizeUpTo(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : encoder.encode(text).byteLength;
}

/**
 * Parses JSON text given by a user. The error names what was parsed and where it broke.
 *
 * @example
 * ```ts
 * parseJson('{"ms": 5}', "--payload"); // { ms: 5 }
 * ```
 */
export function parseJson(text: string, what: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message : String(error);
    const hasPosition = /at position \d+/.test(detail);
    let where = "";
    if (!hasPosition) {
      const offset = jsonErrorOffset(text);
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      const column = offset - before.lastIndexOf("\n");
      where = ` at position ${offset} (line ${line} column ${column})`;
    }
    // V8 quotes the whole input in some messages; keep the first clause only.
    const reason = detail.replace(/, ".*" is not valid JSON$/s, "");
    throw new LiminalError("INVALID_JSON", `malformed JSON in ${what}: ${reason}${where}`, {
      cause: error,
    });
  }
}

/**
 * The offset of the first character at which `text` stops being JSON (its length when it
 * ends too early). Only called on text that failed to parse.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const literal = (word: string) => {
    for (const ch of word) {
      if (text[i] !== ch) fail();
      i++;
    }
  };
  const string = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length && text[i] !== '"') {
      const code = text.charCodeAt(i);
      if (code < 0x20) fail();
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? "")) (i += k, fail());
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? "")) fail();
      }
      i++;
    }
    if (i >= text.length) fail();
    i++;
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (match === null || match[0] === "" || match[0] === "-") fail();
    i += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        string();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") return void i++;
        fail();
      }
    }
    if (ch === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") return void i++;
        fail();
      }
    }
    if (ch === '"') return string();
    if (ch === "t") return literal("true");
    if (ch === "f") return literal("false");
    if (ch === "n") return literal("null");
    return number();
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (offset) {
    return Math.min(offset as number, text.length);
  }
}

/**
 * Serialises a payload and checks it: JSON only (no functions, cycles or BigInt) and at most
 * {@link MAX_PAYLOAD_BYTES}. `undefined` is taken as `null`. Returns the JSON text.
 */
export function serializePayload(
  payload: unknown,
  what = "payload",
  limit = MAX_PAYLOAD_BYTES,
): string {
  if (payload === undefined || payload === null) return "null";
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    throw new LiminalError(
      "INVALID_PAYLOAD",
      `${what} is not JSON-serialisable: ${error instanceof Error ? error.message : error}`,
      { cause: error },
    );
  }
  if (text === undefined) {
    throw new LiminalError(
      "INVALID_PAYLOAD",
      `${what} is not JSON-serialisable (${typeof payload})`,
    );
  }
  const size = utf8SizeUpTo(text, limit);
  if (size > limit) {
    throw new LiminalError(
      "PAYLOAD_TOO_LARGE",
      `${what} is ${formatBytes(size)}; the limit is ${formatBytes(limit)}`,
    );
  }
  return text;
}

/** Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, "")} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1).replace(/\.0$/, "")} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1).replace(/\.0$/, "")} GiB`;
}
