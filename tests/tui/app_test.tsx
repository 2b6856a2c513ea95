/**
 * The dashboard's keys, through ink-testing-library: frames after `stdin.write(...)`.
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { App, type DashboardExit } from "../../src/tui/App.tsx";
import { busy, FakeView, job, snapshot, tick } from "./_fixtures.ts";

const KEYS = {
  tab: "\t",
  down: "\u001b[B",
  up: "\u001b[A",
  enter: "\r",
  escape: "\u001b",
  ctrlC: "\u0003",
};

function mount(view: FakeView, size = { width: 100, height: 30 }) {
  const exits: DashboardExit[] = [];
  const instance = render(
    <App
      view={view}
      onExit={(how) => exits.push(how)}
      options={{ pollMs: 20, minIntervalMs: 5 }}
      size={size}
      lingerMs={20}
    />,
  );
  return { ...instance, exits };
}

async function until(fn: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

function fixtureView(mode: "local" | "remote" = "local"): FakeView {
  const view = new FakeView(mode);
  view.recent = [
    job("01a2b3c4-0000-7000-8000-0000000000a1", {
      kind: "fail",
      state: "dead",
      error: { code: "JOB_FAILED", message: "boom" },
    }),
    job("01a2b3c4-0000-7000-8000-0000000000a2"),
  ];
  view.current = snapshot({
    executor: { workers: [busy("w1", "steps", "01a2b3c4-0000-7000-8000-0000000000b1", 1_000)] },
  });
  return view;
}

Deno.test({
  name:
    "keys: ? help, enter details, tab to workers, c asks then cancels, r asks then retries, p pauses",
  async fn() {
    const view = fixtureView();
    const ui = mount(view);
    try {
      await until(() => (ui.lastFrame() ?? "").includes("boom"), "the recent jobs");
      ui.stdin.write("?");
      await until(() => (ui.lastFrame() ?? "").includes("Keys"), "the help");
      assert.match(ui.lastFrame()!, /shut the runtime down in order/);
      ui.stdin.write("x"); // any key closes it
      await until(() => !(ui.lastFrame() ?? "").includes("Keys"), "the help to close");

      ui.stdin.write(KEYS.enter); // details of the selected (first) recent job
      await until(
        () => (ui.lastFrame() ?? "").includes("job 01a2b3c4-0000-7000-8000-0000000000a1"),
        "the job detail",
      );
      ui.stdin.write(KEYS.escape);
      await until(() => !(ui.lastFrame() ?? "").includes("(esc closes)"), "the detail to close");

      ui.stdin.write("r");
      await until(
        () => (ui.lastFrame() ?? "").includes("Retry fail 01a2b3c4-0000-7000-8000-0000000000a1?"),
        "the retry question",
      );
      assert.ok(!view.calls.some((c) => c.startsWith("retry")), "r alone does not retry");
      ui.stdin.write("y");
      await until(
        () => view.calls.includes("retry 01a2b3c4-0000-7000-8000-0000000000a1"),
        "the retry",
      );

      ui.stdin.write(KEYS.tab); // the workers panel
      ui.stdin.write("c");
      await until(
        () => (ui.lastFrame() ?? "").includes("Cancel steps 01a2b3c4-0000-7000-8000-0000000000b1?"),
        "the question",
      );
      ui.stdin.write("n");
      await tick();
      assert.ok(!view.calls.some((c) => c.startsWith("cancel")), "n does not cancel");
      ui.stdin.write("c");
      await until(() => (ui.lastFrame() ?? "").includes("Cancel steps"), "the question again");
      ui.stdin.write("y");
      await until(
        () => view.calls.includes("cancel 01a2b3c4-0000-7000-8000-0000000000b1"),
        "the cancel",
      );

      ui.stdin.write("p");
      await until(() => view.calls.includes("paused true"), "the pause");
      await until(() => (ui.lastFrame() ?? "").includes("intake paused"), "the message");
    } finally {
      ui.unmount();
      view.close();
    }
  },
});

Deno.test({
  name:
    "selection follows the job: newer jobs arrive on top, the same job stays selected and enter/r act on it",
  async fn() {
    const view = fixtureView();
    const [a1, a2] = [
      "01a2b3c4-0000-7000-8000-0000000000a1",
      "01a2b3c4-0000-7000-8000-0000000000a2",
    ];
    const ui = mount(view);
    const frame = () => ui.lastFrame() ?? "";
    /** Opens the selected job's details, checks whose they are, and closes them. */
    const details = async (id: string, what: string) => {
      ui.stdin.write(KEYS.enter);
      await until(() => frame().includes("(esc closes)"), `the details (${what})`);
      assert.ok(frame().includes(`job ${id}`), `${what}: the details of ${id}\n${frame()}`);
      ui.stdin.write(KEYS.escape);
      await until(() => !frame().includes("(esc closes)"), "the details to close");
    };
    try {
      await until(() => frame().includes("boom"), "the recent jobs");
      ui.stdin.write(KEYS.down); // the second job (a2)
      await details(a2, "after down");
      // Two newer jobs arrive on top: a2 moves down two rows and stays selected.
      view.recent = [
        job("01a2b3c4-0000-7000-8000-0000000000a4", { kind: "fresh" }),
        job("01a2b3c4-0000-7000-8000-0000000000a3", { kind: "fresh" }),
        ...view.recent,
      ];
      view.emit("job:enqueued", { id: "01a2b3c4-0000-7000-8000-0000000000a4" });
      await until(() => frame().includes("…00a4"), "the new jobs");
      ui.stdin.write("r");
      await until(() => frame().includes("Retry "), "the question");
      assert.ok(frame().includes(`Retry sleep ${a2}?`), frame());
      assert.ok(!view.calls.some((c) => c.startsWith("retry")), "r alone does not retry");
      ui.stdin.write("y");
      await until(() => view.calls.includes(`retry ${a2}`), "the retry of the selected job");
      await details(a2, "after new jobs arrived");
      // Up from a2 is the row above it now (a1), not the row above where it was.
      ui.stdin.write(KEYS.up);
      await details(a1, "after up");
      // The selected job leaves the list: the selection goes to the row now where it was.
      view.recent = view.recent.filter((j) => j.id !== a1);
      view.emit("job:retried", { id: a1 });
      await until(() => !frame().includes("…00a1"), "a1 gone");
      ui.stdin.write("c");
      await until(() => frame().includes("Cancel "), "cancel asks");
      assert.ok(frame().includes(`Cancel sleep ${a2}?`), frame());
      ui.stdin.write("n");
      assert.ok(!view.calls.includes(`retry ${a1}`), "never the wrong job");
    } finally {
      ui.unmount();
      view.close();
    }
  },
});

