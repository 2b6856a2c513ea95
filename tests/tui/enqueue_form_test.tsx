/**
 * The dashboard's enqueue form submits a job once: the dashboard re-renders it every poll,
 * and each render hands the priority list a new `onChange` and new options, which `Select`
 * (@inkjs/ui) answers by reporting the chosen value again.
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { EnqueueForm } from "../../src/tui/EnqueueForm.tsx";
import type { JsonValue } from "../../src/shared/json.ts";
import type { Priority } from "../../src/shared/priority.ts";
import { tick } from "./_fixtures.ts";

const ENTER = "\r";
const DOWN = "\u001b[B";
const KINDS = [{ kind: "sleep", description: 'waits; payload { "ms": 500 }' }];

async function until(fn: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

Deno.test("EnqueueForm: the chosen priority submits once, however often the form re-renders", async () => {
  const submitted: { kind: string; payload: JsonValue; priority: Priority }[] = [];
  // A new callback on each render, as the App's inline arrow is.
  const form = () => (
    <EnqueueForm
      kinds={KINDS}
      onSubmit={(spec) => submitted.push(spec)}
      error={null}
    />
  );
  const ui = render(form());
  try {
    await until(() => (ui.lastFrame() ?? "").includes("sleep"), "the kinds");
    await tick(50); // the Select's input handler attaches after it is drawn
    ui.stdin.write(ENTER);
    await until(() => (ui.lastFrame() ?? "").includes("payload (JSON"), "the payload step");
    await tick(50);
    for (const ch of '{"ms": 5}') ui.stdin.write(ch);
    await tick();
    ui.stdin.write(ENTER);
    await until(() => (ui.lastFrame() ?? "").includes("priority:"), "the priority step");
    await tick(50);
    ui.stdin.write(DOWN);
    await tick();
    ui.stdin.write(ENTER);
    await until(() => submitted.length > 0, "the submit");
    // The dashboard polls and re-renders while the enqueue is under way.
    for (let i = 0; i < 5; i++) {
      ui.rerender(form());
      await tick(10);
    }
    assert.deepEqual(submitted, [{ kind: "sleep", payload: { ms: 5 }, priority: "info" }]);
  } finally {
    ui.unmount();
  }
});
