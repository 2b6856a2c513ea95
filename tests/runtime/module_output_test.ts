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
    const out = records.filter((r) => r.category.join(".") === "liminal.output")
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
