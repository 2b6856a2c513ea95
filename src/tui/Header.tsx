/**
 * The header: runtime state, uptime, pid, store, socket, and a summary bar (processed,
 * failed, running, queued, scheduled, dead) with the age of the last update.
 *
 * @module
 */
import { Box, Text } from "ink";
import { formatDuration } from "../shared/duration.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { fg, fit } from "./format.ts";

/** Props of {@link Header}. */
export interface HeaderProps {
  snapshot: RuntimeSnapshot | null;
  mode: "local" | "remote";
  location: string;
  updatedAt: number | null;
  error: string | null;
  now: number;
  width: number;
}

const STATE_COLOR: Record<string, string> = {
  running: "green",
  starting: "yellow",
  stopping: "yellow",
  stopped: "red",
  created: "gray",
};

/** Two lines: who and where, then the summary bar. */
export function Header({ snapshot, mode, location, updatedAt, error, now, width }: HeaderProps) {
  if (snapshot === null) {
    return (
      <Box flexDirection="column">
        <Text bold>liminal</Text>
        <Text color={error ? "red" : "gray"}>
          {fit(error ?? `connecting to ${location}…`, width)}
        </Text>
      </Box>
    );
  }
  const ex = snapshot.executor;
  const t = ex.totals;
  const where = [
    `pid ${snapshot.pid}`,
    `up ${formatDuration(snapshot.uptimeMs)}`,
    snapshot.cluster === null
      ? `${snapshot.store.kind} ${snapshot.store.location}`
      : `${snapshot.store.kind} · node ${snapshot.cluster.nodeId} of ${snapshot.cluster.nodes.length}`,
    snapshot.socket ?? "no socket",
    mode === "remote" ? "attached" : "in process",
  ].join(" · ");
  const age = updatedAt === null ? "-" : formatDuration(Math.max(0, now - updatedAt));
  const paused = ex.intake === "paused";
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>liminal {snapshot.version}</Text>
        <Text>{" "}</Text>
        <Text bold color={STATE_COLOR[snapshot.state] ?? "white"}>{snapshot.state}</Text>
        {paused ? <Text color="yellow" bold>{" "}(intake paused)</Text> : null}
        <Text dimColor>{" · "}{where}</Text>
      </Text>
      <Text wrap="truncate">
        <Text>{"processed "}</Text>
        <Text bold>{t.succeeded}</Text>
        <Text>{"  failed "}</Text>
        <Text bold {...fg(t.failedAttempts > 0 ? "red" : undefined)}>{t.failedAttempts}</Text>
        <Text>{"  running "}</Text>
        <Text bold color="cyan">{ex.queue.byState.running}</Text>
        <Text>{"  queued "}</Text>
        <Text bold>{ex.queue.byState.queued}</Text>
        <Text>{"  scheduled "}</Text>
        <Text bold>{ex.queue.byState.scheduled}</Text>
        <Text>{"  dead "}</Text>
        <Text bold {...fg(ex.queue.byState.dead > 0 ? "red" : undefined)}>
          {ex.queue.byState.dead}
        </Text>
        {snapshot.warnings.length > 0
          ? (
            <Text color="yellow" bold>
              {"  "}⚠ {snapshot.warnings.length} warning{snapshot.warnings.length === 1 ? "" : "s"}
            </Text>
          )
          : null}
        <Text dimColor>{"  "}updated {age} ago</Text>
        {error ? <Text color="red">{"  "}{error}</Text> : null}
      </Text>
    </Box>
  );
}
