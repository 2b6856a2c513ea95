/**
 * A runtime's process guard over its lifecycle, with sanitizers on: the watchdog starts with
 * the first command, a shutdown interrupts a running program and leaves no process, no
 * watchdog and an empty record behind.
 */
import assert from "node:assert/strict";
import { Runtime } from "../../src/runtime/runtime.ts";
import { SqliteStore } from "../../src/store/mod.ts";
import { groupAlive } from "../../src/jobs/_process_guard.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const LINUX = Deno.build.os === "linux";

Deno.test({
  name: "a runtime's shutdown stops its command programs and its watchdog; the record is empty",
  ignore: !LINUX,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-guard-" });
    const path = `${dir}/jobs.db`;
    try {
      const runtime = new Runtime({
        store: new SqliteStore({ path }),
        killGrace: "300ms",
        grace: "100ms",
      });
      await runtime.start();
      assert.equal(runtime.processes.watching, false, "no watchdog before the first command");
      const done = await runtime.executor.enqueue({ kind: "command", payload: { cmd: ["true"] } });
      assert.equal((await runtime.executor.waitFor(done.id)).state, "succeeded");
      assert.equal(runtime.processes.watching, true);
      assert.equal(await Deno.readTextFile(`${path}.procs`), "", "nothing live, nothing recorded");
      const { id } = await runtime.executor.enqueue({
        kind: "command",
        payload: { cmd: ["sh", "-c", "trap '' TERM; sleep 30"] },
      });
      let pgid: number | undefined;
      const deadline = performance.now() + 5_000;
      while ((pgid = runtime.processes.liveGroups[0]) === undefined) {
        assert.ok(performance.now() < deadline, "the command started");
        await new Promise((r) => setTimeout(r, 20));
      }
      const record = await Deno.readTextFile(`${path}.procs`);
      assert.match(record, new RegExp(`"pgid":${pgid},"start":"\\d+"`));
      assert.match(record, new RegExp(`"job":"${id}"`));
      const report = await runtime.shutdown();
      assert.equal(report.interrupted, 1);
      assert.equal(await groupAlive(pgid), false, "the program that ignored SIGTERM was killed");
      assert.equal(runtime.processes.watching, false, "the watchdog is gone");
      assert.equal(await Deno.readTextFile(`${path}.procs`), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the runtime's kill grace is checked: a duration of at most 1 h", () => {
  assert.throws(
    () => new Runtime({ killGrace: "2h" }),
    (e) =>
      isLiminalError(e, "INVALID_ARGUMENT") && /kill grace "2h": use at most 1h/.test(e.message),
  );
  assert.throws(
    () => new Runtime({ killGrace: "soon" }),
    (e) => isLiminalError(e, "INVALID_DURATION"),
  );
  assert.equal(new Runtime({ killGrace: "250ms" }).processes.killGraceMs, 250);
});

Deno.test({
  name:
    "a watchdog that keeps dying shows as PROCESS_WATCHDOG_FAILING in the runtime's status; each death is replaced",
  ignore: !LINUX,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const runtime = new Runtime({ killGrace: "300ms", grace: "100ms" });
    await runtime.start();
    try {
      await runtime.executor.enqueue({ kind: "command", payload: { cmd: ["sleep", "30"] } });
      const deadline = performance.now() + 5_000;
      while (runtime.processes.liveGroups.length === 0) {
        assert.ok(performance.now() < deadline, "the command started");
        await new Promise((r) => setTimeout(r, 20));
      }
      const codes = async () => (await runtime.snapshot()).warnings.map((w) => w.code);
      assert.ok(!(await codes()).includes("PROCESS_WATCHDOG_FAILING"));
      for (let i = 0; i < 3; i++) {
        const old = runtime.processes.watchdogPid;
        assert.ok(old !== null);
        Deno.kill(old, "SIGKILL");
        const killed = performance.now();
        while (runtime.processes.watchdogPid === null || runtime.processes.watchdogPid === old) {
          assert.ok(performance.now() - killed < 5_000, `replacement ${i + 1}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      const warning = (await runtime.snapshot()).warnings.find((w) =>
        w.code === "PROCESS_WATCHDOG_FAILING"
      );
      assert.match(warning?.message ?? "", /died 3 times in the last minute/);
    } finally {
      await runtime.shutdown();
    }
  },
});
