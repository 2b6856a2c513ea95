/**
 * The public API (`mod.ts`) as a Deno user sees it: complete documentation, every type its
 * signatures use exported, no internals, and typed job kinds accepted where kinds are listed.
 */
import assert from "node:assert/strict";
import * as liminal from "../mod.ts";
import {
  type AnyJobKind,
  defineJob,
  type JobKind,
  MaintenanceExecutor,
  MemoryStore,
  Runtime,
} from "../mod.ts";

const ROOT = new URL("../", import.meta.url);

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

Deno.test("deno doc --lint mod.ts finds no undocumented symbol and no private type", async () => {
  const { code, output } = await deno(["doc", "--lint", "mod.ts"]);
  assert.equal(code, 0, output);
  assert.doesNotMatch(output, /error\[/);
});

Deno.test("mod.ts exports the public API and none of the CLI's internals", () => {
  const names = Object.keys(liminal);
  for (const name of ["Runtime", "defineJob", "defineSchedule", "defineEndpoint"]) {
    assert.ok(names.includes(name), `${name} is exported`);
  }
  assert.ok(names.includes("TerritoryLeases"));
  for (const internal of ["LeaseManager", "loadJobModules", "builtinJobs", "ProcessGuard"]) {
    assert.ok(!names.includes(internal), `${internal} is not exported`);
  }
});

// A kind with a typed payload and result: `jobs: [cleanup]` did not type-check before
// (`JobKind<{ dir: string }, …>` is not a `JobKind<unknown, unknown>`); `deno check` of this
// file is the type half of the test, the run below the behaviour half.
const cleanup: JobKind<{ dir: string }, { removed: number; dir: string }> = defineJob({
  kind: "cleanup",
  validate: (payload) => {
    const dir = (payload as { dir?: unknown } | null)?.dir;
    if (typeof dir !== "string") throw new Error('"dir" must be a string');
    return { dir };
  },
  handler: ({ payload }) => ({ removed: 0, dir: payload.dir }),
});

Deno.test("a typed job kind goes into RuntimeOptions.jobs and runs", async () => {
  await using runtime = new Runtime({ jobs: [cleanup], builtins: false, workers: 1 });
  await runtime.start();
  const { id } = await runtime.executor.enqueue({ kind: "cleanup", payload: { dir: "/tmp" } });
  const job = await runtime.executor.waitFor(id);
  assert.equal(job.state, "succeeded");
});

Deno.test("a typed job kind goes into ExecutorOptions.kinds and register()", async () => {
  const executor = new MaintenanceExecutor({ store: new MemoryStore(), kinds: [cleanup] });
  const other: AnyJobKind = defineJob({ kind: "other", handler: () => 1 });
  executor.register(other);
  assert.deepEqual(executor.kinds.names(), ["cleanup", "other"]);
});
