/**
 * The header: runtime state, uptime, pid, store, socket, and a summary bar with its two
 * scopes labelled: what this runtime did since it started (jobs done, failed attempts) and
 * what the store holds now (running, queued, scheduled, dead: dead jobs stay until retried
 * or removed), then warnings and the age of the last update, as much as the width holds.
 *
 * @module
 */
import { Box, Text } from "ink";
import { formatDuration } from "../shared/duration.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { displayWidth } from "../shared/text_width.ts";
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

/** A snapshot this old (ms) is named first on the summary bar. */
const STALE_MS = 3_000;

/** A run of the summary bar. */
interface Part {
  text: string;
  bold?: boolean;
  dim?: boolean;
  color?: string | undefined;
}

const SEP: Part = { text: "  " };
const DOT: Part = { text: " · ", dim: true };

function partsWidth(parts: readonly Part[]): number {
  return parts.reduce((sum, p) => sum + displayWidth(p.text), 0);
}

/**
 * The summary bar's runs: the longest wording of the two labelled scopes that fits `width`,
 * then warnings and the update's age if they fit too.
 */
export function summaryParts(
  snapshot: RuntimeSnapshot,
  age: string,
  error: string | null,
  width: number,
  stale = false,
): Part[] {
  const ex = snapshot.executor;
  const t = ex.totals;
  const s = ex.queue.byState;
  const n = (value: number, color?: string): Part => ({
    text: String(value),
    bold: true,
    color: value > 0 ? color : undefined,
  });
  const since = (long: boolean): Part[] => [
    { text: "since start: ", dim: true },
    n(t.succeeded),
    { text: " done" },
    DOT,
    n(t.failedAttempts, "red"),
    { text: long ? ` failed attempt${t.failedAttempts === 1 ? "" : "s"}` : " failed" },
  ];
  const store = (long: boolean, scheduled = long || s.scheduled > 0): Part[] => [
    { text: long ? "in the store: " : "store: ", dim: true },
    n(s.running, "cyan"),
    { text: " running" },
    DOT,
    n(s.queued),
    { text: " queued" },
    ...(scheduled ? [DOT, n(s.scheduled), { text: " scheduled" }] : []),
    DOT,
    n(s.dead, "red"),
    { text: " dead" },
  ];
  const updated: Part = {
    text: `updated ${age} ago`,
    dim: !stale,
    color: stale ? "yellow" : undefined,
  };
  // An error, or a snapshot that is getting old, comes first: the counts may be out of date.
  const head: Part[] = [
    ...(error ? [{ text: error, color: "red" }, SEP] : []),
    ...(stale ? [updated, SEP] : []),
  ];
  const variants = [
    [...head, ...since(true), SEP, ...store(true)],
    [...head, ...since(false), SEP, ...store(true)],
    [...head, ...since(false), SEP, ...store(false)],
    // The queue panel shows the scheduled jobs per priority.
    [...head, ...since(false), SEP, ...store(false, false)],
  ];
  const parts = variants.find((v) => partsWidth(v) <= width) ?? variants[variants.length - 1]!;
  const warnings = snapshot.warnings.length;
  const optional: Part[][] = [
    warnings > 0
      ? [SEP, {
        text: `⚠ ${warnings} warning${warnings === 1 ? "" : "s"}`,
        color: "yellow",
        bold: true,
      }]
      : [],
    stale ? [] : [SEP, updated],
  ];
  for (const extra of optional) {
    if (partsWidth(parts) + partsWidth(extra) <= width) parts.push(...extra);
  }
  return parts;
}

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
  const stale = updatedAt !== null && now - updatedAt >= STALE_MS;
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
        {summaryParts(snapshot, age, error, width, stale).map((p, i) => (
          <Text key={i} bold={p.bold ?? false} dimColor={p.dim ?? false} {...fg(p.color)}>
            {p.text}
          </Text>
        ))}
      </Text>
    </Box>
  );
}
