/**
 * A `command` job's processes live and die with its attempt, with real processes: `kill -9`
 * of a real `liminal start` leaves nothing of the job's process group behind, and a restart
 * (or, with Postgres, a rescuing node) never runs a second copy beside what is left of the
 * first.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";
import { freshDatabase, POSTGRES_INSTALLED, stopSharedPostgres } from "../_support/postgres.ts";

const LINUX = Deno.build.os === "linux";

async function start(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", ...extra], { cwd: dir });
  await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 30_000, "the runtime to start");
  return proc;
}

/**
 * Runs a shell script and returns its output. The test reads `/proc` through `sh`: Deno
 * refuses `/proc` without `--allow-all`.
 */
async function sh(script: string, env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/** Every live (not zombie) process: pid → [pgid, name]. */
async function processes(): Promise<Map<number, [number, string]>> {
  const out = new Map<number, [number, string]>();
  for (const line of (await sh("cat /proc/[0-9]*/stat 2>/dev/null; exit 0")).split("\n")) {
    const open = line.indexOf("(");
    const close = line.lastIndexOf(")");
    if (open < 0 || close < 0) continue;
    const fields = line.slice(close + 2).split(" ");
    if (fields[0] === "Z") continue;
    out.set(Number.parseInt(line, 10), [Number(fields[2]), line.slice(open + 1, close)]);
  }
  return out;
}

/** The process groups of live `sh` processes whose command line holds `marker`. */
async function groupsWith(marker: string): Promise<Set<number>> {
  const groups = new Set<number>();
  // The marker goes by the environment: the helper's own command line must not hold it.
  const hits = await sh('grep -l -a -F -- "$MARKER" /proc/[0-9]*/cmdline 2>/dev/null; exit 0', {
    MARKER: marker,
  });
  const live = await processes();
  for (const path of hits.split("\n")) {
    const pid = Number(/^\/proc\/(\d+)\/cmdline$/.exec(path)?.[1]);
    const proc = live.get(pid);
    // The sh running the job (not the `liminal enqueue` that carried the payload).
    if (proc !== undefined && proc[1] === "sh") groups.add(proc[0]);
  }
  return groups;
}

/** The live (not zombie) processes of a group, as `pid name`. */
async function members(pgid: number): Promise<string[]> {
  const out: string[] = [];
  for (const [pid, [group, name]] of await processes()) {
    if (group === pgid) out.push(`${pid} ${name}`);
  }
  return out;
}

async function until<T>(
  probe: () => Promise<T | null | undefined | false>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await probe();
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
      const pgid = await until(
        async () => [...await groupsWith(marker)][0],
        15_000,
        "the command to run",
      );
      // The group holds sh and the sleep it started.
      await until(
        async () => (await members(pgid)).some((m) => m.endsWith(" sleep")),
        10_000,
        "the sleep in the job's group",
      );
      runtime.kill("SIGKILL");
      await runtime.done();
      const killedAt = performance.now();
      // Nothing of the group may be left 5 s after the runtime died.
      while ((await members(pgid)).length > 0 && performance.now() - killedAt < 5_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(await members(pgid), [], "the job's process group is gone");
      assert.equal((await groupsWith(marker)).size, 0);
    } finally {
      for (const pgid of await groupsWith(marker)) {
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

/** The pids of the live process watchdogs (`liminal-watchdog`) whose parent is `parent`. */
async function watchdogsOf(parent: number): Promise<number[]> {
  const hits = await sh(
    "grep -l -a -F -- liminal-watchdog /proc/[0-9]*/cmdline 2>/dev/null; exit 0",
  );
  const out: number[] = [];
  for (const path of hits.split("\n")) {
    const pid = Number(/^\/proc\/(\d+)\/cmdline$/.exec(path)?.[1]);
    if (!Number.isInteger(pid)) continue;
    const stat = await sh(`cat /proc/${pid}/stat 2>/dev/null; exit 0`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the name: state, ppid.
    if (fields[0] !== "Z" && Number(fields[1]) === parent) out.push(pid);
  }
  return out;
}

Deno.test({
  name:
    "kill -9 of the watchdog, then of the runtime: a new watchdog is there at once, and the job's group is gone within the kill grace",
  ignore: !LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-procs-" });
    const marker = `liminal-guarded-job-${crypto.randomUUID()}`;
    let runtime: LiminalProcess | null = null;
    try {
      // The program ignores SIGTERM: only the watchdog's SIGKILL, 2 s after the runtime died,
      // ends it.
      runtime = await start(dir, ["--kill-grace", "2s"]);
      const enqueued = await runLiminal([
        "enqueue",
        "command",
        "--payload",
        JSON.stringify({ cmd: ["sh", "-c", `trap '' TERM; sleep 40; echo ${marker}`] }),
      ], { cwd: dir });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      const pgid = await until(
        async () => [...await groupsWith(marker)][0],
        15_000,
        "the command to run",
      );
      await until(
        async () => (await members(pgid)).some((m) => m.endsWith(" sleep")),
        10_000,
        "the sleep in the job's group",
      );
      const pid = runtime.child.pid;
      const [old] = await until(
        async () => {
          const found = await watchdogsOf(pid);
          return found.length === 1 ? found : null;
        },
        5_000,
        "the runtime's watchdog",
      );
      Deno.kill(old!, "SIGKILL");
      // No other command job registers: the runtime notices the death by itself.
      const [replacement] = await until(
        async () => {
          const found = (await watchdogsOf(pid)).filter((p) => p !== old);
          return found.length === 1 ? found : null;
        },
        3_000,
        "a new watchdog",
      );
      assert.ok(replacement !== undefined);
      await runtime.waitFor(
        (p) => /the process watchdog \(pid \d+\) was killed by SIGKILL/.test(p.stderr),
        5_000,
        "the warning about the watchdog",
      );
      assert.match(runtime.stderr, /a new one starts now, told the 1 live process group/);
      runtime.kill("SIGKILL");
      await runtime.done();
      runtime = null;
      const killedAt = performance.now();
      while ((await members(pgid)).length > 0 && performance.now() - killedAt < 10_000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const gone = performance.now() - killedAt;
      assert.deepEqual(await members(pgid), [], "the job's process group is gone");
      // SIGKILL at the kill grace (2 s), not before; within a margin after it.
      assert.ok(gone >= 1_900, `not before the kill grace (${gone.toFixed(0)}ms)`);
      assert.ok(gone < 3_000, `within the kill grace and a margin (${gone.toFixed(0)}ms)`);
    } finally {
      if (runtime !== null) await runtime[Symbol.asyncDispose]();
      for (const pgid of await groupsWith(marker)) {
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
    // (8 s here) ends it. The restart comes long before. The first copy would run 20 s, the
    // next ones 1 s.
    const script = `trap '' TERM; echo "start $$" >> ${log}; if mkdir ${dir}/first 2>/dev/null; ` +
      `then sleep 20; else sleep 1; fi; echo "end $$" >> ${log} # ${marker}`;
    let maxAtOnce = 0;
    const seen = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const groups = await groupsWith(marker);
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
      // The program itself runs (not only its wrapper, waiting to be registered).
      await until(
        async () => (await Deno.readTextFile(log).catch(() => "")).startsWith("start "),
        15_000,
        "the command to run",
      );
      const oldGroup = [...await groupsWith(marker)][0];
      assert.ok(oldGroup !== undefined);
      first.kill("SIGKILL");
      await first.done();
      const killedAt = performance.now();
      second = await start(dir, ["--kill-grace", "1s"]);
      assert.ok(
        performance.now() - killedAt < 8_000,
        "the second runtime came up before the watchdog's SIGKILL",
      );
      assert.deepEqual(await members(oldGroup), [], "the old group is gone once the runtime is up");
      await until(
        async () => {
          const text = await Deno.readTextFile(log).catch(() => "");
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
      const runsSoFar = await Deno.readTextFile(log).catch(() => "");
      assert.equal(seen.size, 2, `two attempts ran\n${runsSoFar}\n${second.stderr}`);
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
      for (const pgid of await groupsWith(marker)) {
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

/** Watches the groups running `marker`: how many at once at most, and which were seen. */
function watchCopies(
  marker: string,
): { stop(): Promise<void>; maxAtOnce(): number; seen: Set<number> } {
  let max = 0;
  let watching = true;
  const seen = new Set<number>();
  const loop = (async () => {
    while (watching) {
      const groups = await groupsWith(marker);
      for (const g of groups) seen.add(g);
      max = Math.max(max, groups.size);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      watching = false;
      await loop;
    },
    maxAtOnce: () => max,
    seen,
  };
}

Deno.test({
  name:
    "Postgres: after kill -9 of the node running a command, the rescuing node starts it only once the old processes are gone",
  ignore: !LINUX || !POSTGRES_INSTALLED,
  async fn() {
    const db = await freshDatabase("procs");
    assert.ok(db !== null);
    const root = await Deno.makeTempDir({ prefix: "liminal-procs-pg-" });
    const marker = `liminal-rescue-${crypto.randomUUID()}`;
    const log = `${root}/runs.log`;
    // Ignores SIGTERM: only the watchdog's SIGKILL (1 s after the node died) ends the first
    // copy, which would otherwise run 30 s; later copies run 1 s.
    const script = `trap '' TERM; echo "start $$" >> ${log}; if mkdir ${root}/first 2>/dev/null; ` +
      `then sleep 30; else sleep 1; fi; echo "end $$" >> ${log} # ${marker}`;
    const node = async (name: string) => {
      await Deno.mkdir(`${root}/${name}`);
      const proc = spawnLiminal([
        "start",
        "--no-tui",
        "--store",
        db.url,
        "--node-id",
        name,
        "--heartbeat",
        "300ms",
        "--node-timeout",
        "2s",
        "--kill-grace",
        "1s",
      ], { cwd: `${root}/${name}` });
      await proc.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 30_000, `node ${name}`);
      return proc;
    };
    const copies = watchCopies(marker);
    let b: LiminalProcess | null = null;
    try {
      const a = await node("a");
      const enqueued = await runLiminal([
        "enqueue",
        "command",
        "--payload",
        JSON.stringify({ cmd: ["sh", "-c", script] }),
        "--lease",
        "db/app",
      ], { cwd: `${root}/a` });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      await until(
        async () => (await Deno.readTextFile(log).catch(() => "")).startsWith("start "),
        15_000,
        "the command to run on a",
      );
      b = await node("b");
      a.kill("SIGKILL");
      await a.done();
      await until(
        async () => /^end /m.test(await Deno.readTextFile(log).catch(() => "")),
        30_000,
        "the rescued job to finish on b",
      );
      await copies.stop();
      const runs = (await Deno.readTextFile(log)).trim().split("\n");
      assert.equal(copies.seen.size, 2, `two attempts ran\n${runs.join("\n")}\n${b.stderr}`);
      assert.equal(copies.maxAtOnce(), 1, "never two copies at once");
      assert.deepEqual(runs.map((line) => line.split(" ")[0]), ["start", "start", "end"]);
      b.kill("SIGTERM");
      assert.equal((await b.done()).code, 0);
      b = null;
    } finally {
      await copies.stop();
      if (b !== null) await b[Symbol.asyncDispose]();
      for (const pgid of await groupsWith(marker)) {
        try {
          Deno.kill(-pgid, "SIGKILL");
        } catch {
          // Gone.
        }
      }
      await Deno.remove(root, { recursive: true });
      await stopSharedPostgres();
    }
  },
});

/** A `command` job whose SIGTERM trap cleans up for `cleanupS` seconds, then exits 0. */
async function enqueueTrapJob(dir: string, killGrace: string, cleanupS: number): Promise<string> {
  const script =
    `trap 'date > ${dir}/term; sleep ${cleanupS}; date > ${dir}/clean; exit 0' TERM; ` +
    `date > ${dir}/started; sleep 100 & wait`;
  const enqueued = await runLiminal([
    "enqueue",
    "command",
    "--payload",
    JSON.stringify({ cmd: ["sh", "-c", script], killGrace }),
  ], { cwd: dir });
  assert.equal(enqueued.code, 0, enqueued.stderr);
  await until(
    async () => (await Deno.stat(`${dir}/started`).catch(() => null)) !== null,
    15_000,
    "the command to run",
  );
  return enqueued.stdout.trim();
}

Deno.test({
  name:
    "an ordered shutdown gives a running command its own kill grace: the SIGTERM trap cleans up, the job is interrupted and requeued",
  ignore: !LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-procs-" });
    let runtime: LiminalProcess | null = null;
    try {
      runtime = await start(dir);
      // The trap needs 2 s, more than the hard deadline (1 s), less than the job's grace (3 s).
      const id = await enqueueTrapJob(dir, "3s", 2);
      const shutdown = await runLiminal(["shutdown", "--grace", "1s"], { cwd: dir });
      assert.equal(shutdown.code, 0, shutdown.stderr);
      const { code, stderr: log } = await runtime.done();
      assert.equal(code, 0);
      runtime = null;
      const term = await Deno.stat(`${dir}/term`).catch(() => null);
      assert.ok(term !== null, "the program got SIGTERM");
      assert.ok(
        (await Deno.stat(`${dir}/clean`).catch(() => null)) !== null,
        `the SIGTERM trap finished its cleanup\n${shutdown.stdout}`,
      );
      assert.match(shutdown.stdout, /shutdown: 0 finished, 1 interrupted and requeued/);
      assert.match(
        shutdown.stdout,
        /phase 3\/6 cancel: finished in [\d.]+s \(1 job\(s\) interrupted/,
      );
      assert.match(
        log,
        new RegExp(`job ${id} command interrupted on attempt 1 \\(queued again\\)`),
      );
      assert.doesNotMatch(log, /did not stop after its signal/);
    } finally {
      if (runtime !== null) await runtime[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a second Ctrl-C forces the shutdown at once: the job's kill grace is not waited for",
  ignore: !LINUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-procs-" });
    let runtime: LiminalProcess | null = null;
    try {
      runtime = await start(dir);
      await enqueueTrapJob(dir, "20s", 10);
      runtime.kill("SIGINT");
      // The drain (10 s by default) is skipped by the force as well.
      await runtime.waitFor((p) => p.stderr.includes("ordered shutdown started"), 5_000);
      // Apart from the first by more than the window in which a repeated signal counts once.
      await new Promise((r) => setTimeout(r, 300));
      runtime.kill("SIGINT");
      const forcedAt = performance.now();
      assert.equal((await runtime.done()).code, 130);
      const took = performance.now() - forcedAt;
      assert.ok(took < 5_000, `forced at once (${took.toFixed(0)}ms)`);
      assert.match(runtime.stderr, /shutdown \(forced\): 0 finished, 1 interrupted and requeued/);
      assert.equal(
        await Deno.stat(`${dir}/clean`).catch(() => null),
        null,
        "no cleanup waited for",
      );
      runtime = null;
    } finally {
      if (runtime !== null) await runtime[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
