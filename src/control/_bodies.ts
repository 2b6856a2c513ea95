/**
 * The request bodies and query values of the control API, checked field by field before
 * anything changes: a bad one is a 400 naming the field, and nothing is done.
 *
 * @module
 */
import { type Duration, parseDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { isId } from "../shared/ids.ts";
import { type JobSpec, parseJobSpec, parseResource } from "../shared/job_spec.ts";
import type { JsonValue } from "../shared/json.ts";
import { parsePriority, type Priority } from "../shared/priority.ts";

/** The most jobs one enqueue call creates. */
export const MAX_BATCH = 100_000;
/** The longest a `POST /v1/jobs/wait` call holds before answering with the jobs as they are. */
export const MAX_WAIT_MS = 60_000;

/** The body as an object, or `INVALID_ARGUMENT`. */
export function asObject(body: JsonValue, what: string): Record<string, JsonValue> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new LiminalError("INVALID_ARGUMENT", `${what} must be a JSON object`);
  }
  return body;
}

/** A job (or message) id from the path, lower-cased. */
export function checkId(id: string, what: "job" | "message" = "job"): string {
  if (!isId(id)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `"${id}" is not a ${what} id (a UUID such as 01a2b3c4-…)`,
    );
  }
  return id.toLowerCase();
}

/** The fewest characters of an id's tail that name a job or message. */
export const MIN_ID_TAIL = 6;
/** How many candidates an `AMBIGUOUS_ID` error lists. */
const CANDIDATES_SHOWN = 10;

/**
 * The whole id a route was given: a whole id as it is; a tail of at least 6 characters, or
 * the short form the dashboard shows (`01a24785…83f1`, also with `...`), resolved through
 * `findByTail` (ids ending with a tail, newest first, at most `limit`) to the one it fits.
 * None: `JOB_NOT_FOUND` (`MESSAGE_NOT_FOUND`); several: `AMBIGUOUS_ID` listing them.
 */
export async function resolveShortId(
  given: string,
  what: "job" | "message",
  findByTail: (tail: string, limit: number) => Promise<string[]>,
): Promise<string> {
  const value = given.trim().toLowerCase();
  if (isId(value)) return value;
  const short = /^([0-9a-f-]+)(?:…|\.\.\.)([0-9a-f-]+)$/.exec(value);
  const head = short === null ? "" : short[1]!;
  const tail = short === null ? value : short[2]!;
  if (short === null && !new RegExp(`^[0-9a-f-]{${MIN_ID_TAIL},}$`).test(value)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `"${given}" is not a ${what} id: give the whole id, its last ${MIN_ID_TAIL} or more characters, or the short form the dashboard shows (01a24785…83f1)`,
    );
  }
  // The short form's tail is short (4 characters): look wider, then keep the ids of its head.
  const found = (await findByTail(tail, short === null ? CANDIDATES_SHOWN + 1 : 10_000))
    .filter((id) => id.startsWith(head));
  if (found.length === 0) {
    throw new LiminalError(
      what === "job" ? "JOB_NOT_FOUND" : "MESSAGE_NOT_FOUND",
      short === null
        ? `no ${what} with an id ending in ${value}`
        : `no ${what} with an id of the form ${head}…${tail}`,
    );
  }
  if (found.length > 1) {
    const shown = found.slice(0, CANDIDATES_SHOWN);
    throw new LiminalError(
      "AMBIGUOUS_ID",
      `ambiguous id "${given}": it fits ${
        found.length > CANDIDATES_SHOWN ? `more than ${CANDIDATES_SHOWN}` : found.length
      } ${what}s: ${shown.join(", ")}`,
      { hint: "give more characters of the id (its tail), or the whole id" },
    );
  }
  return found[0]!;
}

