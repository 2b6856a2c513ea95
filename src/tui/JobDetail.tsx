/**
 * One job in full: spec, state, attempts with errors and durations, progress, last log lines.
 * The payload's `env` values are always masked here (`jobs show --reveal` shows them).
 *
 * @module
 */
import { Box, Text } from "ink";
import type { JobSnapshot } from "../shared/job.ts";
import { maskPayload } from "../shared/secrets.ts";
import { cell, formatMs } from "./format.ts";

/** Props of {@link JobDetail}. */
export interface JobDetailProps {
  job: JobSnapshot;
  /** Lines available. */
  rows: number;
}

/** The job's fields, attempts and log. */
export function JobDetail({ job, rows }: JobDetailProps) {
  const logs = job.logs.slice(-Math.max(0, rows - 12 - job.attempts.length));
  return (
    <Box flexDirection="column" borderStyle="double" borderColor="cyan" paddingX={1}>
      <Text bold color="cyan">
        job {job.id} <Text dimColor>(esc closes)</Text>
      </Text>
      <Text>
        <Text bold>{job.kind}</Text> · {job.state} · {job.priority} · attempt{" "}
        {job.attempt}/{job.maxAttempts}
        {job.timeoutMs === null ? "" : ` · timeout ${formatMs(job.timeoutMs)}`}
        {job.uniqueKey === null ? "" : ` · key ${job.uniqueKey}`}
      </Text>
      <Text wrap="truncate">payload {JSON.stringify(maskPayload(job.payload))}</Text>
      {job.progress
        ? (
          <Text>
            progress {job.progress.done}
            {job.progress.total === null ? "" : `/${job.progress.total}`}
          </Text>
        )
        : null}
      {job.error
        ? <Text color="red" wrap="truncate">error {job.error.code}: {job.error.message}</Text>
        : null}
      {job.attempts.map((a) => (
        <Text key={a.attempt} wrap="truncate">
          <Text dimColor>#{a.attempt} {cell(a.worker, 4)}</Text>{" "}
          <Text>{cell(a.outcome ?? "running", 12)}</Text>
          <Text>{cell(a.durationMs === null ? "" : formatMs(a.durationMs), 8, "right")}</Text>
          <Text color="red">{"  "}{a.error?.message ?? ""}</Text>
        </Text>
      ))}
      {logs.length > 0 ? <Text bold>log</Text> : null}
      {logs.map((line, i) => (
        <Text key={i} wrap="truncate" dimColor>{line.at.slice(11, 19)} {line.message}</Text>
      ))}
      {job.result !== null
        ? <Text wrap="truncate">result {JSON.stringify(job.result)}</Text>
        : null}
    </Box>
  );
}
