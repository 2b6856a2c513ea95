/**
 * A `command` job's processes live and die with its attempt, with real processes: `kill -9`
 * of a real `liminal start` leaves nothing of the job's process group behind, and a restart
 * never runs a second copy beside what is left of the first.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

const LINUX = Deno.build.os === "linux";

async function start(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", ...extra], { cwd: dir });
  await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 30_000, "the runtime to start");
  return proc;
}

/** `/proc/<pid>/stat` from field 3 (state) on, or `null`. */
function stat(pid: number): string[] | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

function pids(): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (/^\d+$/.test(entry.name)) out.push(Number(entry.name));
  }
  return out;
}

/** The process groups of live `sh` processes whose command line holds `marker`. */
function groupsWith(marker: string): Set<number> {
  const groups = new Set<number>();
  for (const pid of pids()) {
    let cmdline: string;
    try {
      cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    } catch {
      continue;
    }
    // The sh running the job (not the `liminal enqueue` that carried the payload).
    const program = cmdline.split("\0")[0]!;
    if (!(program === "sh" || program.endsWith("/sh")) || !cmdline.includes(marker)) continue;
    const fields = stat(pid);
    if (fields !== null && fields[0] !== "Z") groups.add(Number(fields[2]));
  }
  return groups;
}

/** The live (not zombie) processes of a group, as `pid name`. */
function members(pgid: number): string[] {
  const out: string[] = [];
  for (const pid of pids()) {
    const fields = stat(pid);
    if (fields !== null && fields[0] !== "Z" && fields[2] === String(pgid)) {
      let name = "?";
      try {
        name = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
      } catch {
        // Gone meanwhile.
      }
      out.push(`${pid} ${name}`);
    }
  }
  return out;
}

async function until<T>(
  probe: () => T | null | undefined | false,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test({
  name: "kill -9 of the runtime: nothing of a command job's process group is left 5 s later",
  ignore: !LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-procs-" });
    const marker = `liminal-orphan-${crypto.randomUUID()}`;
    try {
      const runtime = await start(dir);
      const enqueued = await runLiminal([
        "enqueue",
        "command",
        "--payload",
        JSON.stringify({ cmd: ["sh", "-c", `sleep 40; echo ${marker}`] }),
        "--lease",
        "db/app",
      ], { cwd: dir });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      const pgid = await until(() => [...groupsWith(marker)][0], 15_000, "the command to run");
      assert.ok(
        members(pgid).some((m) => m.endsWith(" sleep")),
        `the group holds sh and its sleep: ${members(pgid).join(", ")}`,
      );
      runtime.kill("SIGKILL");
      await runtime.done();
      const killedAt = performance.now();
      // Nothing of the group may be left 5 s after the runtime died.
      while (members(pgid).length > 0 && performance.now() - killedAt < 5_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(members(pgid), [], "the job's process group is gone");
      assert.equal(groupsWith(marker).size, 0);
    } finally {
      for (const pgid of groupsWith(marker)) {
        try {
          Deno.kill(-pgid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "restart right after kill -9: the new runtime waits until the old attempt's processes are gone; one copy at a time",
  ignore: !LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-procs-" });
    const marker = `liminal-race-${crypto.randomUUID()}`;
    const log = `${dir}/runs.log`;
    // The program ignores SIGTERM (so does its sleep): only the SIGKILL after the kill grace
    // (8 s here) ends it. The restart comes long before.
    const script =
      `trap '' TERM; echo "start $$" >> ${log}; sleep 3; echo "end $$" >> ${log} # ${marker}`;
    let maxAtOnce = 0;
    const seen = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const groups = groupsWith(marker);
        for (const g of groups) seen.add(g);
        maxAtOnce = Math.max(maxAtOnce, groups.size);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    let second: LiminalProcess | null = null;
    try {
      const first = await start(dir, ["--kill-grace", "8s"]);
      const enqueued = await runLiminal([
        "enqueue",
        "command",
        "--payload",
        JSON.stringify({ cmd: ["sh", "-c", script] }),
        "--lease",
        "db/app",
      ], { cwd: dir });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      const id = enqueued.stdout.trim();
      const oldGroup = await until(() => [...groupsWith(marker)][0], 15_000, "the command to run");
      first.kill("SIGKILL");
      await first.done();
      const killedAt = performance.now();
      second = await start(dir, ["--kill-grace", "1s"]);
      assert.ok(
        performance.now() - killedAt < 8_000,
        "the second runtime came up before the watchdog's SIGKILL",
      );
      assert.deepEqual(members(oldGroup), [], "the old group is gone once the runtime is up");
      await until(
        () => {
          const text = (() => {
            try {
              return Deno.readTextFileSync(log);
            } catch {
              return "";
            }
          })();
          return (text.match(/^end /gm) ?? []).length >= 1;
        },
        30_000,
        "the second attempt to finish",
      );
      const job = JSON.parse(
        (await runLiminal(["jobs", "show", id, "--json"], { cwd: dir })).stdout,
      );
      const record = job.job ?? job;
      assert.deepEqual(
        record.attempts.map((a: { outcome: string | null }) => a.outcome),
        ["interrupted", "succeeded"],
      );
      assert.equal(seen.size, 2, "two attempts ran");
      assert.equal(maxAtOnce, 1, "never two copies at once");
      assert.match(second.stderr, /process group \d+ of job .* still runs: stopping it/);
      const runs = Deno.readTextFileSync(log).trim().split("\n");
      assert.equal(runs.length, 3, runs.join("\n"));
      assert.match(runs[0]!, /^start /);
      assert.match(runs[1]!, /^start /);
      assert.match(runs[2]!, /^end /);
      second.kill("SIGTERM");
      assert.equal((await second.done()).code, 0);
      second = null;
    } finally {
      watching = false;
      await watcher;
      if (second !== null) await second[Symbol.asyncDispose]();
      for (const pgid of groupsWith(marker)) {
        try {
          Deno.kill(-pgid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
