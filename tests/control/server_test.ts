/**
 * Route-level tests of the control server over a real socket, with the op and resource
 * sanitizers on: every connection is closed when the runtime is shut down.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../src/control/client.ts";
import { MAX_BODY_BYTES } from "../../src/control/server.ts";
import { Runtime } from "../../src/runtime/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

async function withRuntime(
  fn: (runtime: Runtime, client: ControlClient, socket: string) => Promise<void>,
  options: { grace?: string } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "liminal-srv-" });
  const socket = `${dir}/s/liminal.sock`;
  const runtime = new Runtime({ socket, workers: 2, ...options });
  await runtime.start();
  const client = new ControlClient(socket);
  try {
    await fn(runtime, client, socket);
  } finally {
    client.close();
    await runtime.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

async function raw(
  socket: string,
  method: string,
  path: string,
  body?: BodyInit,
): Promise<Response> {
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const response = await fetch(`http://liminal${path}`, {
      method,
      client: http,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return new Response(text, { status: response.status, headers: response.headers });
  } finally {
    http.close();
  }
}

Deno.test({
  name: "routes: status, kinds, enqueue, get, list, cancel, retry, wait",
  ...sanitized,
  fn: () =>
    withRuntime(async (_runtime, client, socket) => {
      const status = await client.status();
      assert.equal(status.state, "running");
      assert.equal(status.socket, socket);
      assert.deepEqual((await client.kinds()).map((k) => k.kind), [
        "backup",
        "command",
        "fail",
        "http-check",
        "lease-sweep",
        "prune-history",
        "sleep",
        "sqlite-checkpoint",
        "vacuum",
      ]);

      const { jobs: [created] } = await client.enqueue({ kind: "sleep", payload: { ms: 5 } });
      assert.equal(created!.created, true);
      const waited = await client.waitJobs([created!.id], "5s");
      assert.equal(waited.done, true);
      assert.equal(waited.jobs[0]!.state, "succeeded");
      assert.equal((await client.getJob(created!.id)).state, "succeeded");

      const batch = await client.enqueue({
        jobs: [{ kind: "sleep", delay: "1h" }, { kind: "sleep", delay: "1h" }],
      });
      assert.equal(batch.jobs.length, 2);
      const copies = await client.enqueue({ kind: "sleep", delay: "1h", count: 3 });
      assert.equal(new Set(copies.jobs.map((j) => j.id)).size, 3);
      assert.equal((await client.listJobs({ state: "scheduled" })).length, 5);
      assert.equal((await client.listJobs({ state: "scheduled", limit: 2 })).length, 2);

      const cancelled = await client.cancelJob(batch.jobs[0]!.id);
      assert.equal(cancelled.state, "cancelled");
      const retried = await client.retryJob(batch.jobs[0]!.id);
      assert.equal(retried.state, "queued");
      const notYet = await client.waitJobs([copies.jobs[0]!.id], "50ms");
      assert.equal(notYet.done, false);
      assert.equal(notYet.jobs[0]!.state, "scheduled");
    }),
});

Deno.test({
  name: "errors: JSON bodies with fitting statuses; nothing changes",
  ...sanitized,
  fn: () =>
    withRuntime(async (_runtime, client, socket) => {
      const check = async (response: Response, status: number, code: string, message?: RegExp) => {
        assert.equal(response.status, status);
        const body = await response.json();
        assert.equal(body.error.code, code);
        if (message) assert.match(body.error.message, message);
      };
      await check(await raw(socket, "GET", "/v1/nothing"), 404, "NOT_FOUND");
      const wrong = await raw(socket, "PUT", "/v1/jobs");
      assert.equal(wrong.headers.get("allow"), "GET, POST");
      await check(wrong, 405, "METHOD_NOT_ALLOWED");
      await check(
        await raw(socket, "POST", "/v1/jobs", '{"kind": "sleep" "payload": 1}'),
        400,
        "INVALID_JSON",
        /position 17/,
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", "x".repeat(MAX_BODY_BYTES + 1)),
        413,
        "PAYLOAD_TOO_LARGE",
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", '{"kind": "nope"}'),
        400,
        "UNKNOWN_JOB_KIND",
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", '{"kind": "sleep", "prio": "info"}'),
        400,
        "INVALID_ARGUMENT",
        /did you mean "priority"/,
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", '{"kind": "sleep", "priority": "high"}'),
        400,
        "INVALID_PRIORITY",
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", '{"kind": "sleep", "count": 0}'),
        400,
        "INVALID_ARGUMENT",
      );
      await check(await raw(socket, "POST", "/v1/jobs", "[1, 2]"), 400, "INVALID_ARGUMENT");
      await check(await raw(socket, "GET", "/v1/jobs/abc"), 400, "INVALID_ARGUMENT");
      await check(await raw(socket, "GET", "/v1/jobs?state=done"), 400, "INVALID_ARGUMENT");
      await check(
        await raw(socket, "GET", "/v1/jobs?state=failed"),
        400,
        "INVALID_ARGUMENT",
        /"failed" is how an attempt ends, not a state a job rests in: .* is "dead"/,
      );
      await check(
        await raw(socket, "GET", "/v1/jobs/01890000-0000-7000-8000-000000000000"),
        404,
        "JOB_NOT_FOUND",
      );
      await check(
        await raw(socket, "POST", "/v1/jobs", new Uint8Array([0xff, 0xfe, 0x00])),
        400,
        "INVALID_JSON",
      );
      assert.equal((await client.status()).executor.totals.enqueued, 0);
      await assert.rejects(
        client.getJob("01890000-0000-7000-8000-000000000000"),
        (e) => isLiminalError(e, "JOB_NOT_FOUND"),
      );
    }),
});

Deno.test({
  name: "events: the stream opens, carries job events, and ends at shutdown with the phases",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-sse-" });
    const socket = `${dir}/liminal.sock`;
    const runtime = new Runtime({ socket, grace: "5s" });
    await runtime.start();
    const client = new ControlClient(socket);
    const seen: string[] = [];
    const stream = (async () => {
      for await (const { event, data } of client.events()) {
        if (event === "shutdown:phase") seen.push(`${event} ${data.index} ${data.status}`);
        else if (event === "job:dead") seen.push(`${event} ${data.kind} ${data.reason}`);
        else seen.push(event);
      }
    })();
    while (!seen.includes("stream:open")) await new Promise((r) => setTimeout(r, 5));
    const { jobs: [job] } = await client.enqueue({ kind: "sleep", payload: { ms: 50 } });
    await client.waitJobs([job!.id], "5s");
    const { jobs: [doomed] } = await client.enqueue({
      kind: "fail",
      payload: { message: "disk on fire" },
      attempts: 1,
    });
    await client.waitJobs([doomed!.id], "5s");
    while (!seen.some((e) => e.startsWith("job:dead"))) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const shuttingDown = runtime.shutdown();
    await stream;
    await shuttingDown;
    client.close();
    assert.deepEqual(seen.slice(0, 4), [
      "stream:open",
      "job:enqueued",
      "job:started",
      "job:succeeded",
    ]);
    assert.deepEqual(
      seen.slice(4, 8),
      ["job:enqueued", "job:started", "job:failed", "job:dead fail exhausted"],
      "a job that will not run again streams job:dead after its failed attempt",
    );
    for (const phase of ["1 finished", "2 finished", "3 finished", "4 finished", "5 started"]) {
      assert.ok(seen.includes(`shutdown:phase ${phase}`), `saw phase ${phase}: ${seen.join(", ")}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "during shutdown, calls that change something get 503 RUNTIME_SHUTTING_DOWN",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-503-" });
    const socket = `${dir}/liminal.sock`;
    const runtime = new Runtime({ socket, grace: "5s" });
    await runtime.start();
    const client = new ControlClient(socket);
    await client.enqueue({ kind: "sleep", payload: { ms: 300 } });
    await new Promise((r) => setTimeout(r, 30));
    const shuttingDown = runtime.shutdown();
    await assert.rejects(
      client.enqueue({ kind: "sleep" }),
      (e) => isLiminalError(e, "RUNTIME_SHUTTING_DOWN"),
    );
    const response = await raw(socket, "POST", "/v1/jobs", '{"kind":"sleep"}');
    assert.equal(response.status, 503);
    await response.body?.cancel();
    assert.equal((await client.status()).state, "stopping", "reading still works");
    await shuttingDown;
    client.close();
    await assert.rejects(Deno.stat(socket), Deno.errors.NotFound);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a second runtime on a live socket is refused with CONFLICT; a stale one is replaced",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-conf-" });
    const socket = `${dir}/liminal.sock`;
    const { probeSocket } = await import("../../src/control/socket.ts");
    // A stale socket: bound, then its listener gone without removing the file.
    const listener = Deno.listen({ transport: "unix", path: socket });
    const copy = `${dir}/stale.sock`;
    await Deno.link(socket, copy);
    listener.close();
    assert.deepEqual(await probeSocket(copy), { kind: "stale" });
    await Deno.rename(copy, socket);
    const runtime = new Runtime({ socket });
    await runtime.start();
    assert.deepEqual(await probeSocket(socket), { kind: "live", pid: Deno.pid });
    await runtime.shutdown();
    await Deno.writeTextFile(socket, "not a socket");
    const other = new Runtime({ socket });
    await assert.rejects(
      other.start(),
      (e) => isLiminalError(e, "INVALID_ARGUMENT") && /not a socket/.test(e.message),
    );
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "a full disk refuses enqueues with 507 STORE_FULL while the runtime keeps running",
  ...sanitized,
  async fn() {
    const { SqliteStore } = await import("../../src/store/mod.ts");
    const dir = await Deno.makeTempDir({ prefix: "liminal-full-" });
    const socket = `${dir}/liminal.sock`;
    const store = new SqliteStore({ path: `${dir}/small.db`, maxSizeBytes: 200 * 1024 });
    const runtime = new Runtime({ socket, store });
    await runtime.start();
    runtime.executor.pause();
    const client = new ControlClient(socket);
    let accepted = 0;
    let refusal: unknown = null;
    for (let i = 0; i < 500 && refusal === null; i++) {
      try {
        const { jobs } = await client.enqueue({
          kind: "command",
          payload: { cmd: ["true"], env: { PAD: "x".repeat(2000) } },
          count: 5,
        });
        accepted += jobs.length;
      } catch (error) {
        refusal = error;
      }
    }
    assert.ok(isLiminalError(refusal, "STORE_FULL"), `expected STORE_FULL, got ${refusal}`);
    assert.equal((refusal as { exitCode: number }).exitCode, 1);
    const status = await client.status();
    assert.equal(status.state, "running");
    assert.equal(
      status.executor.queue.byState.queued,
      accepted,
      "every accepted job is still there",
    );
    client.close();
    await runtime.shutdown();
    await Deno.remove(dir, { recursive: true });
  },
});
