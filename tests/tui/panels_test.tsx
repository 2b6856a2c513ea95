/**
 * Every panel as frames (strings): empty, busy and warning states, at 80 columns.
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { Header, summaryParts } from "../../src/tui/Header.tsx";
import { QueuePanel } from "../../src/tui/QueuePanel.tsx";
import { ThroughputPanel } from "../../src/tui/ThroughputPanel.tsx";
import { WorkersPanel } from "../../src/tui/WorkersPanel.tsx";
import { RecentJobsPanel } from "../../src/tui/RecentJobsPanel.tsx";
import { WarningsPanel } from "../../src/tui/WarningsPanel.tsx";
import { ShutdownPanel } from "../../src/tui/ShutdownPanel.tsx";
import { Dashboard } from "../../src/tui/Dashboard.tsx";
import { PRIORITIES } from "../../src/shared/priority.ts";
import type { DashboardModel } from "../../src/tui/model.ts";
import { busy, depth, job, NOW, snapshot, worker } from "./_fixtures.ts";

function frame(element: React.ReactElement): string {
  const instance = render(element);
  const out = instance.lastFrame() ?? "";
  instance.unmount();
  return out;
}

function lines(text: string): string[] {
  return text.split("\n");
}

const emptyHistory = Object.fromEntries(
  PRIORITIES.map((p) => [p, [] as number[]]),
) as DashboardModel["depthHistory"];

Deno.test("Header: who, where and the summary bar; an error before any snapshot", () => {
  const s = snapshot({
    executor: {
      totals: { ...snapshot().executor.totals, succeeded: 1234, failedAttempts: 3 },
      queue: {
        byPriority: depth({ info: 40 }),
        byState: {
          scheduled: 5,
          queued: 40,
          running: 2,
          succeeded: 1234,
          dead: 1,
          cancelled: 0,
        },
      },
    },
  });
  const out = frame(
    <Header
      snapshot={s}
      mode="local"
      location="x"
      updatedAt={NOW - 300}
      error={null}
      now={NOW}
      width={100}
    />,
  );
  assert.match(
    out,
    /liminal 0\.1\.0 running · pid 4242 · up 1m 5s · sqlite \.liminal\/liminal\.db/,
  );
  // Two scopes, labelled: this runtime since it started, and what the store holds.
  assert.match(
    out,
    /since start: 1234 done · 3 failed {2}in the store: 2 running · 40 queued · 5 scheduled · 1 dead/,
  );
  assert.doesNotMatch(out, /processed/);
  const at = (width: number, extra: Partial<Parameters<typeof Header>[0]> = {}) =>
    lines(
      frame(
        <Header
          snapshot={s}
          mode="local"
          location="x"
          updatedAt={NOW - 300}
          error={null}
          now={NOW}
          width={width}
          {...extra}
        />,
      ),
    )[1]!;
  // (ink-testing-library draws 100 columns: the widest wording is checked as text.)
  assert.match(
    summaryParts(s, "300ms", null, 140).map((p) => p.text).join(""),
    /^since start: 1234 done · 3 failed attempts {2}in the store: 2 running · 40 queued · 5 scheduled · 1 dead {2}updated 300ms ago$/,
  );
  // At 80 columns the shorter wording fits whole, labels and all.
  const narrow = at(80);
  assert.equal(narrow, "since start: 1234 done · 3 failed  store: 2 running · 40 queued · 1 dead");
  // A snapshot getting old says so first.
  assert.match(at(80, { updatedAt: NOW - 12_000 }), /^updated 12s ago {2}since start: 1234 done/);
  const down = frame(
    <Header
      snapshot={null}
      mode="remote"
      location="s.sock"
      updatedAt={null}
      error="no runtime answers on s.sock"
      now={NOW}
      width={80}
    />,
  );
  assert.match(down, /no runtime answers on s\.sock/);
});

Deno.test("QueuePanel: depth per priority with a sparkline, oldest wait, and starvation", () => {
  const history = { ...emptyHistory, info: [0, 5, 10, 40], critical: [1, 0] };
  const s = snapshot({
    executor: {
      queue: { ...snapshot().executor.queue, byPriority: depth({ info: 40, critical: 2 }) },
    },
    warnings: [{
      code: "JOB_WAITING_TOO_LONG",
      message: "the oldest info job has waited 2m",
      priority: "info",
    }],
  });
  const out = frame(<QueuePanel snapshot={s} history={history} width={50} />);
  const rows = lines(out);
  assert.ok(rows.every((r) => r.length <= 50), "fits its width");
  const info = rows.find((r) => r.includes("info"))!;
  assert.match(info, /info\s+40/);
  assert.match(info, /[▁▂▃▄▅▆▇█]/);
  assert.match(info, /1\.5s starving/);
  assert.match(rows.find((r) => r.includes("critical"))!, /critical\s+2\s/);
  assert.doesNotMatch(rows.find((r) => r.includes("critical"))!, /starving/);
  const empty = frame(<QueuePanel snapshot={null} history={emptyHistory} width={40} />);
  assert.match(empty, /override\s+0/);
});

Deno.test("ThroughputPanel: rates, a chart of the last minute, wait and run percentiles", () => {
  const s = snapshot({
    executor: {
      throughput: {
        perSecond1s: 12.5,
        perSecond10s: 10,
        perSecond60s: 8,
        lastMinute: [...Array(58).fill(0), 5, 12],
      },
      waitMs: { count: 10, p50: 1, p95: 4, p99: 5, max: 6, mean: 2 },
      runMs: { count: 10, p50: 20, p95: 200, p99: 300, max: 310, mean: 40 },
    },
  });
  const out = frame(<ThroughputPanel snapshot={s} width={50} />);
  assert.match(out, /12\.5\/s now · 10\/s 10s · 8\/s 60s/);
  assert.match(out, /wait p50 1ms p99 5ms/);
  assert.match(out, /run {2}p50 20ms p99 300ms/);
  assert.match(out, /█/);
  // At 80 columns (36 for this panel) long rates stay whole: "/s" only after the first.
  const busy = snapshot({
    executor: {
      throughput: {
        ...s.executor.throughput,
        perSecond1s: 1.4,
        perSecond10s: 1.28,
        perSecond60s: 1.28,
      },
    },
  });
  const narrow = frame(<ThroughputPanel snapshot={busy} width={36} />);
  assert.match(narrow, /1\.4\/s now · 1\.28 10s · 1\.28 60s/);
  assert.doesNotMatch(narrow, /…/);
});

Deno.test("WorkersPanel: idle, busy with progress, stuck stands out; selection scrolls", () => {
  const s = snapshot({
    executor: {
      workers: [
        worker("w1", { done: 3 }),
        busy("w2", "compact", "01a2b3c4-1111-7000-8000-00000000abcd", 2_500, {
          job: {
            ...busy("w2", "compact", "01a2b3c4-1111-7000-8000-00000000abcd", 2_500).job!,
            progress: { done: 5, total: 10 },
          },
        }),
        busy("w3", "backup", "01a2b3c4-2222-7000-8000-00000000ef01", 45_000, {
          state: "stuck",
          silentMs: 45_000,
          failed: 2,
        }),
      ],
    },
  });
  const out = frame(<WorkersPanel snapshot={s} focused selected={0} rows={3} />);
  assert.match(out, /Workers {2}2\/3 busy/);
  assert.match(out, /w1\s+idle/);
  assert.match(out, /w2\s+busy\s+compact\s+01a2b3c4…abcd\s+2\.5s █████░░░░░ 50%/);
  assert.match(out, /w3\s+stuck\s+backup/);
  assert.match(out, /✗2/);
  const scrolled = frame(<WorkersPanel snapshot={s} focused selected={2} rows={1} />);
  assert.match(scrolled, /w3/);
  assert.doesNotMatch(scrolled, /w1 /);
  assert.match(scrolled, /2 more/);
});

Deno.test("RecentJobsPanel: an empty list says how to start; failures show their error", () => {
  assert.match(
    frame(<RecentJobsPanel jobs={[]} focused={false} selected={0} rows={5} />),
    /no jobs yet: e to enqueue one/,
  );
  const out = frame(
    <RecentJobsPanel
      jobs={[
        job("01a2b3c4-0000-7000-8000-000000000001"),
        job("01a2b3c4-0000-7000-8000-000000000002", {
          kind: "fail",
          state: "dead",
          attempt: 3,
          error: { code: "JOB_FAILED", message: "disk on fire" },
        }),
      ]}
      focused
      selected={1}
      rows={5}
    />,
  );
  assert.match(out, /succeeded\s+sleep\s+01a2b3c4…0001\s+12ms\s+1\/3/);
  assert.match(out, /dead\s+fail\s+01a2b3c4…0002.*3\/3 disk on fire/);
});

Deno.test("RecentJobsPanel: a running job's time counts up; an old error is not its own", () => {
  const started = new Date(NOW - 7_000).toISOString();
  const out = frame(
    <RecentJobsPanel
      jobs={[
        job("01a2b3c4-0000-7000-8000-000000000003", {
          kind: "command",
          state: "running",
          attempt: 2,
          attempts: [
            {
              attempt: 1,
              worker: "w1",
              startedAt: started,
              endedAt: started,
              durationMs: 0,
              outcome: "cancelled",
              error: null,
            },
            {
              attempt: 2,
              worker: "w1",
              startedAt: started,
              endedAt: null,
              durationMs: null,
              outcome: null,
              error: null,
            },
          ],
          error: { code: "JOB_CANCELLED", message: "cancelled before it ran" },
        }),
      ]}
      focused={false}
      selected={0}
      rows={5}
      now={NOW}
    />,
  );
  assert.match(out, /running\s+command\s+01a2b3c4…0003\s+7s\s+2\/3/);
  assert.doesNotMatch(out, /cancelled before it ran/);
});

Deno.test("WarningsPanel: all quiet, or one line per warning", () => {
  assert.match(frame(<WarningsPanel warnings={[]} rows={3} />), /all quiet/);
  const out = frame(
    <WarningsPanel
      warnings={[
        { code: "WORKER_STUCK", message: "worker w3 has shown no life for 45s" },
        { code: "RETRY_STORM", message: "40 attempts failed in the last 10s" },
        { code: "EVENT_LOOP_BLOCKED", message: "the event loop was blocked for 450ms" },
      ]}
      rows={2}
    />,
  );
  assert.match(out, /⚠ worker w3 has shown no life/);
  assert.match(out, /⚠ 40 attempts failed/);
  assert.match(out, /1 more/);
});

Deno.test("ShutdownPanel: phases with state and duration, draining jobs with a countdown, the report", () => {
  const deadline = new Date(NOW + 4_200).toISOString();
  const s = snapshot({
    state: "stopping",
    executor: { workers: [busy("w1", "steps", "01a2b3c4-0000-7000-8000-000000000009", 3_000)] },
    shutdown: {
      phase: "drain",
      startedAt: new Date(NOW - 1_000).toISOString(),
      graceMs: 5_000,
      drainDeadline: deadline,
      phases: [
        { index: 1, phase: "intake-closed", status: "started" },
        { index: 1, phase: "intake-closed", status: "finished", durationMs: 0.4 },
        { index: 2, phase: "drain", status: "started" },
      ],
      forced: false,
      report: null,
    },
  });
  const out = frame(<ShutdownPanel snapshot={s} now={NOW} />);
  assert.match(out, /✓ 1 intake-closed\s+finished\s+0\.4ms/);
  assert.match(out, /… 2 drain\s+started/);
  assert.match(out, /6 store-closed\s+waiting/);
  assert.match(out, /1 job\(s\) still running: signals abort in 4\.2s/);
  assert.match(out, /Ctrl-C again to force/);
  // Attached with `liminal top`, Ctrl-C detaches: the panel does not promise to force.
  const attached = frame(<ShutdownPanel snapshot={s} now={NOW} remote />);
  assert.match(attached, /q detaches/);
  assert.doesNotMatch(attached, /again to force/);
  const done = snapshot({
    state: "stopped",
    executor: { workers: [worker("w1")] },
    shutdown: {
      ...s.shutdown!,
      phase: null,
      phases: [
        ...s.shutdown!.phases,
        { index: 2, phase: "drain", status: "finished", durationMs: 900 },
        { index: 4, phase: "router-closed", status: "skipped", detail: "nothing to do" },
      ],
      report: {
        finished: 3,
        interrupted: 1,
        queuedKept: 12,
        durable: true,
        forced: false,
        durationMs: 1400,
        errors: [],
      },
    },
  });
  const report = frame(<ShutdownPanel snapshot={done} now={NOW} />);
  assert.match(report, /– 4 router-closed\s+skipped/);
  assert.match(report, /shutdown: 3 finished, 1 interrupted and requeued, 12 queued kept, 1\.4s/);
});

Deno.test("Dashboard: readable at 80×24 when busy, with warnings; the shutdown view replaces the panels", () => {
  const model: DashboardModel = {
    mode: "local",
    location: ".liminal/liminal.sock",
    snapshot: snapshot({
      executor: {
        workers: Array.from(
          { length: 8 },
          (_, i) => busy(`w${i + 1}`, "sleep", `01a2b3c4-0000-7000-8000-00000000000${i}`, 1_000),
        ),
      },
      warnings: [{ code: "RETRY_STORM", message: "40 attempts failed in the last 10s" }],
    }),
    updatedAt: NOW,
    error: null,
    depthHistory: emptyHistory,
    recent: Array.from(
      { length: 20 },
      (_, i) => job(`01a2b3c4-0000-7000-8000-0000000001${String(i).padStart(2, "0")}`),
    ),
    ended: false,
  };
  const props = {
    model,
    now: NOW,
    focus: "jobs" as const,
    selectedWorker: 0,
    selectedJob: 0,
    overlay: { kind: "none" as const },
    message: null,
  };
  const small = lines(frame(<Dashboard {...props} width={80} height={24} />));
  assert.ok(small.length <= 24, `at most 24 lines, got ${small.length}`);
  assert.ok(small.every((l) => l.length <= 80), "no line wider than 80");
  const text = small.join("\n");
  for (const title of ["Queue", "Throughput", "Workers", "Recent jobs"]) {
    assert.match(text, new RegExp(title));
  }
  assert.match(text, /⚠ 40 attempts failed in the last 10s/, "the warning, on one line");
  assert.match(text, /router: 0 mailbox\(es\)/, "the router, on one line");
  assert.match(text, /more \(↑↓ to scroll\)/, "workers collapse at 80×24");
  assert.match(text, /\? help · tab panel/);
  const large = lines(frame(<Dashboard {...props} width={100} height={40} />));
  assert.ok(
    large.filter((l) => /w\d+\s+busy/.test(l)).length === 8,
    "a taller terminal shows every worker",
  );
  const stopping = frame(
    <Dashboard
      {...props}
      model={{
        ...model,
        snapshot: {
          ...model.snapshot!,
          state: "stopping",
          shutdown: {
            phase: "drain",
            startedAt: new Date(NOW).toISOString(),
            graceMs: 10_000,
            drainDeadline: null,
            phases: [],
            forced: false,
            report: null,
          },
        },
      }}
      width={80}
      height={24}
    />,
  );
  assert.match(stopping, /Shutdown/);
  assert.doesNotMatch(stopping, /Recent jobs/);
});

Deno.test("Dashboard: with a shared store, the header names the node and a Nodes panel shows each node's health", () => {
  const cluster = {
    nodeId: "a",
    readAt: NOW,
    error: null,
    nodes: [
      { id: "a", alive: true, stopping: false, running: 3, self: true },
      { id: "b", alive: true, stopping: true, running: 1, self: false },
      { id: "c", alive: false, stopping: false, running: 0, self: false },
    ].map((n) => ({
      ...n,
      host: "vm",
      pid: 1,
      version: "0.1.0",
      startedAt: NOW - 60_000,
      heartbeatAt: NOW - 1_000,
    })),
  };
  const model: DashboardModel = {
    mode: "local",
    location: ".liminal/liminal.sock",
    snapshot: snapshot({
      store: { kind: "postgres", location: "postgres://liminal@db/ops", durable: true },
      cluster,
    }),
    updatedAt: NOW,
    error: null,
    depthHistory: emptyHistory,
    recent: [],
    ended: false,
  };
  const props = {
    model,
    now: NOW,
    focus: "jobs" as const,
    selectedWorker: 0,
    selectedJob: 0,
    overlay: { kind: "none" as const },
    message: null,
  };
  const large = frame(<Dashboard {...props} width={120} height={40} />);
  assert.match(large, /postgres · node a of 3/);
  assert.match(large, /Nodes\s+2\/3 alive/);
  assert.match(large, /a\*\s+alive\s+3 running/);
  assert.match(large, /b\s+stopping\s+1 running/);
  assert.match(large, /c\s+dead/);
  const small = frame(<Dashboard {...props} width={80} height={24} />);
  assert.match(small, /nodes: 2\/3 alive/, "one line on a small terminal");
});

Deno.test("Dashboard: 80×24 first: with 4 busy workers each queue row shows its depth and oldest wait, and at least two workers show", () => {
  const history = Object.fromEntries(
    PRIORITIES.map((p) => [p, Array.from({ length: 60 }, (_, i) => i % 7)]),
  ) as DashboardModel["depthHistory"];
  const model: DashboardModel = {
    mode: "local",
    location: ".liminal/liminal.sock",
    snapshot: snapshot({
      executor: {
        workers: Array.from(
          { length: 4 },
          (_, i) => busy(`w${i + 1}`, "sleep", `01a2b3c4-0000-7000-8000-00000000000${i}`, 1_000),
        ),
        queue: {
          ...snapshot().executor.queue,
          byPriority: depth({ override: 1, critical: 2, blocking: 3, coordinate: 12, info: 40 }),
        },
      },
    }),
    updatedAt: NOW,
    error: null,
    depthHistory: history,
    recent: Array.from(
      { length: 20 },
      (_, i) => job(`01a2b3c4-0000-7000-8000-0000000001${String(i).padStart(2, "0")}`),
    ),
    ended: false,
  };
  const props = {
    model,
    now: NOW,
    focus: "jobs" as const,
    selectedWorker: 0,
    selectedJob: 0,
    overlay: { kind: "none" as const },
    message: null,
  };
  // 24 rows in tests; a real 80×24 terminal gives the dashboard 23 (see App).
  for (const height of [24, 23]) {
    const out = lines(frame(<Dashboard {...props} width={80} height={height} />));
    const text = out.join("\n");
    assert.ok(out.length <= height, `at most ${height} lines, got ${out.length}`);
    assert.ok(out.every((l) => l.length <= 80), "no line wider than 80");
    const queued = { override: 1, critical: 2, blocking: 3, coordinate: 12, info: 40 };
    for (const [priority, n] of Object.entries(queued)) {
      const row = out.find((l) => l.includes(`│ ${priority} `));
      assert.ok(row !== undefined, `a row for ${priority}\n${text}`);
      const queuePart = row.slice(0, row.indexOf("││") + 1);
      assert.match(
        queuePart,
        new RegExp(`${priority}\\s+${n}\\s+1\\.5s\\b`),
        `${priority}: ${row}`,
      );
      assert.doesNotMatch(queuePart, /…/, `nothing cut in the queue row: ${row}`);
    }
    const workerRows = out.filter((l) => /w\d\s+busy\s+sleep/.test(l));
    assert.ok(workerRows.length >= 2, `at least two worker rows at 80×${height}:\n${text}`);
    for (const row of workerRows) assert.match(row, /✓0\s+✗0 │$/, "the worker row fits");
    if (workerRows.length < 4) assert.match(text, /Workers\s+4\/4 busy · \d more/);
    assert.ok(out.filter((l) => /succeeded\s+sleep/.test(l)).length >= 2, "and recent jobs");
  }
  // Larger terminals use the room: every worker, the sparklines, the router panel.
  const large = lines(frame(<Dashboard {...props} width={120} height={40} />));
  assert.equal(large.filter((l) => /w\d\s+busy\s+sleep/.test(l)).length, 4);
  assert.match(large.find((l) => l.includes("│ info "))!, /info\s+40\s+1\.5s\s+[ ▁▂▃▄▅▆▇█]{20,}/);
  assert.match(large.join("\n"), /Router/);
  // A small terminal still fits, the queue on one line.
  const tiny = lines(frame(<Dashboard {...props} width={60} height={19} />));
  assert.ok(tiny.length <= 19 && tiny.every((l) => l.length <= 60), tiny.join("\n"));
  assert.match(tiny.join("\n"), /queued over 1 · crit 2 · bloc 3 · coor 12 · info 40/);
  assert.ok(tiny.filter((l) => /w\d\s+busy\s+sleep/.test(l)).length >= 2, tiny.join("\n"));
});
