/**
 * The control server's batch waits and event stream over a real socket, with the op and
 * resource sanitizers on: a wait by batch id follows more jobs than a request body of ids
 * could carry; the event stream outlives the socket until the shutdown report; events carry
 * ids and a reconnect with `Last-Event-ID` gets what it missed.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../src/control/client.ts";
import { MAX_HELD_BYTES, REPLAY_CAPACITY } from "../../src/control/events.ts";
import { MAX_BODY_BYTES } from "../../src/control/server.ts";
import { Runtime } from "../../src/runtime/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

async function withRuntime(
  fn: (runtime: Runtime, client: ControlClient, socket: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "liminal-batch-" });
  const socket = `${dir}/liminal.sock`;
  const runtime = new Runtime({ socket, workers: 4 });
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

Deno.test({
  name: "wait by batch: more jobs than a body of ids can carry, followed to the end",
  ...sanitized,
  fn: () =>
    withRuntime(async (runtime, client) => {
      // More ids than fit in one request body: the old wait (every id sent) was refused.
      const count = Math.ceil(MAX_BODY_BYTES / 38) + 1000;
      runtime.executor.pause();
      const { jobs, batch } = await client.enqueue({ kind: "sleep", payload: { ms: 0 }, count });
      assert.equal(jobs.length, count);
      assert.ok(batch, "the enqueue names its batch");
      await assert.rejects(
        client.waitJobs(jobs.map((j) => j.id), "1ms"),
        (e) => isLiminalError(e, "PAYLOAD_TOO_LARGE"),
        "every id does not fit in a request",
      );
      const paused = await client.waitBatch(batch!, "50ms");
      assert.equal(paused.done, false);
      assert.equal(paused.finished, 0);
      assert.equal(paused.total, count);
      assert.equal(paused.jobs, null, "a large batch's jobs come only at the end");
      runtime.executor.resume();
      let answer = paused;
      while (!answer.done) answer = await client.waitBatch(batch!, "30s");
      assert.equal(answer.finished, count);
      assert.deepEqual(answer.states, { succeeded: count });
      assert.equal(answer.jobs!.length, count);
      assert.deepEqual(answer.jobs!.map((j) => j.id), jobs.map((j) => j.id), "in enqueue order");
      assert.ok(answer.jobs!.every((j) => j.state === "succeeded"));
    }),
});

Deno.test({
  name: "wait by batch: a small batch shows its jobs all along; an unknown batch is NOT_FOUND",
  ...sanitized,
  fn: () =>
    withRuntime(async (_runtime, client) => {
      const { batch } = await client.enqueue({ kind: "sleep", delay: "1h", count: 3 });
      const answer = await client.waitBatch(batch!, "10ms");
      assert.equal(answer.done, false);
      assert.deepEqual(answer.jobs!.map((j) => j.state), ["scheduled", "scheduled", "scheduled"]);
      for (const job of answer.jobs!) await client.cancelJob(job.id);
      const ended = await client.waitBatch(batch!, "5s");
      assert.equal(ended.done, true);
      assert.deepEqual(ended.states, { cancelled: 3 });
      await assert.rejects(
        client.waitBatch("01a2b3c4-0000-7000-8000-000000000000", "1ms"),
        (e) => isLiminalError(e, "NOT_FOUND") && /no batch/.test(e.message),
      );
    }),
});

Deno.test({
  name: "events: the stream outlives the socket (phase 5) and ends with the shutdown report",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-report-" });
    const socket = `${dir}/liminal.sock`;
    const runtime = new Runtime({ socket });
    await runtime.start();
    const client = new ControlClient(socket);
    const seen: string[] = [];
    let report: Record<string, unknown> | null = null;
    const stream = (async () => {
      for await (const { event, data } of client.events({ events: ["shutdown:*"] })) {
        if (event === "shutdown:phase") seen.push(`${data.index} ${data.status}`);
        else if (event === "shutdown:report") report = data;
        else seen.push(event);
      }
    })();
    while (!seen.includes("stream:open")) await new Promise((r) => setTimeout(r, 5));
    const final = await runtime.shutdown();
    await stream;
    client.close();
    assert.ok(seen.includes("5 finished"), seen.join(", "));
    assert.ok(seen.includes("6 finished"), "the phase after the socket closed");
    assert.deepEqual(report, JSON.parse(JSON.stringify(final)));
    await assert.rejects(Deno.stat(socket), Deno.errors.NotFound);
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "events: Last-Event-ID replays the held events after it; a gap event says what is lost",
  ...sanitized,
  fn: () =>
    withRuntime(async (runtime, client) => {
      const read = async (lastEventId: string | undefined, until: (event: string) => boolean) => {
        const stop = new AbortController();
        const frames: { id: string | null; event: string; data: Record<string, unknown> }[] = [];
        for await (const frame of client.events({ events: ["job:*"] }, stop.signal, lastEventId)) {
          frames.push(frame);
          if (until(frame.event)) stop.abort();
        }
        return frames;
      };
      // The stream names this run: its ids are `<run>-<n>`, `<run>-0` is before the first.
      const [open] = await read(undefined, (e) => e === "stream:open");
      const run = String(open!.data.run);
      assert.match(run, /^[0-9a-z]+$/);
      runtime.executor.pause();
      const { jobs: [job] } = await client.enqueue({ kind: "sleep", delay: "1h" });
      await client.cancelJob(job!.id);
      // Both events are held: a reconnect from before them gets them, with their ids.
      const all = await read(`${run}-0`, (e) => e === "job:cancelled");
      assert.deepEqual(all.map((f) => f.event), ["stream:open", "job:enqueued", "job:cancelled"]);
      const [, enqueued, cancelled] = all;
      const seq = (id: string | null) => Number(id!.slice(run.length + 1));
      assert.ok(enqueued!.id!.startsWith(`${run}-`) && cancelled!.id!.startsWith(`${run}-`));
      assert.ok(seq(cancelled!.id) > seq(enqueued!.id));
      const after = await read(enqueued!.id!, (e) => e === "job:cancelled");
      assert.deepEqual(after.map((f) => [f.event, f.id]), [
        ["stream:open", null],
        ["job:cancelled", cancelled!.id],
      ]);

      // More events than the hub holds: the oldest are gone, and the stream says how many.
      const count = REPLAY_CAPACITY + 100;
      await client.enqueue({ kind: "sleep", delay: "1h", count });
      const gapped = await read(enqueued!.id!, (e) => e === "gap");
      const gap = gapped.find((f) => f.event === "gap")!;
      assert.equal(gap.data.after, enqueued!.id);
      assert.ok(Number(gap.data.lost) >= 100, `lost ${gap.data.lost}`);
      assert.match(String(gap.data.message), /no longer held/);
    }),
});

Deno.test({
  name: "events: a router event too large to keep is sent live, and a replay over it says so",
  ...sanitized,
  fn: () =>
    withRuntime(async (_runtime, client) => {
      const stop = new AbortController();
      const live: { id: string | null; event: string }[] = [];
      const big = "x".repeat(MAX_HELD_BYTES);
      const tail = (async () => {
        for await (const frame of client.events({ events: ["message:*"] }, stop.signal)) {
          live.push(frame);
          if (frame.event === "stream:open") {
            await client.sendMessage({ to: "jobs.nobody", type: "small", payload: "hi" }).catch(
              () => {},
            );
            await client.sendMessage({ to: "jobs.nobody", type: "big", payload: big }).catch(
              () => {},
            );
          }
          if (live.filter((f) => f.event === "message:dead-lettered").length === 2) stop.abort();
        }
      })();
      await tail;
      const first = live.find((f) => f.event === "message:sent")!;
      assert.ok(live.length >= 5, live.map((f) => f.event).join(", "));
      const replay = new AbortController();
      const timer = setTimeout(() => replay.abort(), 3_000);
      const replayed: { event: string; data: Record<string, unknown> }[] = [];
      for await (
        const frame of client.events({ events: ["message:*"] }, replay.signal, first.id!)
      ) {
        replayed.push(frame);
        if (replayed.filter((f) => f.event === "gap").length === 2) replay.abort();
      }
      clearTimeout(timer);
      const gaps = replayed.filter((f) => f.event === "gap");
      assert.equal(gaps.length, 2, "the big message's sent and dead-lettered events");
      assert.ok(gaps.every((g) => /too large to keep/.test(String(g.data.message))));
      assert.ok(
        replayed.some((f) => f.event === "message:dead-lettered"),
        "the small message's events are replayed",
      );
    }),
});

Deno.test({
  name:
    "events: a Last-Event-ID from an earlier run of the runtime gets a gap (lost: null), not this run's events",
  ...sanitized,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-rerun-" });
    const socket = `${dir}/liminal.sock`;
    type Frame = { id: string | null; event: string; data: Record<string, unknown> };
    const read = async (
      client: ControlClient,
      lastEventId: string | undefined,
      until: (frames: Frame[]) => boolean,
    ) => {
      const stop = new AbortController();
      const frames: Frame[] = [];
      for await (const frame of client.events({ events: ["job:*"] }, stop.signal, lastEventId)) {
        frames.push(frame);
        if (until(frames)) stop.abort();
      }
      return frames;
    };
    const enqueueSome = async (runtime: Runtime, client: ControlClient, count: number) => {
      runtime.executor.pause();
      const { jobs } = await client.enqueue({ kind: "sleep", delay: "1h", count });
      for (const job of jobs) await client.cancelJob(job.id);
      return jobs.map((j) => j.id);
    };
    try {
      // First run: a client sees a few events and keeps the last id.
      let runtime = new Runtime({ socket });
      await runtime.start();
      let client = new ControlClient(socket);
      let opened = false;
      const live = read(client, undefined, (f) => {
        opened = true;
        return f.some((e) => e.event === "job:cancelled");
      });
      while (!opened) await new Promise((r) => setTimeout(r, 5));
      await enqueueSome(runtime, client, 1);
      const seen = await live;
      const lastId = seen.findLast((f) => f.id !== null)?.id;
      assert.ok(lastId, "the first run's events have ids");
      client.close();
      await runtime.shutdown();

      // Second run on the same socket: more events than the first run had, so a sequence
      // that started again at 1 would pass the old id.
      runtime = new Runtime({ socket });
      await runtime.start();
      client = new ControlClient(socket);
      try {
        await enqueueSome(runtime, client, 5);
        const replayed = await read(
          client,
          lastId,
          (f) => f.some((e) => e.event === "gap" || e.event.startsWith("job:")),
        );
        const gap = replayed.find((f) => f.event === "gap");
        assert.ok(gap, `a gap event, got ${replayed.map((f) => f.event).join(", ")}`);
        assert.equal(gap.data.after, lastId);
        assert.equal(gap.data.lost, null);
        assert.match(String(gap.data.message), /not this runtime's/);
        assert.ok(
          !replayed.some((f) => f.event.startsWith("job:")),
          "no event of the new run is passed off as following the old id",
        );
      } finally {
        client.close();
        await runtime.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
