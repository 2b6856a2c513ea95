/**
 * The control server serves a `ControlTarget` (src/control/target.ts), not the runtime: here a
 * hand-built target, with no runtime, executor, store or socket behind it. The routes parse
 * their bodies, call the target's verbs, and answer as they do for the real runtime.
 */
import assert from "node:assert/strict";
import { ControlServer } from "../../src/control/server.ts";
import type { ControlTarget, LeaseGrant } from "../../src/control/target.ts";
import { Emitter } from "../../src/shared/emitter.ts";
import { LiminalError } from "../../src/shared/errors.ts";
import type { ExecutorEventMap, RouterEventMap, RuntimeEventMap } from "../../src/shared/events.ts";
import type { JobRecord } from "../../src/shared/job.ts";
import type { JobSpec } from "../../src/shared/job_spec.ts";
import type { RuntimeState } from "../../src/shared/snapshot.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

function fake() {
  const calls: string[] = [];
  const enqueued: JobSpec[] = [];
  const scheduled: unknown[] = [];
  const runtimeEvents = new Emitter<RuntimeEventMap>();
  const jobEvents = new Emitter<ExecutorEventMap>();
  const routerEvents = new Emitter<RouterEventMap>();
  let state: RuntimeState = "running";
  const lease = (expiresAt: number): LeaseGrant => ({
    resource: "db/orders",
    holder: "ops",
    priority: "coordinate",
    jobId: null,
    acquiredAt: 1_000,
    expiresAt,
    preemptible: false,
  });
  const unused = (name: string) => () => {
    throw new Error(`${name} is not used here`);
  };
  const target: ControlTarget = {
    get state() {
      return state;
    },
    on: (event, listener) => runtimeEvents.on(event, listener),
    once: (event, listener) => runtimeEvents.once(event, listener),
    jobs: {
      intake: "open",
      on: (event, listener) => jobEvents.on(event, listener),
      once: (event, listener) => jobEvents.once(event, listener),
      kinds: () => [
        {
          kind: "zeta",
          description: "last",
          defaults: {
            priority: "info",
            timeoutMs: null,
            maxAttempts: 3,
            backoff: { baseMs: 1_000, maxMs: 300_000 },
            concurrency: null,
            killAfterMs: null,
          },
        },
        {
          kind: "alpha",
          description: "first",
          defaults: {
            priority: "critical",
            timeoutMs: 5_000,
            maxAttempts: 1,
            backoff: { baseMs: 1_000, maxMs: 300_000 },
            concurrency: 2,
            killAfterMs: null,
          },
        },
      ],
      enqueueMany: (specs) => {
        enqueued.push(...specs);
        return Promise.resolve(specs.map((s, i) => ({
          id: `0190f2a4-0000-7000-8000-00000000000${i}`,
          kind: s.kind,
          created: true,
          state: "queued" as const,
        })));
      },
      get: (): Promise<JobRecord | null> => Promise.resolve(null),
      list: unused("list"),
      findIdsByTail: unused("findIdsByTail"),
      waitFor: unused("waitFor"),
      explain: unused("explain"),
      cancel: unused("cancel"),
      retry: unused("retry"),
      pause: () => calls.push("pause"),
      resume: () => calls.push("resume"),
      histograms: unused("histograms"),
    },
    schedules: {
      list: () => Promise.resolve([]),
      get: unused("get"),
      add: (options) => {
        scheduled.push(options);
        return Promise.reject(new Error("stop here"));
      },
      remove: unused("remove"),
      pause: unused("pause"),
      resume: unused("resume"),
      trigger: unused("trigger"),
    },
    leases: {
      snapshot: () => [],
      recentPreemptions: () => [],
      get: () => lease(90_000),
      acquire: unused("acquire"),
      acquireOrWait: unused("acquireOrWait"),
      release: unused("release"),
      renew: (_resource, _holder, ttl) => {
        calls.push(`renew ${ttl}`);
        return Promise.resolve(lease(60_000));
      },
    },
    router: {
      on: (event, listener) => routerEvents.on(event, listener),
      once: (event, listener) => routerEvents.once(event, listener),
      snapshot: unused("snapshot"),
      send: unused("send"),
      deadLetters: unused("deadLetters"),
      replay: unused("replay"),
    },
    sharedStore: false,
    nodeId: "local",
    nodes: () => Promise.resolve([]),
    forgetNode: (id) => {
      calls.push(`forget ${id}`);
      return id === "alive"
        ? Promise.reject(new LiminalError("CONFLICT", "node alive is alive"))
        : Promise.resolve();
    },
    snapshot: unused("snapshot"),
    shutdown: unused("shutdown"),
    prune: unused("prune"),
  };
  return { target, calls, enqueued, scheduled, stop: () => (state = "stopping") };
}