/** `?limit=`: a whole number from 1 to 10000, 50 when absent. */
export function parseLimit(value: string | null): number {
  if (value === null) return 50;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid limit "${value}": use a whole number from 1 to 10000`,
    );
  }
  return n;
}

/** Whether the query asks for secrets in full (`?reveal=1` or `?reveal=true`). */
export function revealAsked(url: URL): boolean {
  const value = url.searchParams.get("reveal");
  if (value === null || value === "0" || value === "false") return false;
  if (value === "" || value === "1" || value === "true") return true;
  throw new LiminalError("INVALID_ARGUMENT", `invalid reveal "${value}"; use 1 or 0`);
}

/** `{ kind, payload, …, count? }` or `{ jobs: [ … ] }`. */
export function parseEnqueueBody(body: JsonValue): JobSpec[] {
  const object = asObject(body, "the request body");
  if ("jobs" in object) {
    const extra = Object.keys(object).filter((k) => k !== "jobs");
    if (extra.length > 0) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `with "jobs", no other field is taken (got ${extra.join(", ")})`,
      );
    }
    const jobs = object.jobs;
    if (!Array.isArray(jobs) || jobs.length === 0) {
      throw new LiminalError("INVALID_ARGUMENT", '"jobs" must be a non-empty array');
    }
    if (jobs.length > MAX_BATCH) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `"jobs" holds ${jobs.length} jobs; the limit is ${MAX_BATCH}`,
      );
    }
    return jobs.map((job, i) => parseJobSpec(job, `jobs[${i}]`));
  }
  const { count, ...rest } = object;
  let n = 1;
  if (count !== undefined) {
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > MAX_BATCH) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `"count" must be a whole number from 1 to ${MAX_BATCH}, got ${JSON.stringify(count)}`,
      );
    }
    n = count;
  }
  const spec = parseJobSpec(rest, "job");
  return Array.from({ length: n }, () => spec);
}

/** `{ ids: [ … ], timeout? }` or `{ batch, timeout? }`. */
export function parseWaitBody(
  body: JsonValue,
): { ids: string[]; timeoutMs: number } | { batch: string; timeoutMs: number } {
  const object = asObject(body, "the request body");
  const timeoutMs = parseWaitTimeout(object.timeout);
  if (object.batch !== undefined) {
    if (object.ids !== undefined) {
      throw new LiminalError("INVALID_ARGUMENT", 'give "batch" or "ids", not both');
    }
    if (typeof object.batch !== "string" || !isId(object.batch)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        '"batch" must be the batch id an enqueue answered (POST /v1/jobs)',
      );
    }
    return { batch: object.batch.toLowerCase(), timeoutMs };
  }
  const ids = object.ids;
  if (
    !Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BATCH ||
    !ids.every((id) => typeof id === "string")
  ) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      '"ids" must be a non-empty array of job ids (or give "batch", the id an enqueue answered)',
    );
  }
  return { ids: [...new Set(ids.map((id) => checkId(id as string)))], timeoutMs };
}

function parseWaitTimeout(value: JsonValue | undefined): number {
  const timeout = value ?? "30s";
  if (typeof timeout !== "string" && typeof timeout !== "number") {
    throw new LiminalError("INVALID_DURATION", '"timeout" must be a duration such as "30s"');
  }
  return Math.min(parseDuration(timeout as Duration, "timeout"), MAX_WAIT_MS);
}

/** `{ olderThan?, keep? }` of `POST /v1/jobs/prune`. */
export function parsePruneBody(body: JsonValue): { olderThanMs?: number; keep?: number } {
  const object = asObject(body, "the request body");
  for (const key of Object.keys(object)) {
    if (key !== "olderThan" && key !== "keep") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `unknown field "${key}" (fields: olderThan, keep)`,
      );
    }
  }
  const options: { olderThanMs?: number; keep?: number } = {};
  if (object.olderThan !== undefined) {
    if (typeof object.olderThan !== "string" && typeof object.olderThan !== "number") {
      throw new LiminalError("INVALID_DURATION", '"olderThan" must be a duration such as "7d"');
    }
    options.olderThanMs = parseDuration(object.olderThan, "olderThan");
  }
  if (object.keep !== undefined) {
    if (typeof object.keep !== "number" || !Number.isInteger(object.keep) || object.keep < 0) {
      throw new LiminalError("INVALID_ARGUMENT", '"keep" must be a whole number of at least 0');
    }
    options.keep = object.keep;
  }
  return options;
}

/** `{ paused: boolean }` of `POST /v1/intake`. */
export function parseIntakeBody(body: JsonValue): { paused: boolean } {
  const object = asObject(body, "the request body");
  if (typeof object.paused !== "boolean" || Object.keys(object).length !== 1) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      'the body must be { "paused": true } or { "paused": false }',
    );
  }
  return { paused: object.paused };
}

/** `{ grace?, force? }` of `POST /v1/shutdown`. */
export function parseShutdownBody(body: JsonValue): { grace?: number; force: boolean } {
  const object = asObject(body, "the request body");
  for (const key of Object.keys(object)) {
    if (key !== "grace" && key !== "force") {
      throw new LiminalError("INVALID_ARGUMENT", `unknown field "${key}" (fields: grace, force)`);
    }
  }
  const out: { grace?: number; force: boolean } = { force: object.force === true };
  if (object.force !== undefined && typeof object.force !== "boolean") {
    throw new LiminalError("INVALID_ARGUMENT", '"force" must be true or false');
  }
  if (object.grace !== undefined && object.grace !== null) {
    if (typeof object.grace !== "string" && typeof object.grace !== "number") {
      throw new LiminalError("INVALID_DURATION", '"grace" must be a duration such as "10s"');
    }
    out.grace = parseDuration(object.grace as Duration, "grace");
  }
  return out;
}

/** A message to send, from `POST /v1/router/send`. */
export interface SendBody {
  to: string;
  type: string;
  payload: JsonValue;
  options: { from: string; priority?: Priority; ack?: boolean; ttl?: Duration };
}

/** `{ to, type, payload?, priority?, from?, ack?, ttl? }` of `POST /v1/router/send`. */
export function parseSendBody(body: JsonValue): SendBody {
  const object = asObject(body, "the request body");
  const fields = ["to", "type", "payload", "priority", "from", "ack", "ttl"];
  for (const key of Object.keys(object)) {
    if (!fields.includes(key)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `unknown field "${key}" (fields: ${fields.join(", ")})`,
      );
    }
  }
  if (typeof object.to !== "string" || object.to === "") {
    throw new LiminalError("INVALID_ARGUMENT", '"to" must be an endpoint or topic');
  }
  if (typeof object.type !== "string" || object.type === "") {
    throw new LiminalError("INVALID_ARGUMENT", '"type" must be a non-empty string');
  }
  if (object.from !== undefined && (typeof object.from !== "string" || object.from === "")) {
    throw new LiminalError("INVALID_ARGUMENT", '"from" must be a non-empty name');
  }
  if (object.ack !== undefined && typeof object.ack !== "boolean") {
    throw new LiminalError("INVALID_ARGUMENT", '"ack" must be true or false');
  }
  if (
    object.ttl !== undefined && typeof object.ttl !== "string" && typeof object.ttl !== "number"
  ) {
    throw new LiminalError("INVALID_DURATION", '"ttl" must be a duration such as "30s"');
  }
  return {
    to: object.to,
    type: object.type,
    payload: object.payload ?? null,
    options: {
      from: typeof object.from === "string" ? object.from : "cli",
      ...(object.priority === undefined
        ? {}
        : { priority: parsePriority(object.priority, "priority") }),
      ...(object.ack === undefined ? {} : { ack: object.ack as boolean }),
      ...(object.ttl === undefined ? {} : { ttl: object.ttl as Duration }),
    },
  };
}

/** The fields of the lease routes' bodies. */
export interface LeaseBody {
  resource: string;
  holder: string;
  ttl?: Duration;
  priority?: Priority;
  /** Milliseconds to wait in line. */
  wait?: number;
  /** An operator's lease that a higher priority may take over. */
  preemptible?: boolean;
}

/** A lease route's body, taking only `fields`. */
export function parseLeaseBody(body: JsonValue, fields: readonly string[]): LeaseBody {
  const object = asObject(body, "the request body");
  for (const key of Object.keys(object)) {
    if (!fields.includes(key)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `unknown field "${key}" (fields: ${fields.join(", ")})`,
      );
    }
  }
  const out: LeaseBody = {
    resource: parseResource(object.resource),
    holder: typeof object.holder === "string" && object.holder !== "" &&
        object.holder.length <= 200
      ? object.holder
      : (() => {
        throw new LiminalError("INVALID_ARGUMENT", '"holder" must be a non-empty name');
      })(),
  };
  if (object.ttl !== undefined) {
    if (typeof object.ttl !== "string" && typeof object.ttl !== "number") {
      throw new LiminalError("INVALID_DURATION", '"ttl" must be a duration such as "15m"');
    }
    out.ttl = object.ttl;
  }
  if (object.priority !== undefined) out.priority = parsePriority(object.priority, "priority");
  if (object.preemptible !== undefined) {
    if (typeof object.preemptible !== "boolean") {
      throw new LiminalError("INVALID_ARGUMENT", '"preemptible" must be true or false');
    }
    out.preemptible = object.preemptible;
  }
  if (object.wait !== undefined && object.wait !== false) {
    const wait = object.wait === true ? "60s" : object.wait;
    if (typeof wait !== "string" && typeof wait !== "number") {
      throw new LiminalError("INVALID_DURATION", '"wait" must be true or a duration such as "30s"');
    }
    out.wait = Math.min(parseDuration(wait, "wait"), MAX_WAIT_MS);
  }
  return out;
}
