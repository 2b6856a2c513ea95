/**
 * The map, enforced: reads the real import graph of `src/` (`deno info --json` from
 * `main.ts`, `mod.ts` and every file under `src/`, type-only and dynamic imports included)
 * and fails naming each import that goes against the table in `docs/architecture.md`
 * (the design's `ARCHITECTURE.md`, with the changes noted there).
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** The rooms of `src/`, one per folder. */
const ROOMS = [
  "shared",
  "store",
  "executor",
  "router",
  "leases",
  "scheduler",
  "jobs",
  "runtime",
  "control",
  "commands",
  "tui",
] as const;
type Room = typeof ROOMS[number];

/** What each room may import besides itself: the table of `docs/architecture.md`. */
export const MAY_IMPORT: Record<Room, readonly Room[]> = {
  shared: [],
  store: ["shared"],
  router: ["shared"],
  leases: ["store", "shared"],
  executor: ["store", "shared"],
  scheduler: ["executor", "store", "shared"],
  jobs: ["executor", "shared"],
  tui: ["shared"],
  control: ["shared"],
  runtime: ["executor", "router", "leases", "scheduler", "store", "jobs", "control", "shared"],
  commands: ["runtime", "control", "tui", "store", "executor", "jobs", "scheduler", "shared"],
};

/** Rooms that see `src/store` only through its interface (`src/store/types.ts`). */
const STORE_INTERFACE_ONLY: readonly Room[] = ["executor", "leases", "scheduler"];
/** The files of `src/control` that are its client side, the only ones commands may import. */
const CONTROL_CLIENT = new Set([
  "src/control/client.ts",
  "src/control/socket.ts",
  "src/control/remote_view.ts",
]);

/** One import: `from` imports `to` (both relative to the repository), at `line`. */
export interface Edge {
  from: string;
  to: string;
  line: number;
}

function roomOf(path: string): Room | null {
  const match = /^src\/([^/]+)\//.exec(path);
  if (match === null) return null;
  return (ROOMS as readonly string[]).includes(match[1]!) ? match[1] as Room : null;
}

/** Every import of the edges that goes against the map, as one line each. */
export function violations(edges: readonly Edge[]): string[] {
  const found: string[] = [];
  for (const edge of edges) {
    const from = roomOf(edge.from);
    const to = roomOf(edge.to);
    if (from === null || to === null || from === to) continue;
    const where = `${edge.from}:${edge.line} imports ${edge.to}`;
    if (!MAY_IMPORT[from].includes(to)) {
      const allowed = MAY_IMPORT[from].length === 0
        ? "nothing of ours outside src/shared"
        : `only ${MAY_IMPORT[from].map((r) => `src/${r}`).join(", ")}`;
      found.push(`${where}: src/${from} may import ${allowed}`);
      continue;
    }
    const base = edge.to.slice(edge.to.lastIndexOf("/") + 1);
    if (base.startsWith("_")) {
      found.push(`${where}: a private file of src/${to} (its public surface is src/${to}/mod.ts)`);
      continue;
    }
    if (to === "store" && STORE_INTERFACE_ONLY.includes(from) && edge.to !== "src/store/types.ts") {
      found.push(`${where}: src/${from} sees the store only through src/store/types.ts`);
      continue;
    }
    if (from === "commands" && to === "control" && !CONTROL_CLIENT.has(edge.to)) {
      found.push(
        `${where}: commands use the control client (${
          [...CONTROL_CLIENT].join(", ")
        }), not the server`,
      );
    }
  }
  return found;
}

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string; span?: { start: { line: number } } };
    type?: { specifier?: string; span?: { start: { line: number } } };
  }[];
}

/** The files of this repository `deno info --json <entry>` reaches, and their imports. */
async function graphOf(entry: string): Promise<{ files: string[]; edges: Edge[] }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", "deno.json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    output.code,
    0,
    `deno info ${entry} failed: ${new TextDecoder().decode(output.stderr)}`,
  );
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
  const local = (specifier: string | undefined) =>
    specifier?.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : null;
  const files: string[] = [];
  const edges: Edge[] = [];
  for (const module of info.modules) {
    const from = local(module.specifier);
    if (from === null) continue;
    files.push(from);
    for (const dependency of module.dependencies ?? []) {
      for (const resolved of [dependency.code, dependency.type]) {
        const to = local(resolved?.specifier);
        if (to === null || resolved === undefined) continue;
        edges.push({ from, to, line: (resolved.span?.start.line ?? 0) + 1 });
      }
    }
  }
  return { files, edges };
}

