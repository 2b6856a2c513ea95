/** The shared deque against an array model: the executor's ready lanes and the router's lanes use it. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { RingBuffer } from "../../src/shared/ring_buffer.ts";

Deno.test("RingBuffer behaves like an array deque across growth and wrap-around", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant("shift"), fc.constant("unshift"), fc.constant("push")), {
        maxLength: 300,
      }),
      (ops) => {
        const ring = new RingBuffer<number>(2);
        const model: number[] = [];
        let n = 0;
        for (const op of ops) {
          if (op === "push") (ring.push(n), model.push(n++));
          else if (op === "unshift") (ring.unshift(n), model.unshift(n++));
          else assert.equal(ring.shift(), model.shift());
          assert.equal(ring.size, model.length);
          assert.equal(ring.peek(), model[0]);
        }
        assert.deepEqual([...ring], model);
        assert.deepEqual(ring.drain(), model);
        assert.equal(ring.size, 0);
      },
    ),
  );
});

Deno.test("RingBuffer keeps FIFO order across growth and wrap-around", () => {
  const ring = new RingBuffer<number>(2);
  const model: number[] = [];
  for (let i = 0; i < 1_000; i++) {
    ring.push(i);
    model.push(i);
    if (i % 3 === 0) assert.equal(ring.shift(), model.shift());
  }
  assert.equal(ring.size, model.length);
  assert.deepEqual([...ring], model);
  assert.equal(ring.peekLast(), model.at(-1));
});
