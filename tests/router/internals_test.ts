/**
 * The router's building blocks against simple models: topic patterns and the token bucket
 * (the deque and the heap are shared: tests/shared/).
 */
import assert from "node:assert/strict";
import { TopicPattern } from "../../src/router/_names.ts";
import { SenderBudget } from "../../src/router/_token_bucket.ts";
import type { PendingSend } from "../../src/router/_envelope.ts";

Deno.test("topic patterns: * is one segment, a final ** one or more", () => {
  const cases: [string, string, boolean][] = [
    ["jobs.*", "jobs.succeeded", true],
    ["jobs.*", "jobs", false],
    ["jobs.*", "jobs.a.b", false],
    ["jobs.**", "jobs.a", true],
    ["jobs.**", "jobs.a.b.c", true],
    ["jobs.**", "jobs", false],
    ["*.failed", "jobs.failed", true],
    ["*.failed", "jobs.succeeded", false],
    ["jobs.succeeded", "jobs.succeeded", true],
    ["jobs.succeeded", "jobs.succeeded.x", false],
    ["**", "anything.at.all", true],
    ["a.*.c", "a.b.c", true],
    ["a.*.c", "a.b.d", false],
  ];
  for (const [pattern, topic, expected] of cases) {
    assert.equal(TopicPattern.parse(pattern).matches(topic), expected, `${pattern} ~ ${topic}`);
  }
  for (const bad of ["", "a..b", "**.a", "a.**.b", "a b", "a.#", "x".repeat(101)]) {
    assert.throws(() => TopicPattern.parse(bad), /invalid topic pattern/, bad);
  }
});

Deno.test("SenderBudget refills at its rate up to its capacity; waiting sends go highest priority first", () => {
  const budget = new SenderBudget("s", 10, 0.01, 0); // 10 tokens, 10 a second
  assert.equal(budget.tryTake(0, 4, 0), true);
  assert.equal(budget.tryTake(0, 7, 0), false);
  assert.equal(budget.msUntil(7), 100);
  budget.refill(100);
  assert.equal(budget.tokens, 7);
  budget.refill(10_000);
  assert.equal(budget.tokens, 10, "never above capacity");

  const send = (level: number, cost: number) => ({ level, cost }) as unknown as PendingSend;
  const info = send(0, 1);
  const critical = send(3, 5);
  budget.enqueue(info);
  assert.equal(budget.tryTake(0, 1, 10_000), false, "behind a waiting send of its level");
  assert.equal(budget.tryTake(3, 5, 10_000), true, "a higher priority may pass");
  budget.enqueue(critical);
  assert.equal(budget.waiting, 2);
  assert.equal(budget.throttled, 2);
  assert.equal(budget.peek(), critical);
  assert.equal(budget.shift(), critical);
  assert.equal(budget.shift(), info);
  assert.equal(budget.waiting, 0);
  assert.equal(budget.tryTake(4, 0, 10_000), true, "override costs nothing");
});