async function sourceFiles(dir: URL): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) files.push(...await sourceFiles(url));
    else if (/\.tsx?$/.test(entry.name)) files.push(url.href);
  }
  return files;
}

Deno.test("the map: the rules name the edge that goes against them", () => {
  const edge = (from: string, to: string): Edge => ({ from, to, line: 7 });
  assert.deepEqual(violations([edge("src/executor/executor.ts", "src/commands/main.ts")]), [
    "src/executor/executor.ts:7 imports src/commands/main.ts: src/executor may import only src/store, src/shared",
  ]);
  for (
    const [from, to] of [
      ["src/shared/job.ts", "src/store/types.ts"],
      ["src/router/router.ts", "src/control/server.ts"],
      ["src/control/server.ts", "src/runtime/runtime.ts"],
      ["src/control/events.ts", "src/executor/executor.ts"],
      ["src/tui/App.tsx", "src/control/client.ts"],
      ["src/scheduler/scheduler.ts", "src/runtime/events.ts"],
      ["src/jobs/command.ts", "src/tui/mod.ts"],
      ["src/store/mod.ts", "src/executor/job_spec.ts"],
      ["src/runtime/runtime.ts", "src/jobs/_process_guard.ts"],
      ["src/executor/executor.ts", "src/store/sqlite/sqlite_store.ts"],
      ["src/commands/start.ts", "src/control/server.ts"],
      ["src/runtime/runtime.ts", "src/commands/main.ts"],
    ]
  ) {
    assert.equal(violations([edge(from!, to!)]).length, 1, `${from} → ${to} must be refused`);
  }
  for (
    const [from, to] of [
      ["src/runtime/runtime.ts", "src/control/server.ts"],
      ["src/commands/top.ts", "src/control/client.ts"],
      ["src/commands/start.ts", "src/store/mod.ts"],
      ["src/scheduler/scheduler.ts", "src/store/types.ts"],
      ["src/jobs/command.ts", "src/executor/job_kind.ts"],
      ["src/store/sqlite/sqlite_store.ts", "src/store/sqlite/_files.ts"],
      ["src/control/server.ts", "src/shared/events.ts"],
    ]
  ) {
    assert.deepEqual(violations([edge(from!, to!)]), [], `${from} → ${to} is allowed`);
  }
});

Deno.test("the map: every import in src/ goes the way docs/architecture.md allows", async () => {
  // main.ts and mod.ts, and one entry reaching every file of src/, so none escapes.
  const dir = await Deno.makeTempDir({ prefix: "liminal-map-" });
  try {
    const every = `${dir}/every.ts`;
    const files = await sourceFiles(new URL("src/", ROOT));
    await Deno.writeTextFile(
      every,
      files.map((f) => `import ${JSON.stringify(f)};`).join("\n") + "\n",
    );
    const graphs = [await graphOf("main.ts"), await graphOf("mod.ts"), await graphOf(every)];
    const edges = graphs.flatMap((g) => g.edges);
    const seen = new Set(graphs.flatMap((g) => g.files));
    const missed = files.map((f) => f.slice(ROOT.href.length)).filter((f) => !seen.has(f));
    assert.deepEqual(missed, [], "files of src/ the graph did not reach");
    const unique = [...new Map(edges.map((e) => [`${e.from}>${e.to}`, e])).values()];
    // The graph is real: it holds the edges the runtime is built from.
    assert.ok(
      unique.some((e) => e.from === "src/runtime/runtime.ts" && roomOf(e.to) === "control"),
    );
    assert.ok(unique.length > 300, `only ${unique.length} imports read`);
    const found = violations(unique);
    assert.deepEqual(found, [], `imports against the map:\n  ${found.join("\n  ")}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
