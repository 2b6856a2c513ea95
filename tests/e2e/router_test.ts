/**
 * The router end to end: job events flow to topic subscribers, jobs send messages, the CLI
 * shows, sends, tails, lists dead letters and replays them.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURES = new URL("./fixtures/flow.ts", import.meta.url).pathname;

Deno.test("router end to end", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-router-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  const json = async (args: string[]) => {
    const result = await cli([...args, "--json"]);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };
  let runtime: LiminalProcess | null = null;
  try {
    runtime = spawnLiminal(["start", "--no-tui", "--store", ":memory:", "--jobs", FIXTURES], {
      cwd: dir,
    });
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime");

    await t.step(
      "a send to a missing endpoint is dead-lettered no-endpoint, exits 2, and router show counts it",
      async () => {
        const result = await cli(["router", "send", "nobody", "ping", "--payload", '{"n": 1}']);
        assert.equal(result.code, 2);
        assert.match(
          result.stderr,
          /^error: ENDPOINT_NOT_FOUND: no endpoint or subscriber for "nobody"/,
        );
        const { deadLetters } = await json(["router", "dead"]);
        assert.equal(deadLetters.length, 1);
        assert.equal(deadLetters[0].reason, "no-endpoint");
        assert.equal(deadLetters[0].to, "nobody");
        assert.deepEqual(deadLetters[0].payload, { n: 1 });
        const noEndpoint = await json(["router", "dead", "--reason", "no-endpoint"]);
        assert.equal(noEndpoint.deadLetters.length, 1);
        const router = await json(["router", "show"]);
        assert.equal(router.totals.dead, 1);
        assert.equal(router.deadLetters.byReason["no-endpoint"], 1);
      },
    );

    await t.step(
      "job events flow to topic subscribers; a job sends a message through ctx.send",
      async () => {
        const notified = await cli(["enqueue", "notify", "--wait", "--json"]);
        assert.equal(notified.code, 0, notified.stderr);
        assert.match(JSON.parse(notified.stdout).jobs[0].result.message, /^[0-9a-f-]{36}$/);
        await cli(["enqueue", "fail", "--attempts", "1", "--wait"]);
        const router = await json(["router", "show"]);
        const endpoint = router.endpoints.find((m: { name: string }) => m.name === "alerts");
        assert.equal(endpoint.delivered, 1, "the note");
        assert.equal(endpoint.acked, 1);
        const subscription = router.subscriptions.find((m: { pattern: string }) =>
          m.pattern === "jobs.dead"
        );
        assert.equal(subscription.delivered, 1, "the dead job's event");
        const human = await cli(["router"]);
        assert.match(human.stdout, /^alerts\s+endpoint/m);
      },
    );

    await t.step(
      "tail prints messages as they move; replay sends a dead letter again",
      async () => {
        await using tail = spawnLiminal(["router", "tail", "--json"], { cwd: dir });
        // The tail says nothing until a message moves, so whether it is connected yet shows
        // only in its output: send until it prints the delivery (no fixed sleep to guess).
        const delivered = (p: { stdout: string }) => p.stdout.includes('"message:delivered"');
        const deadline = performance.now() + 10_000;
        while (!delivered(tail)) {
          assert.equal(
            (await cli(["router", "send", "alerts", "hello", "--payload", '{"x": 2}'])).code,
            0,
          );
          await tail.waitFor(delivered, 500, "the delivered line").catch((error) => {
            if (performance.now() > deadline) throw error;
          });
        }
        const line = tail.stdout.split("\n").find((l) => l.includes("message:delivered"))!;
        const event = JSON.parse(line);
        assert.equal(event.message.type, "hello");
        assert.deepEqual(event.message.payload, { x: 2 });
        tail.kill("SIGINT");
        const { deadLetters } = await json(["router", "dead"]);
        const replayed = await cli(["router", "replay", deadLetters[0].id]);
        // "nobody" still has no endpoint: nothing is sent and the dead letter stays as it was.
        assert.equal(replayed.code, 2);
        assert.match(
          replayed.stderr,
          /ENDPOINT_NOT_FOUND: dead letter .* its recipient "nobody" is gone; nothing was sent/,
        );
        const after = (await json(["router", "dead"])).deadLetters;
        assert.deepEqual(after.map((d: { id: string }) => d.id), [deadLetters[0].id]);
        // The last 6 characters of its id name the same dead letter.
        const short = await cli(["router", "replay", deadLetters[0].id.slice(-6)]);
        assert.equal(short.code, 2, short.stderr);
        assert.match(
          short.stderr,
          new RegExp(`ENDPOINT_NOT_FOUND: dead letter ${deadLetters[0].id}: .* "nobody" is gone`),
        );
        const noTail = await cli(["router", "replay", "fedcba987"]);
        assert.equal(noTail.code, 2);
        assert.match(noTail.stderr, /MESSAGE_NOT_FOUND: no message with an id ending in fedcba987/);
        const unknown = await cli(["router", "replay", "01890000-0000-7000-8000-000000000000"]);
        assert.equal(unknown.code, 2);
        assert.match(unknown.stderr, /MESSAGE_NOT_FOUND/);
        const bad = await cli(["router", "send", "alerts", "x", "--priority", "urgent"]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /INVALID_PRIORITY/);
        const badPayload = await cli(["router", "send", "alerts", "x", "--payload", "{oops"]);
        assert.equal(badPayload.code, 2);
        assert.match(badPayload.stderr, /INVALID_JSON/);
      },
    );

    runtime.kill("SIGTERM");
    const exit = await runtime.done();
    assert.equal(exit.code, 0);
    assert.match(exit.stderr, /shutdown phase 4\/6 router-closed: finished/);
    runtime = null;
  } finally {
    if (runtime !== null) {
      runtime.kill("SIGKILL");
      await runtime.done();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
