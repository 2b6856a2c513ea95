/**
 * The newest jobs: state, kind, id, duration, attempts and error, failing ones in colour.
 *
 * @module
 */
import { Text } from "ink";
import { type JobSnapshot, presentError } from "../shared/job.ts";
import { cell, formatMs, shortId } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link RecentJobsPanel}. */
export interface RecentJobsPanelProps {
  jobs: readonly JobSnapshot[];
  focused: boolean;
  selected: number;
  rows: number;
  /** The time to measure a running attempt to (epoch ms). */
  now?: number;
}

const STATE_COLOR: Record<string, string> = {
  succeeded: "green",
  dead: "red",
  cancelled: "yellow",
  running: "cyan",
  queued: "white",
  scheduled: "gray",
};

/** Time spent in attempts; a running attempt counts up to `now`. */
function duration(job: JobSnapshot, now: number | undefined): string {
  if (job.attempts.length === 0) return "-";
  return formatMs(job.attempts.reduce((sum, a) => {
    if (a.durationMs !== null) return sum + a.durationMs;
    return now === undefined ? sum : sum + Math.max(0, now - Date.parse(a.startedAt));
  }, 0));
}

/** The recent jobs table; the selected row is inverted when the panel has the focus. */
export function RecentJobsPanel({ jobs, focused, selected, rows, now }: RecentJobsPanelProps) {
  const start = Math.max(0, Math.min(selected - rows + 1, jobs.length - rows));
  const shown = jobs.slice(start, start + Math.max(0, rows));
  return (
    <Panel title="Recent jobs" note="enter details · c cancel · r retry" focused={focused}>
      {jobs.length === 0 ? <Text dimColor>no jobs yet: e to enqueue one</Text> : null}
      {shown.map((job, i) => (
        <Text key={job.id} wrap="truncate" inverse={focused && start + i === selected}>
          <Text color={STATE_COLOR[job.state] ?? "white"}>{cell(job.state, 10)}</Text>
          <Text>{cell(job.kind, 14)}</Text>
          <Text dimColor>{cell(shortId(job.id), 14)}</Text>
          <Text>{cell(duration(job, now), 8, "right")}</Text>
          <Text>{cell(`${job.attempt}/${job.maxAttempts}`, 6, "right")}</Text>
          <Text color="red">
            {" "}
            {presentError(job)?.message ?? ""}
          </Text>
        </Text>
      ))}
    </Panel>
  );
}
