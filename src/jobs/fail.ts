/**
 * `fail`: always fails, for trying retries and dead jobs. Payload `{ "message": "…" }`.
 *
 * @module
 */
import { defineJob, type JobKind } from "../executor/job_kind.ts";
import { objectPayload } from "./_payload.ts";

/** The `fail` job kind. */
export const failJob: JobKind<{ message: string }, never> = defineJob({
  kind: "fail",
  description: 'always fails, to try retries and dead jobs: { "message": "disk on fire" }',
  validate(payload) {
    const { message } = objectPayload(payload ?? {}, ["message"], '{ "message": "disk on fire" }');
    if (message !== undefined && typeof message !== "string") {
      throw new Error(`"message" must be a string, got ${JSON.stringify(message)}`);
    }
    return { message: message ?? "failed on purpose" };
  },
  handler({ payload }): never {
    throw new Error(payload.message);
  },
});
