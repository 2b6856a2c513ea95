/**
 * Built-in kinds that act on the runtime itself: `prune-history` (retention of finished
 * jobs) and `lease-sweep` (expired territory leases). The runtime makes them with its own
 * parts.
 *
 * @module
 */
import { defineJob, type JobKind } from "../executor/job_kind.ts";
import { parseDuration } from "../shared/duration.ts";
import { objectPayload } from "./_payload.ts";

/** What the runtime hands these kinds. */
export interface RuntimeJobServices {
  prune(options: { olderThanMs?: number; keep?: number }): Promise<number>;
  sweepLeases(): Promise<{ resource: string; holder: string }[]>;
}

/** `prune-history` and `lease-sweep`, bound to a runtime. */
export function runtimeJobs(services: RuntimeJobServices): JobKind[] {
  const pruneHistory = defineJob({
    kind: "prune-history",
    description:
      'removes finished jobs: { "olderThan"?: "7d", "keep"?: 100000 } (default: the retention policy)',
    defaults: { priority: "info", timeout: "10m", concurrency: 1 },
    validate(payload) {
      const p = objectPayload(payload ?? {}, ["olderThan", "keep"], '{ "olderThan": "7d" }');
      const out: { olderThanMs?: number; keep?: number } = {};
      if (p.olderThan !== undefined) {
        out.olderThanMs = parseDuration(p.olderThan as string, "olderThan");
      }
      if (p.keep !== undefined) {
        if (typeof p.keep !== "number" || !Number.isInteger(p.keep) || p.keep < 0) {
          throw new Error('"keep" must be a whole number');
        }
        out.keep = p.keep;
      }
      return out;
    },
    async handler({ payload, signal }) {
      signal.throwIfAborted();
      return { removed: await services.prune(payload) };
    },
  });
  const leaseSweep = defineJob({
    kind: "lease-sweep",
    description: "releases territory leases whose time is up",
    defaults: { priority: "coordinate", timeout: "1m", concurrency: 1 },
    validate(payload) {
      objectPayload(payload ?? {}, [], "{}");
      return {};
    },
    async handler({ signal }) {
      signal.throwIfAborted();
      const expired = await services.sweepLeases();
      return { expired: expired.map((l) => ({ resource: l.resource, holder: l.holder })) };
    },
  });
  return [pruneHistory, leaseSweep] as JobKind[];
}
