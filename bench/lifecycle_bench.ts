/**
 * Lifecycle cost of an idle runtime (memory store, built-in kinds, no jobs): from
 * `new Runtime()` + `start()` to running, and from `shutdown()` to stopped, without and with
 * the control socket. The baseline of each group is the runtime without a socket.
 *
 *   deno bench --allow-read --allow-write --allow-env --allow-net --allow-sys bench/lifecycle_bench.ts
 *
 * @module
 */
import { Runtime, type RuntimeOptions } from "../mod.ts";
import { benchRuns } from "./_config.ts";

const dir = Deno.makeTempDirSync({ prefix: "liminal-bench-lifecycle-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // already gone
  }
});

const CASES: readonly { name: string; options: RuntimeOptions; baseline: boolean }[] = [
  { name: "liminal runtime, memory store", options: {}, baseline: true },
  {
    name: "liminal runtime, memory store + control socket",
    options: { socket: `${dir}/s.sock` },
    baseline: false,
  },
];

for (const { name, options, baseline } of CASES) {
  Deno.bench({
    name,
    group: "runtime start: new Runtime() + start() → running",
    baseline,
    ...benchRuns(100, 10),
    async fn(b) {
      b.start();
      const runtime = new Runtime(options);
      await runtime.start();
      b.end();
      await runtime.shutdown();
    },
  });
}

for (const { name, options, baseline } of CASES) {
  Deno.bench({
    name,
    group: "runtime shutdown: shutdown() → stopped (idle)",
    baseline,
    ...benchRuns(100, 10),
    async fn(b) {
      const runtime = new Runtime(options);
      await runtime.start();
      b.start();
      await runtime.shutdown();
      b.end();
    },
  });
}
