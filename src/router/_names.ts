/**
 * Names in the router: endpoint names, sender names and topics follow the job kind rules
 * (letters, digits, `.`, `_`, `:`, `-`; a letter or digit first; at most 100), so a topic
 * reads `jobs.succeeded`. A subscription's pattern is a topic whose dot-separated segments
 * may be `*` (exactly one segment) or, as the last segment, `**` (one or more segments).
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const SEGMENT = /^[A-Za-z0-9_:-]+$/;

/** Whether `value` is a valid endpoint, sender or topic name. */
export function isName(value: unknown): value is string {
  return typeof value === "string" && NAME.test(value);
}

/** Checks a name given by a caller; the error quotes it. */
export function checkName(value: unknown, what: string): string {
  if (isName(value)) return value;
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `invalid ${what} ${
      JSON.stringify(value) ?? String(value)
    }: use letters, digits, ".", "_", ":" or "-", starting with a letter or digit (at most 100)`,
  );
}

/** A compiled subscription pattern. */
export class TopicPattern {
  /** The pattern as written. */
  readonly source: string;
  readonly #segments: readonly string[];
  readonly #tail: boolean;

  private constructor(source: string, segments: string[], tail: boolean) {
    this.source = source;
    this.#segments = segments;
    this.#tail = tail;
  }

  /** Parses a pattern such as `jobs.*` or `jobs.**`; the error quotes a bad one. */
  static parse(value: unknown): TopicPattern {
    const bad = (why: string) =>
      new LiminalError(
        "INVALID_ARGUMENT",
        `invalid topic pattern ${JSON.stringify(value) ?? String(value)}: ${why}`,
      );
    if (typeof value !== "string" || value.length === 0 || value.length > 100) {
      throw bad('write 1 to 100 characters, e.g. "jobs.*"');
    }
    const segments = value.split(".");
    let tail = false;
    for (const [i, segment] of segments.entries()) {
      if (segment === "**") {
        if (i !== segments.length - 1) throw bad('"**" may only be the last segment');
        tail = true;
      } else if (segment !== "*" && !SEGMENT.test(segment)) {
        throw bad(
          'each dot-separated segment is "*", a final "**", or letters, digits, "_", ":", "-"',
        );
      }
    }
    if (tail) segments.pop();
    return new TopicPattern(value, segments, tail);
  }

  /** Whether the topic `name` matches. */
  matches(name: string): boolean {
    const parts = name.split(".");
    const fixed = this.#segments.length;
    if (this.#tail ? parts.length <= fixed : parts.length !== fixed) return false;
    for (let i = 0; i < fixed; i++) {
      const segment = this.#segments[i]!;
      if (segment !== "*" && segment !== parts[i]) return false;
    }
    return true;
  }
}
