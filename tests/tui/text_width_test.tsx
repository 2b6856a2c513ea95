/**
 * The dashboard measures and cuts in terminal columns: CJK and emoji cells line up, and rows
 * are cut at the terminal width by display width.
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { Dashboard } from "../../src/tui/Dashboard.tsx";
import { RouterPanel } from "../../src/tui/RouterPanel.tsx";
import { cell, fit } from "../../src/tui/format.ts";
import { PRIORITIES } from "../../src/shared/priority.ts";
import { displayWidth } from "../../src/shared/text_width.ts";
import type { LeaseSnapshot } from "../../src/shared/schedule.ts";
import type { DashboardModel } from "../../src/tui/model.ts";
import { job, NOW, snapshot } from "./_fixtures.ts";

function frame(element: React.ReactElement): string[] {
  const instance = render(element);
  const out = instance.lastFrame() ?? "";
  instance.unmount();
  return out.split("\n");
}

function lease(resource: string, holder: string, leftMs: number): LeaseSnapshot {
  return {
    resource,
    holder,
    priority: "coordinate",
    acquiredAt: new Date(NOW).toISOString(),
    expiresAt: new Date(NOW + leftMs).toISOString(),
    leftMs,
    jobId: null,
    waiters: [],
  };
}

/** The display column at which `needle` starts in `line`. */
function columnOf(line: string, needle: string): number {
  const at = line.indexOf(needle);
  assert.ok(at >= 0, `${JSON.stringify(needle)} in ${JSON.stringify(line)}`);
  return displayWidth(line.slice(0, at));
}

Deno.test("cell() and fit() pad and cut by display width", () => {
  assert.equal(displayWidth(cell("数据库", 10)), 10);
  assert.equal(displayWidth(cell("🎉", 4, "right")), 4);
  // A wide character that would straddle the edge is left out; the cell is padded instead.
  assert.equal(fit("数据库/订单/归档", 9), "数据库/…");
  assert.equal(cell("数据库/订单/归档", 9), "数据库/… ");
  assert.equal(fit("abcdef", 4), "abc…", "ASCII is cut as before");
});

Deno.test("Leases panel: CJK and emoji resources and holders keep the columns in line", () => {
  const leases = [
    lease("db/orders", "alice", 60_000),
    lease("数据库/订单", "👩‍🔧 小明", 120_000),
    lease("存储/归档/二〇二六年十一月", "🤖 清理机器人 v2", 180_000),
  ];
  const out = frame(
    <RouterPanel router={snapshot().router} leases={leases} rows={4} width={100} />,
  );
  const rows = ["alice", "👩‍🔧", "🤖"].map((holder) => out.find((l) => l.includes(holder))!);
  assert.ok(rows.every((r) => r !== undefined), out.join("\n"));
  const holderColumns = rows.map((r, i) => columnOf(r, ["alice", "👩‍🔧", "🤖"][i]!));
  assert.equal(new Set(holderColumns).size, 1, `holders start at one column: ${holderColumns}`);
  const leftColumns = rows.map((r, i) => columnOf(r, ["1m", "2m", "3m"][i]!));
  assert.equal(new Set(leftColumns).size, 1, `time left at one column: ${leftColumns}`);
  // The long resource is cut to its 16 columns with an ellipsis.
  assert.match(rows[2]!, /存储\/归档\/二〇…/);
});

Deno.test("Dashboard: a row with a CJK/emoji error is cut at the terminal width by display width", () => {
  const long = "磁盘已满💥，无法写入备份文件：/数据/备份/二〇二六".repeat(4);
  const model: DashboardModel = {
    mode: "local",
    location: ".liminal/liminal.sock",
    snapshot: snapshot({
      leases: [lease("数据库/订单", "👩‍🔧 小明", 120_000), lease("db/orders", "alice", 60_000)],
    }),
    updatedAt: NOW,
    error: null,
    depthHistory: Object.fromEntries(
      PRIORITIES.map((p) => [p, [] as number[]]),
    ) as DashboardModel["depthHistory"],
    recent: [
      job("01a2b3c4-0000-7000-8000-000000000001"),
      job("01a2b3c4-0000-7000-8000-000000000002", {
        kind: "backup",
        state: "dead",
        error: { code: "JOB_FAILED", message: long },
      }),
    ],
    ended: false,
  };
  for (const [width, height] of [[60, 24], [80, 30], [120, 40]] as const) {
    const lines = frame(
      <Dashboard
        model={model}
        width={width}
        height={height}
        now={NOW}
        focus="jobs"
        selectedWorker={0}
        selectedJob={0}
        overlay={{ kind: "none" }}
        message={null}
      />,
    );
    const widths = lines.map((l) => displayWidth(l));
    assert.ok(
      widths.every((w) => w <= width),
      `no line wider than ${width} columns: ${Math.max(...widths)}\n${lines.join("\n")}`,
    );
    const row = lines.find((l) => l.includes("磁"));
    assert.ok(row !== undefined, lines.join("\n"));
    // The recent-jobs panel spans the screen: its row reaches the right border.
    assert.ok(displayWidth(row) >= width - 1, `the row fills the width: ${displayWidth(row)}`);
    const dead = columnOf(row, "dead");
    const ok = columnOf(lines.find((l) => l.includes("succeeded"))!, "succeeded");
    assert.equal(dead, ok, "the state column starts at one column");
    if (height >= 40) {
      // Tall enough for the leases panel: its CJK row lines up with its ASCII one.
      const cjk = lines.find((l) => l.includes("👩‍🔧"));
      const ascii = lines.find((l) => l.includes("alice"));
      assert.ok(cjk !== undefined && ascii !== undefined, lines.join("\n"));
      assert.equal(columnOf(cjk, "👩‍🔧"), columnOf(ascii, "alice"), lines.join("\n"));
    }
  }
});
