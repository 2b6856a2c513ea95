/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`): self and total time by
 * function, with shares of the sampled time, to say where a hot path spends it.
 *
 *   deno run --allow-read --allow-env --allow-run=cat --cpu-prof --cpu-prof-dir=/tmp/liminal-prof \
 *     bench/executor_scale.ts --impl liminal --size 100000 --rounds 5 --warmup 2
 *   deno run --allow-read bench/cpuprofile_summary.ts /tmp/liminal-prof/*.cpuprofile [--top 25]
 *
 * Self time is charged to the function on top of the stack; total time to every distinct
 * function on it (recursion counted once). `(garbage collector)`, `(program)` (native code
 * outside JS: the runtime, the microtask pump) and `(idle)` are V8's own pseudo-frames.
 *
 * @module
 */
import { parseArgs } from "./_proc.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One function's time. */
export interface FunctionTime {
  name: string;
  location: string;
  selfMs: number;
  selfShare: number;
  totalMs: number;
  totalShare: number;
}

function label(frame: CallFrame): { name: string; location: string } {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return { name, location: "" };
  let file = frame.url.replace(/^file:\/\//, "");
  const root = new URL("..", import.meta.url).pathname;
  if (file.startsWith(root)) file = file.slice(root.length);
  file = file.replace(/^.*\/node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?/, "npm:")
    .replace(/^.*\/registry\.npmjs\.org\//, "npm:");
  return { name, location: `${file}:${frame.lineNumber + 1}` };
}

/** Self and total time by function, largest self time first. */
export function summarizeProfile(profile: CpuProfile): { totalMs: number; rows: FunctionTime[] } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const info = new Map<string, { name: string; location: string }>();
  const keyOf = new Map<number, string>();
  for (const node of profile.nodes) {
    const l = label(node.callFrame);
    const key = `${l.name}@${l.location}`;
    keyOf.set(node.id, key);
    info.set(key, l);
  }
  let sum = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i + 1] is the time from sample i to the next one: charge it to sample i.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    const key = keyOf.get(id)!;
    sum += us;
    self.set(key, (self.get(key) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf.get(at)!;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const rows: FunctionTime[] = [];
  for (const [key, l] of info) {
    const s = self.get(key) ?? 0;
    const t = total.get(key) ?? 0;
    if (s === 0 && t === 0) continue;
    rows.push({
      name: l.name,
      location: l.location,
      selfMs: s / 1_000,
      selfShare: sum === 0 ? 0 : s / sum,
      totalMs: t / 1_000,
      totalShare: sum === 0 ? 0 : t / sum,
    });
  }
  rows.sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: sum / 1_000, rows };
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  const files = Deno.args.filter((a, i) => !a.startsWith("--") && Deno.args[i - 1] !== "--top");
  const top = Number(args.get("top") ?? 25);
  for (const file of files) {
    const profile = JSON.parse(Deno.readTextFileSync(file)) as CpuProfile;
    const { totalMs, rows } = summarizeProfile(profile);
    console.log(`${file}: ${totalMs.toFixed(0)} ms sampled\n`);
    console.log("| self % | self ms | total % | function | where |");
    console.log("| -----: | ------: | ------: | -------- | ----- |");
    for (const row of rows.slice(0, top)) {
      console.log(
        `| ${(row.selfShare * 100).toFixed(1)} | ${row.selfMs.toFixed(0)} | ${
          (row.totalShare * 100).toFixed(1)
        } | ${row.name} | ${row.location} |`,
      );
    }
    console.log();
  }
}
