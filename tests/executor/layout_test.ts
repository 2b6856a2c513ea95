/**
 * The executor's rooms stay rooms: no file in `src/executor` grows past the size a newcomer can
 * read whole (issue 15), and `executor.ts` stays the thin public face over them.
 */
import assert from "node:assert/strict";

const DIR = new URL("../../src/executor/", import.meta.url);
/** The soft limit of `docs/architecture.md`; 1,000 is the hard one. */
const MAX_LINES = 800;

async function lineCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(new URL(entry.name, DIR));
    counts.set(entry.name, text.split("\n").length);
  }
  return counts;
}

Deno.test("no file in src/executor is over 800 lines", async () => {
  const counts = await lineCounts();
  assert(counts.size > 0, "src/executor has no .ts files");
  const over = [...counts].filter(([, lines]) => lines > MAX_LINES);
  assert.deepEqual(
    over,
    [],
    `over ${MAX_LINES} lines: ${over.map(([name, lines]) => `${name} (${lines})`).join(", ")}`,
  );
});

Deno.test("the executor's rooms are files of their own, each an internal helper", async () => {
  const counts = await lineCounts();
  for (
    const room of [
      "_state.ts",
      "_intake.ts",
      "_dispatch.ts",
      "_run.ts",
      "_settle.ts",
      "_windows.ts",
      "_diagnostics.ts",
    ]
  ) {
    assert(counts.has(room), `src/executor/${room} is missing`);
  }
  const mod = await Deno.readTextFile(new URL("mod.ts", DIR));
  assert(!/from "\.\/_/.test(mod), "src/executor/mod.ts must not export a room's internals");
});
