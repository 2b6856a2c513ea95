import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../src/shared/duration.ts";
import { isLiminalError, LiminalError } from "../../src/shared/errors.ts";
import { idTime, isId, newId } from "../../src/shared/ids.ts";
import { MAX_PAYLOAD_BYTES, parseJson, serializePayload } from "../../src/shared/json.ts";
import { parsePriority, priorityLevel } from "../../src/shared/priority.ts";

Deno.test("parseDuration takes units and combinations, and quotes bad values", () => {
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("10s"), 10_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("1.5s"), 1_500);
  assert.equal(parseDuration(42), 42);
  for (const bad of ["10x", "", "s", "10", "-1s", "1s2", "ten seconds"]) {
    assert.throws(
      () => parseDuration(bad, "--grace"),
      (e) =>
        isLiminalError(e, "INVALID_DURATION") && e.message.includes(`"${bad}"`) &&
        e.message.includes("--grace"),
    );
  }
  assert.throws(() => parseDuration(-5), (e) => isLiminalError(e, "INVALID_DURATION"));
  assert.throws(() => parseDuration(Number.NaN), (e) => isLiminalError(e, "INVALID_DURATION"));
});

Deno.test("a duration longer than 10 years is refused, as text or as a number", () => {
  assert.equal(parseDuration("3650d"), 3650 * 86_400_000);
  for (const bad of ["3651d", "99999999999d", 1e300, 3650 * 86_400_000 + 1]) {
    assert.throws(
      () => parseDuration(bad, "--delay"),
      (e) =>
        isLiminalError(e, "INVALID_DURATION") && e.message.includes("--delay") &&
        e.message.includes("3650d"),
    );
  }
});

Deno.test("formatDuration reads well", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(1_400), "1.4s");
  assert.equal(formatDuration(12_000), "12s");
  assert.equal(formatDuration(123_000), "2m 3s");
  assert.equal(formatDuration(3_900_000), "1h 5m");
  assert.equal(formatDuration(0.25), "0.25ms");
});

Deno.test("formatDuration rounds before it splits: never 60s or 60m", () => {
  assert.equal(formatDuration(59_700), "1m");
  assert.equal(formatDuration(899_600), "15m", "14 min 59.6 s");
  assert.equal(formatDuration(3_599_700), "1h", "59 min 59.7 s");
  assert.equal(formatDuration(86_399_000), "1d", "23 h 59 min 59 s");
  assert.equal(formatDuration(-59_700), "-1m");
  assert.equal(formatDuration(119_400), "1m 59s");
});

Deno.test("parsePriority accepts the five levels and lists them on error", () => {
  assert.equal(parsePriority("critical"), "critical");
  assert.equal(priorityLevel("info"), 0);
  assert.equal(priorityLevel("override"), 4);
  assert.throws(() => parsePriority("urgent"), (e) =>
    isLiminalError(e, "INVALID_PRIORITY") &&
    e.message ===
      'invalid priority "urgent"; use one of: info, coordinate, blocking, critical, override');
});

Deno.test("parseJson names the input and the position of a mistake", () => {
  assert.deepEqual(parseJson('{"ms": 5}', "--payload"), { ms: 5 });
  assert.throws(
    () => parseJson('{"ms": }', "--payload"),
    (e) =>
      isLiminalError(e, "INVALID_JSON") && /--payload/.test(e.message) &&
      /position 7/.test(e.message),
  );
});

Deno.test("serializePayload refuses what is not JSON or over 1 MiB", () => {
  assert.equal(serializePayload(undefined), "null");
  assert.equal(serializePayload({ a: [1, "x"] }), '{"a":[1,"x"]}');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => serializePayload(cyclic), (e) => isLiminalError(e, "INVALID_PAYLOAD"));
  assert.throws(() => serializePayload(() => 1), (e) => isLiminalError(e, "INVALID_PAYLOAD"));
  const almost = "x".repeat(MAX_PAYLOAD_BYTES - 2);
  assert.equal(serializePayload(almost).length, MAX_PAYLOAD_BYTES);
  assert.throws(
    () => serializePayload(almost + "x"),
    (e) => isLiminalError(e, "PAYLOAD_TOO_LARGE"),
  );
  // Multi-byte characters count as their UTF-8 size.
  assert.throws(
    () => serializePayload("é".repeat(MAX_PAYLOAD_BYTES / 2)),
    (e) => isLiminalError(e, "PAYLOAD_TOO_LARGE"),
  );
});

Deno.test("newId makes UUIDv7 ids that sort by creation", () => {
  const ids = Array.from({ length: 10_000 }, () => newId());
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i]! > ids[i - 1]!, `${ids[i]} > ${ids[i - 1]}`);
  }
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids.slice(0, 100)) {
    assert.ok(isId(id));
    assert.equal(id[14], "7", "version 7");
    assert.ok("89ab".includes(id[19]!), "RFC 9562 variant");
  }
  const at = Date.UTC(2027, 5, 1);
  assert.equal(idTime(newId(at)), at);
});

Deno.test("LiminalError maps codes to exit and HTTP statuses", () => {
  const error = new LiminalError("UNKNOWN_JOB_KIND", "unknown", { hint: "did you mean" });
  assert.equal(error.exitCode, 2);
  assert.equal(error.status, 400);
  assert.deepEqual(error.toJSON(), {
    code: "UNKNOWN_JOB_KIND",
    message: "unknown",
    hint: "did you mean",
  });
  assert.equal(new LiminalError("RUNTIME_UNREACHABLE", "x").exitCode, 3);
  assert.equal(new LiminalError("CONFLICT", "x").exitCode, 4);
});

Deno.test("jsonErrorOffset finds where the text stops being JSON", async () => {
  const { jsonErrorOffset } = await import("../../src/shared/json.ts");
  const cases: [string, number][] = [
    ['{"ms": }', 7],
    ['{"a": 1,}', 8],
    ["[1, 2", 5],
    ['{"a" 1}', 5],
    ["tru", 3],
    ['{"a": "x\\q"}', 9],
    ["[1] x", 4],
    ["", 0],
  ];
  for (const [text, offset] of cases) assert.equal(jsonErrorOffset(text), offset, text);
  assert.throws(
    () => parseJson('{\n  "a": ,\n}', "plan p.json"),
    (e) => isLiminalError(e) && /plan p\.json/.test(e.message) && /line 2 column 8/.test(e.message),
  );
});
