/**
 * Human tables line up in terminal columns when cells hold CJK text or emoji.
 */
import assert from "node:assert/strict";
import { formatJobDetail, formatJobTable } from "../../src/commands/_render.ts";
import { formatLeases } from "../../src/commands/leases.ts";
import { formatTable } from "../../src/commands/_output.ts";
import { displayWidth } from "../../src/shared/text_width.ts";
import type { LeaseSnapshot } from "../../src/shared/schedule.ts";
import { job, NOW } from "../tui/_fixtures.ts";

/** The display column at which `needle` starts in `line`. */
function columnOf(line: string, needle: string): number {
  const at = line.indexOf(needle);
  assert.ok(at >= 0, `${JSON.stringify(needle)} in ${JSON.stringify(line)}`);
  return displayWidth(line.slice(0, at));
}

function lease(resource: string, holder: string): LeaseSnapshot {
  return {
    resource,
    holder,
    priority: "coordinate",
    acquiredAt: new Date(NOW).toISOString(),
    expiresAt: new Date(NOW + 600_000).toISOString(),
    leftMs: 600_000,
    jobId: null,
    preemptible: false,
    waiters: [],
  };
}

Deno.test("a lease table with CJK and emoji resources and holders lines up", () => {
  const holders = ["alice", "👩‍🔧 小明", "bob"];
  const out = formatLeases([
    lease("db/orders", holders[0]!),
    lease("数据库/订单", holders[1]!),
    lease("files/📁", holders[2]!),
  ], false);
  const [header, ...rows] = out.trimEnd().split("\n");
  const holder = columnOf(header!, "HOLDER");
  const priority = columnOf(header!, "PRIORITY");
  assert.deepEqual(rows.map((r, i) => columnOf(r, holders[i]!)), [holder, holder, holder]);
  assert.deepEqual(rows.map((r) => columnOf(r, "coordinate")), [priority, priority, priority]);
});

Deno.test("formatTable pads by display width: the columns after a wide cell start at one column", () => {
  const rows = [
    { name: "ascii", payload: "plain", n: "1" },
    { name: "日本語の名前", payload: "🎉🎉", n: "22" },
    { name: "mixed ✅ ok", payload: "x", n: "333" },
  ];
  const out = formatTable(rows, [
    { header: "NAME", value: (r) => r.name },
    { header: "PAYLOAD", value: (r) => r.payload },
    { header: "N", value: (r) => r.n, align: "right" },
  ], false);
  const lines = out.trimEnd().split("\n");
  const payload = columnOf(lines[0]!, "PAYLOAD");
  assert.deepEqual(
    [columnOf(lines[1]!, "plain"), columnOf(lines[2]!, "🎉"), columnOf(lines[3]!, "x ")],
    [payload, payload, payload],
  );
  // Right-aligned numbers end at the same column.
  const ends = lines.map((l) => displayWidth(l));
  assert.equal(new Set(ends).size, 1, `every line ends at one column: ${ends.join(", ")}`);
});

Deno.test("the job table cuts a CJK/emoji error by columns and lines up the rows", () => {
  const long = "磁盘已满💥".repeat(10);
  const out = formatJobTable(
    [
      job("01a2b3c4-0000-7000-8000-000000000001"),
      job("01a2b3c4-0000-7000-8000-000000000002", {
        kind: "fail",
        state: "dead",
        error: { code: "JOB_FAILED", message: long },
      }),
    ],
    false,
    NOW,
  );
  const lines = out.trimEnd().split("\n");
  const state = columnOf(lines[0]!, "STATE");
  assert.equal(columnOf(lines[1]!, "succeeded"), state);
  assert.equal(columnOf(lines[2]!, "dead"), state);
  const error = lines[2]!.slice(lines[2]!.indexOf("磁"));
  assert.ok(
    displayWidth(error) <= 60,
    `the error takes at most 60 columns: ${displayWidth(error)}`,
  );
  assert.ok(displayWidth(error) >= 59, "and is cut by columns, not code units");
  assert.ok(
    !/[\uD800-\uDFFF]/.test(error.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, "")),
    "no half emoji",
  );
});

Deno.test("attempts that do not count against the limit read the same in the list and in show", () => {
  const iso = new Date(NOW - 5_000).toISOString();
  const interruptedAttempts = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      attempt: i + 1,
      worker: "w1",
      startedAt: iso,
      endedAt: iso,
      durationMs: 5,
      outcome: "interrupted" as const,
      error: null,
    }));
  // Two jobs with the same all-interrupted history, one attempt apart: both show the
  // failures that count (none) and the attempts made in all.
  const three = job("01a2c000-0000-7000-8000-000000000003", {
    state: "queued",
    attempt: 3,
    failures: 0,
    attempts: interruptedAttempts(3),
  });
  const four = job("01a2c000-0000-7000-8000-000000000004", {
    state: "queued",
    attempt: 4,
    failures: 0,
    attempts: interruptedAttempts(4),
  });
  const table = formatJobTable([three, four], false, NOW);
  assert.match(table, /0\/3 \(3 in all\)/);
  assert.match(table, /0\/3 \(4 in all\)/);
  const detail = formatJobDetail(four, false, NOW);
  assert.match(detail, /4 made; 0 failed of 3 allowed; 4 interrupted \(not counted\)/);
  assert.doesNotMatch(detail, /since the retry/);
  // An ordinary job reads plainly.
  assert.match(formatJobTable([job("01a2c000-0000-7000-8000-000000000001")], false, NOW), / 1\/3 /);
});
