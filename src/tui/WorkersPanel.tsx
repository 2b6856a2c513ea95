/**
 * Workers, one row each: idle, busy or stuck; the job's kind and id, elapsed time, progress,
 * done and failed counts. Stuck workers and jobs slower than usual stand out.
 *
 * @module
 */
import { Text } from "ink";
import type { RuntimeSnapshot, WorkerSnapshot } from "../shared/snapshot.ts";
import { cell, fg, formatMs, shortId } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link WorkersPanel}. */
export interface WorkersPanelProps {
  snapshot: RuntimeSnapshot | null;
  focused: boolean;
  selected: number;
  /** Rows available for workers (the count of the others goes in the title). */
  rows: number;
}

function progressText(worker: WorkerSnapshot): string {
  const p = worker.job?.progress;
  if (!p) return "";
  if (p.total === null || p.total <= 0) return String(p.done);
  const pct = Math.max(0, Math.min(100, Math.round((p.done / p.total) * 100)));
  const filled = Math.round(pct / 10);
  return `${"█".repeat(filled)}${"░".repeat(10 - filled)} ${pct}%`;
}

/** The worker table; the selected row is inverted when the panel has the focus. */
export function WorkersPanel({ snapshot, focused, selected, rows }: WorkersPanelProps) {
  const workers = snapshot?.executor.workers ?? [];
  const slow = new Set(
    (snapshot?.warnings ?? []).filter((w) => w.code === "JOB_SLOWER_THAN_USUAL").map((w) =>
      w.workerId
    ),
  );
  const start = Math.max(0, Math.min(selected - rows + 1, workers.length - rows));
  const shown = workers.slice(start, start + Math.max(1, rows));
  const busy = workers.filter((w) => w.state !== "idle").length;
  // The hidden rows are counted in the title, not on a line of their own: at 80×24 that
  // line is a worker's.
  const hidden = workers.length - shown.length;
  const note = `${busy}/${workers.length} busy${
    hidden > 0 ? ` · ${hidden} more (↑↓ to scroll)` : ""
  }`;
  return (
    <Panel title="Workers" note={note} focused={focused}>
      {shown.map((w, i) => {
        const index = start + i;
        const color = w.state === "stuck" ? "red" : w.state === "busy" ? "cyan" : "gray";
        const job = w.job;
        return (
          <Text key={w.id} wrap="truncate" inverse={focused && index === selected}>
            <Text>{cell(w.id, 5)}</Text>
            <Text color={color} bold={w.state === "stuck"}>{cell(w.state, 6)}</Text>
            <Text>{cell(job ? job.kind : "", 13)}</Text>
            <Text dimColor>{cell(job ? shortId(job.id) : "", 14)}</Text>
            <Text {...fg(slow.has(w.id) ? "yellow" : undefined)}>
              {cell(job ? formatMs(job.elapsedMs) : "", 7, "right")}
            </Text>
            <Text>{" "}{cell(progressText(w), 16)}</Text>
            <Text>{cell(`✓${w.done}`, 7, "right")}</Text>
            <Text {...fg(w.failed > 0 ? "red" : undefined)}>
              {cell(`✗${w.failed}`, 7, "right")}
            </Text>
          </Text>
        );
      })}
    </Panel>
  );
}
