/**
 * Secrets a job's payload may carry, hidden where jobs are shown: the values of its `env`
 * object (the `command` kind's environment, or any kind's payload field of that name holding
 * an object), so `jobs show`, the control API and the dashboard print `"KEY": "***"`.
 * `liminal jobs show --reveal` (`GET /v1/jobs/:id?reveal=1`) shows them.
 *
 * @module
 */
import type { JobSnapshot } from "./job.ts";
import type { JsonValue } from "./json.ts";

/** What a hidden value shows. */
export const MASK = "***";

/** The payload with the values of its `env` object replaced by {@link MASK}; else itself. */
export function maskPayload(payload: JsonValue): JsonValue {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return payload;
  const env = payload.env;
  if (typeof env !== "object" || env === null || Array.isArray(env)) return payload;
  return {
    ...payload,
    env: Object.fromEntries(Object.keys(env).map((key) => [key, MASK])),
  };
}

/** The job with its payload's secrets hidden (see {@link maskPayload}). */
export function maskJob(job: JobSnapshot): JobSnapshot {
  const payload = maskPayload(job.payload);
  return payload === job.payload ? job : { ...job, payload };
}
