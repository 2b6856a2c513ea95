/** The shared min-heap against a sorted-array model: the router's deadlines and the memory store's due jobs. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MinHeap } from "../../src/shared/heap.ts";

Deno.test("MinHeap pops the smallest key first, equal keys in push order", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1)), { maxLength: 200 }),
      (ops) => {
        const heap = new MinHeap<{ at: number; n: number }>((item) => item.at);
        const model: { at: number; n: number }[] = [];
        let n = 0;
        for (const op of ops) {
          if (op >= 0) {
            const item = { at: op, n: n++ };
            heap.push(item);
            model.push(item);
            model.sort((a, b) => a.at - b.at || a.n - b.n);
          } else {
            assert.equal(heap.pop(), model.shift());
          }
          assert.equal(heap.size, model.length);
          assert.equal(heap.peek(), model[0]);
        }
      },
    ),
  );
});

Deno.test("MinHeap reads the key once, at push, and clear() empties it", () => {
  let reads = 0;
  const heap = new MinHeap<{ at: number }>((item) => (reads++, item.at));
  for (const at of [5, 3, 9, 1]) heap.push({ at });
  assert.equal(reads, 4);
  assert.equal(heap.pop()?.at, 1);
  assert.equal(heap.pop()?.at, 3);
  assert.equal(reads, 4);
  heap.clear();
  assert.equal(heap.size, 0);
  assert.equal(heap.pop(), undefined);
});