Deno.test({
  name: "keys: e opens the enqueue form and submits kind, payload and priority",
  async fn() {
    const view = fixtureView();
    const ui = mount(view);
    try {
      await until(() => (ui.lastFrame() ?? "").includes("Recent jobs"), "the dashboard");
      ui.stdin.write("e");
      await until(() => (ui.lastFrame() ?? "").includes("enqueue a job"), "the form");
      assert.match(ui.lastFrame()!, /sleep\s+waits/);
      await tick(50); // the form's own input handlers attach after it is drawn
      ui.stdin.write(KEYS.enter); // kind: sleep
      await until(() => (ui.lastFrame() ?? "").includes("payload (JSON"), "the payload step");
      assert.ok(ui.lastFrame()!.includes('{ "ms": 500 }'), "the kind's own example payload");
      await tick(50);
      for (const ch of '{"ms": 5}') ui.stdin.write(ch);
      await tick();
      ui.stdin.write(KEYS.enter);
      await until(() => (ui.lastFrame() ?? "").includes("priority:"), "the priority step");
      await tick(50);
      ui.stdin.write(KEYS.down); // coordinate (the default) comes first; down moves to info
      await tick();
      ui.stdin.write(KEYS.enter);
      await until(() => view.calls.some((c) => c.startsWith("enqueue")), "the enqueue");
      assert.deepEqual(view.calls.filter((c) => c.startsWith("enqueue")), [
        'enqueue sleep info {"ms":5}',
      ]);
      await until(() => (ui.lastFrame() ?? "").includes("enqueued sleep"), "the message");
    } finally {
      ui.unmount();
      view.close();
    }
  },
});

