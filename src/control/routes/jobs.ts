/**
 * The job routes: kinds, list, enqueue, wait, prune, explain, get, cancel and retry.
 *
 * @module
 */
import { LiminalError } from "../../shared/errors.ts";
import {
  FINAL_STATES,
  isJobState,
  JOB_STATES,
  type JobRecord,
  type JobSnapshot,
  toJobSnapshot,
} from "../../shared/job.ts";
import { maskJob } from "../../shared/secrets.ts";
import {
  parseEnqueueBody,
  parseLimit,
  parsePruneBody,
  parseWaitBody,
  resolveShortId,
  revealAsked,
} from "../_bodies.ts";
import { json, readJson } from "../_http.ts";
import type { ControlJobs } from "../target.ts";
import type { AddRoute, RouteContext } from "./context.ts";

/** A job as the API shows it: its payload's `env` values masked unless `reveal`. */
function shownJob(record: JobRecord, reveal = false): JobSnapshot {
  const job = toJobSnapshot(record);
  return reveal ? job : maskJob(job);
}

/** Adds the job routes. */
export function jobRoutes(route: AddRoute, context: RouteContext): void {
  const jobs = context.target.jobs;

  route("GET", "/v1/kinds", () =>
    Promise.resolve(json({
      kinds: [...jobs.kinds()].sort((a, b) => a.kind.localeCompare(b.kind)).map((k) => ({
        kind: k.kind,
        description: k.description,
        defaults: k.defaults,
      })),
    })));

  route("GET", "/v1/jobs", async (_request, _params, url) => {
    const state = url.searchParams.get("state");
    if (state === "failed") {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `"failed" is how an attempt ends, not a state a job rests in: a job that failed and will not run again is "dead"`,
        { hint: "ask for state=dead" },
      );
    }
    if (state !== null && !isJobState(state)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `invalid state "${state}"; use one of: ${JOB_STATES.join(", ")}`,
      );
    }
    const kind = url.searchParams.get("kind");
    const limit = parseLimit(url.searchParams.get("limit"));
    const records = await jobs.list({
      ...(state === null ? {} : { state }),
      ...(kind === null ? {} : { kind }),
      limit,
    });
    const reveal = revealAsked(url);
    return json({ jobs: records.map((r) => shownJob(r, reveal)) });
  });

  route("POST", "/v1/jobs", async (request) => {
    const specs = parseEnqueueBody(await readJson(request));
    const results = await jobs.enqueueMany(specs);
    // `batch` names these jobs for POST /v1/jobs/wait: a wait need not send every id.
    const batch = context.batches.add(results.map((r) => r.id));
    return json({ jobs: results, batch }, 201);
  });

  route("POST", "/v1/jobs/wait", async (request) => {
    const body = await readJson(request);
    const wait = parseWaitBody(body);
    if ("batch" in wait) return json(await context.batches.wait(wait.batch, wait.timeoutMs));
    return json(await waitForJobs(jobs, wait.ids, wait.timeoutMs, context.live));
  }, false);

  route("POST", "/v1/jobs/prune", async (request) => {
    const options = parsePruneBody(await readJson(request, true));
    return json({ removed: await context.target.prune(options) });
  });

  route("GET", "/v1/jobs/:id/why", async (_request, { id }) => {
    return json(await jobs.explain(await resolveJobId(jobs, id!)));
  });

  route("GET", "/v1/jobs/:id", async (_request, { id }, url) => {
    const full = await resolveJobId(jobs, id!);
    const record = await jobs.get(full);
    if (record === null) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${full}`);
    return json(shownJob(record, revealAsked(url)));
  });

  route("POST", "/v1/jobs/:id/cancel", async (_request, { id }) => {
    const record = await jobs.cancel(await resolveJobId(jobs, id!));
    return json(shownJob(record));
  });

  route("POST", "/v1/jobs/:id/retry", async (_request, { id }) => {
    const record = await jobs.retry(await resolveJobId(jobs, id!));
    return json(shownJob(record));
  });
}

/**
 * The whole id a job route was given: a whole id, its tail (6+ characters) or the
 * dashboard's short form, resolved in the store (see {@link resolveShortId}).
 */
function resolveJobId(jobs: ControlJobs, given: string): Promise<string> {
  return resolveShortId(given, "job", (tail, limit) => jobs.findIdsByTail(tail, limit));
}

/** Holds until every job is final, the time is up or the server closes. */
async function waitForJobs(
  jobs: ControlJobs,
  ids: string[],
  timeoutMs: number,
  live: AbortSignal,
): Promise<{ done: boolean; jobs: unknown[] }> {
  const current = await Promise.all(ids.map((id) => jobs.get(id)));
  const missing = ids.find((_, i) => current[i] === null);
  if (missing !== undefined) throw new LiminalError("JOB_NOT_FOUND", `no job with id ${missing}`);
  const pending = ids.filter((_, i) => !FINAL_STATES.has(current[i]!.state));
  if (pending.length > 0 && timeoutMs > 0 && !live.aborted) {
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), timeoutMs);
    const signal = AbortSignal.any([stop.signal, live]);
    try {
      await Promise.all(pending.map((id) => jobs.waitFor(id, signal).catch(() => null)));
    } finally {
      clearTimeout(timer);
      stop.abort();
    }
  }
  const records = await Promise.all(ids.map((id) => jobs.get(id)));
  const shown = records.map((r) => (r === null ? null : shownJob(r)));
  return { done: shown.every((j) => j !== null && FINAL_STATES.has(j.state)), jobs: shown };
}
