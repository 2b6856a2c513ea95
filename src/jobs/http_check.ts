/**
 * `http-check`: fetches a URL and fails unless it answers with the expected status in time.
 *
 * Payload: `{ "url": "https://example.com/health", "expect"?: 200 | [200, 204],
 * "timeout"?: "10s", "method"?: "GET" | "HEAD" }`.
 *
 * @module
 */
import { defineJob, type JobKind } from "../executor/job_kind.ts";
import { formatDuration, parseDuration } from "../shared/duration.ts";
import { errorMessage } from "../shared/errors.ts";
import { objectPayload } from "./_payload.ts";

/** The `http-check` payload. */
export interface HttpCheckPayload {
  /** The URL to fetch. */
  url: string;
  /** Statuses that count as healthy (default `[200]`). */
  expect: number[];
  /** How long to wait for the answer, in ms. */
  timeoutMs: number;
  /** The request method. */
  method: "GET" | "HEAD";
}

/** The `http-check` job kind. */
export const httpCheckJob: JobKind<HttpCheckPayload, { status: number; ms: number }> = defineJob({
  kind: "http-check",
  description:
    'fetches a URL, fails unless it answers in time: { "url", "expect"?: 200, "timeout"?: "10s" }',
  defaults: { priority: "coordinate", attempts: 3, backoff: { base: "2s", max: "1m" } },
  validate(payload): HttpCheckPayload {
    const p = objectPayload(
      payload,
      ["url", "expect", "timeout", "method"],
      '{ "url": "https://example.com/health" }',
    );
    if (typeof p.url !== "string") throw new Error('"url" must be a string');
    let url: URL;
    try {
      url = new URL(p.url);
    } catch {
      throw new Error(`"url" is not a URL: ${JSON.stringify(p.url)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error('"url" must be http: or https:');
    }
    const expect = p.expect === undefined ? [200] : Array.isArray(p.expect) ? p.expect : [p.expect];
    if (
      expect.length === 0 ||
      !expect.every((s) => typeof s === "number" && Number.isInteger(s) && s >= 100 && s <= 599)
    ) {
      throw new Error('"expect" must be an HTTP status (100-599) or a list of them');
    }
    const timeoutMs = p.timeout === undefined
      ? 10_000
      : parseDuration(p.timeout as string, "timeout");
    const method = p.method === undefined ? "GET" : p.method;
    if (method !== "GET" && method !== "HEAD") throw new Error('"method" must be GET or HEAD');
    return { url: url.href, expect: expect as number[], timeoutMs, method };
  },
  async handler({ payload, signal, log }) {
    const started = performance.now();
    // A timer of our own (not AbortSignal.timeout): it is cleared as soon as the answer comes.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), payload.timeoutMs);
    let response: Response;
    try {
      response = await fetch(payload.url, {
        method: payload.method,
        signal: AbortSignal.any([signal, timeout.signal]),
        redirect: "follow",
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (timeout.signal.aborted) {
        throw new Error(
          `${payload.url} did not answer within ${formatDuration(payload.timeoutMs)}`,
        );
      }
      throw new Error(`${payload.url}: ${errorMessage(error)}`);
    } finally {
      clearTimeout(timer);
    }
    await response.body?.cancel();
    const ms = Math.round(performance.now() - started);
    log(`${payload.method} ${payload.url} → ${response.status} in ${ms}ms`);
    if (!payload.expect.includes(response.status)) {
      throw new Error(
        `${payload.url} answered ${response.status}; expected ${payload.expect.join(" or ")}`,
      );
    }
    return { status: response.status, ms };
  },
});
