/**
 * Fairness under flood, in simulated time: one sender floods `info` while another sends
 * `critical`. Nothing here measures real time.
 *
 * Target: with a worker that takes 5 ms per message and thousands of `info` messages queued
 * ahead, a `critical` message waits at most for the message already in the handler: p99
 * under 10 ms of simulated time. The flooder gets exactly its token budget
 * (`capacity + refill × seconds`), waits for the rest, and loses nothing.
 */
import assert from "node:assert/strict";
import {
  type RouterOptions,
  type RouterSnapshot,
  UnifiedMessageRouter,
} from "../../src/router/mod.ts";
import { isLiminalError } from "../../src/shared/errors.ts";
import { installFakeTime } from "../_support/fake_time.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface FloodResult {
  /** Taken at the end of the run, under the fake clock. */
  snapshot: RouterSnapshot;
  /** Flood sends that passed the bucket (and were queued). */
  floodAdmitted: number;
  alarmsSent: number;
  handled: { info: number; critical: number };
}

/**
 * Runs `seconds` of simulated time: `loops` concurrent loops of sender "flood" send `info`
 * as fast as their sends resolve; sender "alarm" sends a `critical` every `alarmEveryMs`.
 * The worker spends `workMs` per message.
 */
async function flood(
  options: RouterOptions,
  { seconds, loops, alarmEveryMs, workMs }: {
    seconds: number;
    loops: number;
    alarmEveryMs: number;
    workMs: number;
  },
): Promise<FloodResult> {
  using clock = installFakeTime();
  const router = new UnifiedMessageRouter(options);
  const handled = { info: 0, critical: 0 };
  router.register("worker", {
    handler: async (m) => {
      await sleep(workMs);
      if (m.priority === "critical") handled.critical++;
      else handled.info++;
    },
  });
  router.start();
  let stop = false;
  let floodAdmitted = 0;
  let alarmsSent = 0;
  const flooders = Array.from({ length: loops }, async () => {
    while (!stop) {
      try {
        await router.send("worker", "event", { at: Date.now() }, {
          from: "flood",
          priority: "info",
        });
        floodAdmitted++;
      } catch (error) {
        if (!isLiminalError(error, "ROUTER_CLOSED")) throw error;
      }
    }
  });
  const alarm = (async () => {
    while (!stop) {
      await router.send("worker", "alarm", { at: Date.now() }, {
        from: "alarm",
        priority: "critical",
      });
      alarmsSent++;
      await sleep(alarmEveryMs);
    }
  })();
  await clock.tickAsync(seconds * 1_000);
  stop = true;
  const closing = router.close({ graceMs: 0 });
  await clock.tickAsync(Math.max(workMs, alarmEveryMs)); // the last sleeps end
  await closing;
  await Promise.all([...flooders, alarm]);
  return { snapshot: router.snapshot(), floodAdmitted, alarmsSent, handled };
}

Deno.test("fairness: critical messages keep p99 under 10 ms (simulated) while info floods", async () => {
  const seconds = 10;
  const { snapshot, floodAdmitted, alarmsSent, handled } = await flood(
    {
      tokens: { capacity: 1_000, refillPerSecond: 300 },
      mailbox: { info: { capacity: 10_000 } },
    },
    { seconds, loops: 20, alarmEveryMs: 500, workMs: 5 },
  );
  const critical = snapshot.latency.critical;
  const info = snapshot.latency.info;

  // Every alarm was handed over, each within one message's work of its send.
  assert.equal(alarmsSent, seconds * 2 + 1); // at 0, 500, …, 10 000 ms
  // The one sent as the run ends may still wait for the message in the handler.
  assert.ok(critical.count >= alarmsSent - 1, `${critical.count} handed over`);
  assert.ok(critical.p99! < 10, `critical p99 ${critical.p99} ms`);
  assert.ok(critical.max! <= 5 + 0.1, `critical max ${critical.max} ms`);
  assert.ok(handled.critical >= alarmsSent - 1);
  // …while the info backlog was deep: info waited seconds.
  assert.ok(info.p50! > 1_000, `info p50 ${info.p50} ms`);
  assert.ok(snapshot.endpoints[0]!.depth.info === 0, "dead-lettered at close");
  assert.ok(snapshot.totals.dead > 1_000, `dead ${snapshot.totals.dead}`);

  // The flooder got its budget and no more, and waited for the rest.
  const budget = 1_000 + 300 * seconds;
  assert.ok(floodAdmitted <= budget, `flood admitted ${floodAdmitted} > ${budget}`);
  assert.ok(floodAdmitted >= budget - 20, `flood admitted ${floodAdmitted} < ${budget - 20}`);
  const flooder = snapshot.senders.find((s) => s.sender === "flood")!;
  const alarmSender = snapshot.senders.find((s) => s.sender === "alarm")!;
  assert.ok(flooder.throttled > 1_000, `flood throttled ${flooder.throttled}`);
  assert.equal(alarmSender.throttled, 0, "the alarm sender never waited");
  // Nothing disappeared: every message is in a final state.
  const t = snapshot.totals;
  assert.equal(t.pending, 0);
  assert.equal(t.sent, t.delivered + t.expired + t.rejected + t.dead);
  assert.equal(t.rejected, 0);
});

Deno.test("fairness: with the default buckets a flooder gets 200 + 60 a second", async () => {
  const seconds = 5;
  const { snapshot, floodAdmitted, alarmsSent } = await flood({}, {
    seconds,
    loops: 5,
    alarmEveryMs: 2_000,
    workMs: 1,
  });
  const budget = 200 + 60 * seconds;
  assert.ok(floodAdmitted <= budget && floodAdmitted >= budget - 5, `admitted ${floodAdmitted}`);
  assert.equal(snapshot.totals.rejected, 0, "the flooder waits; it is not refused");
  assert.equal(alarmsSent, 3);
  assert.equal(snapshot.senders.find((s) => s.sender === "alarm")!.throttled, 0);
  assert.ok(snapshot.latency.critical.p99! < 10);
});
