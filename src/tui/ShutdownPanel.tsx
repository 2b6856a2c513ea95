/**
 * The ordered shutdown as it happens: each phase with its state and duration, the jobs still
 * draining with a countdown to the grace deadline, and the final report.
 *
 * @module
 */
import { Text } from "ink";
import { formatDuration } from "../shared/duration.ts";
import { SHUTDOWN_PHASES, type ShutdownPhaseEvent } from "../shared/snapshot.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { cell, formatMs, shortId } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link ShutdownPanel}. */
export interface ShutdownPanelProps {
  snapshot: RuntimeSnapshot;
  now: number;
  /** Attached (`liminal top`): Ctrl-C detaches here, it cannot force the runtime's shutdown. */
  remote?: boolean;
}

function lastEvent(
  events: readonly ShutdownPhaseEvent[],
  phase: string,
): ShutdownPhaseEvent | undefined {
  return events.filter((e) => e.phase === phase).at(-1);
}

/** The six phases, the draining jobs, and the report once there is one. */
export function ShutdownPanel({ snapshot, now, remote = false }: ShutdownPanelProps) {
  const progress = snapshot.shutdown;
  const events = progress?.phases ?? [];
  const deadline = progress?.drainDeadline ? Date.parse(progress.drainDeadline) : null;
  const draining = snapshot.executor.workers.filter((w) => w.job !== null);
  const report = progress?.report ?? null;
  return (
    <Panel
      title="Shutdown"
      note={progress?.forced
        ? "forced (second Ctrl-C)"
        : remote
        ? "q detaches"
        : "Ctrl-C again to force"}
      focused
    >
      {SHUTDOWN_PHASES.map((phase, i) => {
        const event = lastEvent(events, phase);
        const status = event?.status ?? "waiting";
        const icon = status === "finished"
          ? "✓"
          : status === "failed"
          ? "✗"
          : status === "skipped"
          ? "–"
          : status === "started"
          ? "…"
          : " ";
        const color = status === "finished"
          ? "green"
          : status === "failed"
          ? "red"
          : status === "started"
          ? "yellow"
          : "gray";
        return (
          <Text key={phase} wrap="truncate">
            <Text color={color} bold>{icon}{" "}</Text>
            <Text>{cell(`${i + 1} ${phase}`, 18)}</Text>
            <Text color={color}>{cell(status, 9)}</Text>
            <Text dimColor>
              {cell(event?.durationMs === undefined ? "" : formatMs(event.durationMs), 8, "right")}
            </Text>
            <Text dimColor>{"  "}{event?.detail ?? ""}</Text>
          </Text>
        );
      })}
      {draining.length > 0
        ? (
          <Text wrap="truncate" color="yellow">
            {draining.length} job(s) still running
            {deadline !== null && progress?.phase === "drain"
              ? `: signals abort in ${formatDuration(Math.max(0, deadline - now))}`
              : ""}
          </Text>
        )
        : null}
      {draining.slice(0, 4).map((w) => (
        <Text key={w.id} dimColor wrap="truncate">
          {"  "}
          {w.id} {w.job?.kind} {shortId(w.job?.id ?? "")} {formatMs(w.job?.elapsedMs)}
          {w.job?.aborting ? ` (aborting: ${w.job.aborting})` : ""}
        </Text>
      ))}
      {report
        ? (
          <Text bold color={report.forced ? "yellow" : "green"} wrap="truncate">
            shutdown{report.forced ? " (forced)" : ""}: {report.finished} finished,{" "}
            {report.interrupted} interrupted and requeued, {report.queuedKept} queued kept,{" "}
            {formatDuration(report.durationMs)}
          </Text>
        )
        : null}
    </Panel>
  );
}
