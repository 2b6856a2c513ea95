/**
 * `sleep`: waits, then succeeds. Payload `{ "ms": 500 }`. Honours its signal at once. It is
 * alive while its timer runs (`aliveWhile`): a long sleep never makes its worker stuck.
 *
 * @module
 */
import { delay } from "es-toolkit";
import { defineJob, type JobKind } from "../executor/job_kind.ts";
import { objectPayload } from "./_payload.ts";

/** The longest sleep: one day. */
const MAX_SLEEP_MS = 86_400_000;

/** The `sleep` job kind. */
export const sleepJob: JobKind<{ ms: number }, { sleptMs: number }> = defineJob({
  kind: "sleep",
  description: 'waits, then succeeds: { "ms": 500 }',
  validate(payload) {
    const { ms } = objectPayload(payload ?? { ms: 0 }, ["ms"], '{ "ms": 500 }');
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
      throw new Error(
        `"ms" must be a number of milliseconds from 0 to ${MAX_SLEEP_MS}, got ${
          JSON.stringify(ms)
        }`,
      );
    }
    return { ms };
  },
  async handler({ payload, signal, aliveWhile }) {
    signal.throwIfAborted();
    if (payload.ms > 0) {
      await aliveWhile(delay(payload.ms, { signal })).catch((error) => {
        throw signal.aborted ? signal.reason : error;
      });
    }
    return { sleptMs: payload.ms };
  },
});
