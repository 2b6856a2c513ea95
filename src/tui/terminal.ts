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
