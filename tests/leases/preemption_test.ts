/**
 * A preemption in a running Runtime: the job is interrupted with `preempted by …`, and the
 * preemption is published on the `leases.preempted` topic, sent on the SSE event stream and
 * remembered for `leases`. Sanitizers on: nothing is left running.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../src/control/client.ts";
import { Runtime } from "../../src/runtime/mod.ts";
import type { RuntimeEventMap } from "../../src/runtime/events.ts";

Deno.test({
  name: "preempting a job's lease interrupts it with 'preempted by …', publishes and records it",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-preempt-" });
    const runtime = new Runtime({ workers: 2, socket: `${dir}/liminal.sock` });
    await runtime.start();
    const client = new ControlClient(`${dir}/liminal.sock`);
    const streamed: Record<string, unknown>[] = [];
    const stop = new AbortController();
    let open = false;
    const stream = (async () => {
      for await (const { event, data } of client.events({ events: ["lease:*"] }, stop.signal)) {
        if (event === "stream:open") open = true;
        if (event === "lease:preempted") streamed.push(data);
      }
    })().catch(() => {});
    try {
      while (!open) await new Promise((r) => setTimeout(r, 5));
      const published: { type: string; payload: unknown }[] = [];
      runtime.router.subscribe("leases.*", (m) => {
        published.push({ type: m.type, payload: m.payload });
      });
      const emitted: RuntimeEventMap["lease:preempted"][] = [];
      runtime.on("lease:preempted", (e) => emitted.push(e));
      const job = await runtime.executor.enqueue({
        kind: "sleep",
        payload: { ms: 30_000 },
        leases: ["db/app"],
        priority: "info",
      });
      const until = Date.now() + 5_000;
      while ((await runtime.executor.get(job.id))?.state !== "running") {
        assert.ok(Date.now() < until, "the job never started");
        await new Promise((r) => setTimeout(r, 10));
      }
      await runtime.leases.acquire("db/app", { holder: "ops", priority: "critical", ttl: "5m" });
      const stopped = Date.now() + 5_000;
      let record = await runtime.executor.get(job.id);
      while (record?.state === "running") {
        assert.ok(Date.now() < stopped, "the job was not interrupted");
        await new Promise((r) => setTimeout(r, 10));
        record = await runtime.executor.get(job.id);
      }
      assert.equal(record?.state, "queued", "interrupted and queued again");
      assert.match(record?.lastError?.message ?? "", /^preempted by ops \(critical\)/);
      while (published.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.equal(published[0]?.type, "lease.preempted");
      assert.deepEqual(
        (({ resource, holder, jobId, by }) => ({ resource, holder, jobId, by }))(
          published[0]?.payload as RuntimeEventMap["lease:preempted"],
        ),
        { resource: "db/app", holder: `job:${job.id}`, jobId: job.id, by: "ops" },
      );
      assert.equal(emitted.length, 1);
      assert.equal(emitted[0]?.by, "ops");
      assert.deepEqual(
        runtime.leases.recentPreemptions().map((p) => [p.resource, p.holder, p.by]),
        [["db/app", `job:${job.id}`, "ops"]],
      );
      while (streamed.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.equal(streamed[0]?.resource, "db/app");
      assert.equal(streamed[0]?.by, "ops", "the event stream carries it too");
      await runtime.executor.cancel(job.id);
      await runtime.leases.release("db/app", "ops");
    } finally {
      stop.abort();
      await stream;
      client.close();
      await runtime.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
