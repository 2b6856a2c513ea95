/**
 * The runtime as the control server sees it: a {@link ControlTarget} over the runtime's
 * parts. The control plane imports only this interface's shared vocabulary; here the runtime
 * plugs its executor, store, scheduler, leases and router in (the way the executor sees
 * leases through a `LeaseGate`).
 *
 * @module
 */
import type {
  ControlJobs,
  ControlLeases,
  ControlRouter,
  ControlSchedules,
  ControlTarget,
  LeaseGrant,
} from "../control/target.ts";
import { isPreemptible } from "../leases/territory_leases.ts";
import { defineSchedule, type ScheduleOptions } from "../scheduler/schedule.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import type { LeaseRecord } from "../store/types.ts";
import type { Runtime } from "./runtime.ts";

function grant(lease: LeaseRecord): LeaseGrant {
  return {
    resource: lease.resource,
    holder: lease.holder,
    priority: lease.priority,
    jobId: lease.jobId,
    acquiredAt: lease.acquiredAt,
    expiresAt: lease.expiresAt,
    preemptible: isPreemptible(lease),
  };
}

/** The control target of `runtime`: its public verbs, nothing of its parts' classes. */
export function controlTarget(runtime: Runtime): ControlTarget {
  const executor = runtime.executor;
  const store = runtime.store;
  const scheduler = runtime.scheduler;
  const leases = runtime.leases;
  const router = runtime.router;

  const jobs: ControlJobs = {
    get intake() {
      return executor.intake;
    },
    on: (event, listener) => executor.on(event, listener),
    once: (event, listener) => executor.once(event, listener),
    kinds: () => executor.kinds,
    enqueueMany: (specs) => executor.enqueueMany(specs),
    get: (id) => store.get(id),
    list: (filter) => store.list(filter),
    findIdsByTail: (tail, limit) => store.findIdsByTail(tail, limit),
    waitFor: (id, signal) => executor.waitFor(id, signal),
    explain: (id) => executor.explain(id),
    cancel: (id) => executor.cancel(id),
    retry: (id) => executor.retry(id),
    pause: () => executor.pause(),
    resume: () => executor.resume(),
    histograms: (boundsMs) => executor.histograms(boundsMs),
  };

  const schedules: ControlSchedules = {
    list: () => scheduler.list(),
    get: (name) => scheduler.get(name),
    add: (options) => {
      let definition;
      try {
        definition = defineSchedule(options as unknown as ScheduleOptions);
      } catch (error) {
        if (error instanceof LiminalError) throw error;
        throw new LiminalError("INVALID_ARGUMENT", errorMessage(error));
      }
      return scheduler.add(definition);
    },
    remove: (name) => scheduler.remove(name),
    pause: (name) => scheduler.pause(name),
    resume: (name) => scheduler.resume(name),
    trigger: (name) => scheduler.trigger(name),
  };

  const leaseVerbs: ControlLeases = {
    snapshot: () => runtime.leaseSnapshot(),
    recentPreemptions: () => leases.recentPreemptions(),
    get: (resource) => {
      const lease = leases.get(resource);
      return lease === undefined ? undefined : grant(lease);
    },
    acquire: async (resource, ask) => grant(await leases.acquire(resource, ask)),
    acquireOrWait: async (resource, ask, signal) =>
      grant(await leases.acquireOrWait(resource, ask, signal)),
    release: async (resource, holder) => grant(await leases.release(resource, holder)),
    renew: async (resource, holder, ttl) => grant(await leases.renew(resource, holder, ttl)),
  };

  const messages: ControlRouter = {
    on: (event, listener) => router.on(event, listener),
    once: (event, listener) => router.once(event, listener),
    snapshot: () => router.snapshot(),
    send: (to, type, payload, options) => router.send(to, type, payload, options),
    deadLetters: (query) => router.deadLetters(query),
    replay: (id) => router.replay(id),
  };

  return {
    get state() {
      return runtime.state;
    },
    on: (event, listener) => runtime.on(event, listener),
    once: (event, listener) => runtime.once(event, listener),
    jobs,
    schedules,
    leases: leaseVerbs,
    router: messages,
    get sharedStore() {
      return typeof store.nodes === "function";
    },
    get nodeId() {
      return store.nodeId ?? "local";
    },
    nodes: () => runtime.nodes(),
    forgetNode: (id) => {
      if (typeof store.forgetNode !== "function") {
        return Promise.reject(
          new LiminalError(
            "INVALID_ARGUMENT",
            `no node ${id} to forget: this runtime's store is not shared (no other node uses it)`,
            { hint: "only a postgres store is shared by several runtimes" },
          ),
        );
      }
      return store.forgetNode(id);
    },
    snapshot: () => runtime.snapshot(),
    shutdown: (options) => runtime.shutdown(options),
    prune: (options) => runtime.prune(options),
  };
}
