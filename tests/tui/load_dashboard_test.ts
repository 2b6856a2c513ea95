/**
 * The dashboard runs on React's production build: the development build records a
 * `performance.measure` entry per render that nothing clears, and a dashboard left open grew
 * without bound. Checked in a fresh process, since this one has React loaded already.
 */
import assert from "node:assert/strict";
import { PERMISSIONS } from "../_support/cli.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const TERMINAL = new URL("../../src/tui/terminal.ts", import.meta.url).href;

async function renderMany(
  env: Record<string, string>,
): Promise<{ entries: number; nodeEnv: string }> {
  const script = `
    const { loadDashboard } = await import(${JSON.stringify(TERMINAL)});
    await loadDashboard();
    const { createElement, useEffect, useState } = await import("react");
    const { Text } = await import("ink");
    const { render } = await import("ink-testing-library");
    function Ticker() {
      const [n, setN] = useState(0);
      useEffect(() => { if (n < 200) setTimeout(() => setN(n + 1), 0); }, [n]);
      return createElement(Text, null, "tick " + n);
    }
    const app = render(createElement(Ticker));
    while (!app.lastFrame()?.includes("tick 200")) await new Promise((r) => setTimeout(r, 5));
    app.unmount();
    console.log(JSON.stringify({ entries: performance.getEntries().length, nodeEnv: Deno.env.get("NODE_ENV") ?? "unset" }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", `--config=${CONFIG}`, ...PERMISSIONS, script],
    env,
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("the dashboard loads React's production build: renders leave no performance entries", async () => {
  const env = Deno.env.toObject();
  delete env.NODE_ENV;
  const result = await renderMany(env);
  assert.equal(result.entries, 0, "no performance entries pile up");
  assert.equal(result.nodeEnv, "unset", "NODE_ENV is restored, so job processes do not inherit it");
});

Deno.test("an explicit NODE_ENV is respected", async () => {
  const result = await renderMany({ ...Deno.env.toObject(), NODE_ENV: "development" });
  assert.equal(result.nodeEnv, "development");
  assert.ok(result.entries > 0, "React's development build is the one the user asked for");
});