async function call(
  server: ControlServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await server.handle(
    new Request(`http://liminal${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  return { status: response.status, headers: response.headers, body: await response.json() };
}

Deno.test({
  name: "the server drives a hand-built ControlTarget: no runtime behind it",
  ...sanitized,
  fn: async () => {
    const { target, calls, enqueued, scheduled, stop } = fake();
    const server = new ControlServer(target, { path: "/nonexistent/liminal.sock" });
    try {
      const kinds = await call(server, "GET", "/v1/kinds");
      assert.deepEqual(
        (kinds.body.kinds as { kind: string }[]).map((k) => k.kind),
        ["alpha", "zeta"],
      );

      const made = await call(server, "POST", "/v1/jobs", { kind: "alpha", count: 2 });
      assert.equal(made.status, 201);
      assert.equal(typeof made.body.batch, "string");
      assert.deepEqual(enqueued, [{ kind: "alpha" }, { kind: "alpha" }]);

      // A bad body: 400 naming the field, and the target is not called.
      const bad = await call(server, "POST", "/v1/jobs", { kind: "alpha", prioirty: "info" });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /unknown field \\"prioirty\\"; did you mean/);
      assert.equal(enqueued.length, 2);

      await call(server, "POST", "/v1/schedules", { name: "nightly", every: "1d" });
      assert.deepEqual(scheduled, [{ name: "nightly", every: "1d" }]);

      const renewed = await call(server, "POST", "/v1/leases/renew", {
        resource: "db/orders",
        holder: "ops",
        ttl: "1m",
      });
      assert.equal(renewed.status, 200);
      assert.equal(renewed.body.shortened, true);
      assert.equal(renewed.body.previousExpiresAt, new Date(90_000).toISOString());
      assert.deepEqual(calls, ["renew 1m"]);

      assert.deepEqual((await call(server, "POST", "/v1/intake", { paused: true })).body, {
        intake: "open",
      });
      assert.deepEqual(calls, ["renew 1m", "pause"]);

      assert.deepEqual((await call(server, "GET", "/v1/nodes")).body, {
        shared: false,
        self: "local",
        nodes: [],
      });
      assert.deepEqual((await call(server, "DELETE", "/v1/nodes/web%202")).body, {
        forgotten: "web 2",
      });
      const alive = await call(server, "DELETE", "/v1/nodes/alive");
      assert.equal(alive.status, 409);
      assert.equal((alive.body.error as { code: string }).code, "CONFLICT");
      assert.deepEqual(calls, ["renew 1m", "pause", "forget web 2", "forget alive"]);

      const wrong = await call(server, "DELETE", "/v1/jobs/wait");
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get("allow"), "POST, GET");

      const index = await call(server, "GET", "/");
      // Every route is listed (as today: the pattern's source, slashes escaped).
      const routes = index.body.routes as string[];
      assert.equal(routes.length, 33);
      assert.ok(routes.some((r) => /^POST .*leases.*acquire$/.test(r)), routes.join("\n"));

      // Not started: no event hub yet.
      assert.equal((await call(server, "GET", "/v1/events")).status, 503);

      stop();
      const late = await call(server, "POST", "/v1/jobs", { kind: "alpha" });
      assert.equal(late.status, 503);
      assert.equal((late.body.error as { code: string }).code, "RUNTIME_SHUTTING_DOWN");
      assert.equal(enqueued.length, 2);
    } finally {
      await server.close();
    }
  },
});
