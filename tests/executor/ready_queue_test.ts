import assert from "node:assert/strict";
import fc from "fast-check";
import { type QueuedEntry, ReadyQueue } from "../../src/executor/ready_queue.ts";

let seq = 0;
function entry(level: number, readyAt = 0, kind = "k"): QueuedEntry {
  seq++;
  return { id: `j${seq}`, kind, level, seq, readyAt, readyMono: 0, leases: [] };
}
const always = () => true;
const free = () => null;

Deno.test("ReadyQueue takes the best effective level, then the higher own level, then the oldest", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          level: fc.integer({ min: 0, max: 4 }),
          age: fc.integer({ min: 0, max: 30_000 }),
        }),
        {
          maxLength: 60,
        },
      ),
      fc.integer({ min: 1, max: 10_000 }),
      (specs, agingMs) => {
        const queue = new ReadyQueue(agingMs);
        const now = 100_000;
        // Entries become ready in seq order, so readyAt must not decrease with seq.
        const sorted = [...specs].sort((a, b) => b.age - a.age);
        const entries = sorted.map((s) => entry(s.level, now - s.age));
        for (const e of entries) queue.push(e);
        const expected = [...entries].sort((a, b) =>
          queue.effectiveLevel(b, now) - queue.effectiveLevel(a, now) || b.level - a.level ||
          a.seq - b.seq
        );
        const taken: QueuedEntry[] = [];
        for (let e = queue.take(now, free, always); e; e = queue.take(now, free, always)) {
          taken.push(e);
        }
        assert.deepEqual(taken.map((e) => e.id), expected.map((e) => e.id));
        assert.equal(queue.size, 0);
      },
    ),
  );
});

Deno.test("effective level: one raise per interval, capped at critical; override stays", () => {
  const queue = new ReadyQueue(1_000);
  assert.equal(queue.effectiveLevel(entry(0, 0), 999), 0);
  assert.equal(queue.effectiveLevel(entry(0, 0), 1_000), 1);
  assert.equal(queue.effectiveLevel(entry(0, 0), 2_500), 2);
  assert.equal(queue.effectiveLevel(entry(0, 0), 1e9), 3);
  assert.equal(queue.effectiveLevel(entry(4, 0), 1e9), 4);
  assert.equal(queue.effectiveLevel(entry(3, 0), 1e9), 3);
});

Deno.test("ReadyQueue parks entries whose kind cannot run and keeps their order", () => {
  const queue = new ReadyQueue(Number.POSITIVE_INFINITY);
  const a1 = entry(1, 0, "a");
  const b1 = entry(1, 0, "b");
  const a2 = entry(1, 0, "a");
  const b2 = entry(0, 0, "b");
  for (const e of [a1, b1, a2, b2]) queue.push(e);
  const blocked = new Set(["a"]);
  const blockKey = (e: QueuedEntry) => (blocked.has(e.kind) ? `kind:${e.kind}` : null);
  const isOpen = (key: string) => !blocked.has(key.slice(5));
  assert.equal(queue.take(0, blockKey, isOpen), b1);
  assert.equal(queue.take(0, blockKey, isOpen), b2);
  assert.equal(queue.take(0, blockKey, isOpen), undefined);
  assert.equal(queue.parkedSize, 2);
  assert.equal(queue.size, 2);
  blocked.clear();
  assert.equal(queue.take(0, blockKey, isOpen), a1);
  assert.equal(queue.take(0, blockKey, isOpen), a2);
  assert.equal(queue.size, 0);
});

Deno.test("ReadyQueue stays O(1) per take at a million entries", () => {
  const queue = new ReadyQueue(5_000);
  for (let i = 0; i < 1_000_000; i++) queue.push(entry(i % 5, i));
  let count = 0;
  while (queue.take(2_000_000, free, always)) count++;
  assert.equal(count, 1_000_000);
});
