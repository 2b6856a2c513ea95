/**
 * Whether a dashboard can run here, without loading the dashboard (Ink and React cost tens
 * of megabytes of memory; a runtime without a terminal never loads them).
 *
 * @module
 */

/** Whether a dashboard can run here: a terminal on stdin and stdout, no `CI`. */
export function dashboardPossible(): boolean {
  const ci = Deno.env.get("CI");
  if (ci !== undefined && ci !== "" && ci !== "0" && ci !== "false") return false;
  try {
    return Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Loads the dashboard with React's production build. React picks its build from `NODE_ENV`
 * when first loaded, and its development build records a `performance.measure` entry for
 * every render that nothing ever clears: a dashboard left open for an hour grew by hundreds
 * of megabytes. `NODE_ENV` is set only for the import and then restored, so that the
 * processes jobs start never inherit it. An explicit `NODE_ENV` is respected.
 */
export async function loadDashboard(): Promise<typeof import("./mod.ts")> {
  const before = Deno.env.get("NODE_ENV");
  if (before !== undefined) return await import("./mod.ts");
  Deno.env.set("NODE_ENV", "production");
  try {
    return await import("./mod.ts");
  } finally {
    Deno.env.delete("NODE_ENV");
  }
}
