/**
 * The captured console: inside a handler of a loaded kind, a line goes to that job's log and
 * to the `liminal.output` log; elsewhere to the log only; nothing is printed.
 */
import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { defineJob, type JobContext } from "../../src/executor/job_kind.ts";
import { captureConsole, withJobOutput } from "../../src/runtime/module_output.ts";

Deno.test("captureConsole: a handler's console.log reaches its job's log and the runtime log", async () => {
  const records: LogRecord[] = [];
  configureSync({
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: ["liminal"], lowestLevel: "debug", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["mem"] },
    ],
    reset: true,
  });
  const original = console.log;
  const restore = captureConsole();
  try {
    const kind = withJobOutput(defineJob({
      kind: "chatty",
      handler: async () => {
        console.log("hello from %s", "handler");
        await new Promise((r) => setTimeout(r, 1));
        console.warn("second\nline");
        return 1;
      },
    }));
    const jobLog: string[] = [];
    const ctx = {
      job: { id: "j1", kind: "chatty" },
      log: (m: string) => jobLog.push(m),
    } as unknown as JobContext<unknown>;
    const other = Promise.resolve().then(() => console.info("not in a job"));
    assert.equal(await kind.handler(ctx as never), 1);
    await other;
    assert.deepEqual(jobLog, ["hello from handler", "second", "line"]);
    const out = records.filter((r) => r.category.join(".").startsWith("liminal.output"))
      .map((r) => ({ level: r.level, ...r.properties }) as Record<string, unknown>);
    assert.equal(out.length, 3, JSON.stringify(out));
    assert.ok(
      out.some((r) =>
        r.level === "info" && r.event === "job.output" && r.id === "j1" && r.kind === "chatty" &&
        r.output === "hello from handler" && r.stream === "stdout"
      ),
    );
    assert.ok(
      out.some((r) =>
        r.level === "warning" && r.event === "job.output" && r.output === "second\nline" &&
        r.stream === "stderr"
      ),
    );
    assert.ok(out.some((r) => r.event === "module.output" && r.output === "not in a job"));
  } finally {
    restore();
    resetSync();
  }
  assert.equal(console.log, original, "restored");
});

Deno.test("captureConsole: table, dir, trace, assert, count and time become log lines, none is printed", () => {
  const records: LogRecord[] = [];
  configureSync({
    sinks: { mem: (r: LogRecord) => records.push(r) },
    loggers: [
      { category: ["liminal"], lowestLevel: "debug", sinks: ["mem"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["mem"] },
    ],
    reset: true,
  });
  const originals = [console.table, console.dir, console.trace, console.assert, console.count];
  const restore = captureConsole();
  try {
    console.table([{ a: 1 }]);
    console.dir({ deep: { x: 2 } });
    console.trace("where");
    console.assert(1 + 1 === 3, "math");
    console.assert(true, "not printed");
    console.count("n");
    console.count("n");
    console.time("t");
    console.timeEnd("t");
    const outputs = records.map((r) => String(r.properties.output));
    assert.equal(outputs.length, 7, outputs.join(" | "));
    assert.match(outputs[0]!, /a: 1/);
    assert.match(outputs[1]!, /deep/);
    assert.match(outputs[2]!, /^Trace: where\n/);
    assert.equal(outputs[3], "Assertion failed: math");
    assert.deepEqual(outputs.slice(4, 6), ["n: 1", "n: 2"]);
    assert.match(outputs[6]!, /^t: \d+\.\d{3}ms$/);
  } finally {
    restore();
    resetSync();
  }
  assert.deepEqual(
    [console.table, console.dir, console.trace, console.assert, console.count],
    originals,
    "restored",
  );
});
