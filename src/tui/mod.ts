/**
 * The live dashboard (Ink): `runDashboard(view)` takes the terminal (alternate screen, raw
 * input, hidden cursor) and gives it back on every way out.
 *
 * @module
 */
import { render } from "ink";
import { createElement } from "react";
import process from "node:process";
import type { RuntimeView } from "../shared/view.ts";
import { App, type DashboardExit } from "./App.tsx";

export { App, type DashboardExit } from "./App.tsx";
export { Dashboard, type DashboardProps } from "./Dashboard.tsx";
export type { DashboardModel } from "./model.ts";
export { dashboardPossible } from "./terminal.ts";

const ENTER_ALT = "\x1b[?1049h\x1b[H";
const LEAVE_ALT = "\x1b[?1049l";
const SHOW_CURSOR = "\x1b[?25h";

/** Options of {@link runDashboard}. */
export interface RunDashboardOptions {
  /**
   * Let Ink print `console` output above the frame. Off where the console is captured into
   * the log already (`liminal start`): Ink's patch would take it back onto the screen.
   * @default true
   */
  patchConsole?: boolean;
}

/**
 * Shows the dashboard until it exits: for a local runtime, once it has stopped; for a remote
 * one, when the user detaches. The terminal is restored whatever happens.
 */
export async function runDashboard(
  view: RuntimeView,
  options: RunDashboardOptions = {},
): Promise<DashboardExit> {
  let how: DashboardExit = "detached";
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      if (process.stdin.isTTY) process.stdin.setRawMode?.(false);
    } catch {
      // Not a terminal any more.
    }
    process.stdout.write(LEAVE_ALT + SHOW_CURSOR);
  };
  globalThis.addEventListener("unload", restore);
  process.stdout.write(ENTER_ALT);
  const instance = render(createElement(App, { view, onExit: (h: DashboardExit) => (how = h) }), {
    exitOnCtrlC: false,
    patchConsole: options.patchConsole ?? true,
  });
  try {
    await instance.waitUntilExit();
  } finally {
    instance.unmount();
    instance.cleanup();
    restore();
    globalThis.removeEventListener("unload", restore);
  }
  return how;
}
