/**
 * JSON log lines: the message reads as text (values unquoted), the values are fields.
 */
import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { jsonLineFormatter } from "../../src/commands/_logging.ts";

function record(
  rawMessage: string,
  message: unknown[],
  properties: Record<string, unknown>,
): LogRecord {
  return {
    category: ["liminal", "cli"],
    level: "info",
    timestamp: Date.UTC(2026, 10, 25, 12),
    rawMessage,
    message,
    properties,
  };
}

Deno.test("JSON lines: values sit in the message unquoted and stay fields under properties", () => {
  const format = jsonLineFormatter();
  const line = format(record(
    "liminal {version} running (pid {pid}, kinds: {kinds}, {flags})",
    ["liminal ", "0.1.0", " running (pid ", 4242, ", kinds: ", "a, b", ", ", { x: 1 }, ")"],
    { version: "0.1.0", pid: 4242, kinds: "a, b", flags: { x: 1 } },
  ));
  assert.ok(line.endsWith("\n"));
  const parsed = JSON.parse(line);
  assert.equal(parsed.message, 'liminal 0.1.0 running (pid 4242, kinds: a, b, {"x":1})');
  assert.ok(!line.includes('\\"0.1.0\\"'), line);
  assert.deepEqual(parsed.properties, {
    version: "0.1.0",
    pid: 4242,
    kinds: "a, b",
    flags: { x: 1 },
  });
  assert.equal(parsed.level, "INFO");
  assert.equal(parsed.logger, "liminal.cli");
  // A value named like one of the line's own fields does not overwrite it.
  const failed = JSON.parse(format(record(
    "job {id} failed: {message}",
    ["job ", "j1", " failed: ", "disk full", ""],
    { id: "j1", message: "disk full", level: "x" },
  )));
  assert.equal(failed.message, "job j1 failed: disk full");
  assert.equal(failed.level, "INFO");
  assert.equal(failed.properties.message, "disk full");
});