Deno.test({
  name:
    "local: q asks, then shuts down; Ctrl-C shuts down and the next forces; the report shows, then it exits",
  async fn() {
    const view = fixtureView("local");
    const ui = mount(view);
    try {
      await until(() => (ui.lastFrame() ?? "").includes("Recent jobs"), "the dashboard");
      ui.stdin.write("q");
      await until(
        () => (ui.lastFrame() ?? "").includes("Shut the runtime down in order?"),
        "the question",
      );
      ui.stdin.write("y");
      await until(() => view.calls.includes("interrupt"), "the shutdown");
      view.current = snapshot({
        state: "stopping",
        shutdown: {
          phase: "drain",
          startedAt: new Date().toISOString(),
          graceMs: 10_000,
          drainDeadline: null,
          phases: [{ index: 1, phase: "intake-closed", status: "finished", durationMs: 1 }],
          forced: false,
          report: null,
        },
      });
      view.emit("state:changed", { from: "running", to: "stopping" });
      await until(() => (ui.lastFrame() ?? "").includes("Shutdown"), "the shutdown view");
      view.interruptResult = "force";
      ui.stdin.write(KEYS.ctrlC);
      await until(() => view.calls.filter((c) => c === "interrupt").length === 2, "the force");
      await until(() => (ui.lastFrame() ?? "").includes("forcing the shutdown"), "the message");
      view.current = snapshot({
        state: "stopped",
        shutdown: {
          phase: null,
          startedAt: new Date().toISOString(),
          graceMs: 10_000,
          drainDeadline: null,
          phases: [],
          forced: true,
          report: {
            finished: 0,
            interrupted: 1,
            queuedKept: 0,
            durable: true,
            forced: true,
            durationMs: 300,
            errors: [],
          },
        },
      });
      view.emit("shutdown:report", {});
      await until(() => ui.exits.length === 1, "the exit");
      assert.deepEqual(ui.exits, ["stopped"]);
    } finally {
      ui.unmount();
      view.close();
    }
  },
});

Deno.test({
  name: "remote: q and Ctrl-C detach and leave the runtime alone",
  async fn() {
    for (const key of ["q", KEYS.ctrlC]) {
      const view = fixtureView("remote");
      const ui = mount(view);
      try {
        await until(() => (ui.lastFrame() ?? "").includes("Recent jobs"), "the dashboard");
        ui.stdin.write(key);
        await until(() => ui.exits.length === 1, "the detach");
        assert.deepEqual(ui.exits, ["detached"]);
        assert.ok(!view.calls.includes("interrupt"));
      } finally {
        ui.unmount();
        view.close();
      }
    }
  },
});

Deno.test({
  name: "a short terminal (60×19): every line fits, the header stays, every priority shows",
  async fn() {
    const view = fixtureView();
    // Four busy workers, the router and a warning: more than 19 rows hold at full size.
    view.current = snapshot({
      executor: {
        workers: ["w1", "w2", "w3", "w4"].map((w, i) =>
          busy(w, "steps", `01a2b3c4-0000-7000-8000-0000000000c${i}`, 1_000)
        ),
      },
      warnings: [{ code: "EVENT_LOOP_BLOCKED", message: "the event loop was blocked for 450ms" }],
    });
    const ui = mount(view, { width: 60, height: 19 });
    try {
      await until(() => /Workers\s+4\/4 busy/.test(ui.lastFrame() ?? ""), "the dashboard");
      const frame = ui.lastFrame()!;
      const lines = frame.split("\n");
      assert.ok(lines.length <= 19, `${lines.length} lines in a 19-line terminal:\n${frame}`);
      assert.match(lines[0]!, /liminal \d+\.\d+\.\d+/);
      // Every priority's depth, in full or abbreviated on one line.
      for (const p of ["override", "critical", "blocking", "coordinate", "info"]) {
        assert.match(frame, new RegExp(`${p.slice(0, 4)}\\w* +\\d`), `${p} is missing:\n${frame}`);
      }
      assert.ok(frame.includes("Workers"), `the workers panel:\n${frame}`);
    } finally {
      ui.unmount();
      view.close();
    }
  },
});
