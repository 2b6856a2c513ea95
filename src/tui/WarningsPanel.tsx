/**
 * Warnings, in the spirit of tokio-console: stuck workers, jobs slower than their kind's
 * p99, retry storms, a blocked event loop, starving queues, abandoned handlers.
 *
 * @module
 */
import { Text } from "ink";
import type { Warning } from "../shared/snapshot.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link WarningsPanel}. */
export interface WarningsPanelProps {
  warnings: readonly Warning[];
  rows: number;
}

/** One warning per line, the most recent kinds first. */
export function WarningsPanel({ warnings, rows }: WarningsPanelProps) {
  const shown = warnings.slice(0, Math.max(1, rows));
  return (
    <Panel title="Warnings" note={warnings.length === 0 ? "none" : String(warnings.length)}>
      {warnings.length === 0 ? <Text dimColor>all quiet</Text> : null}
      {shown.map((w, i) => (
        <Text key={`${w.code}-${i}`} wrap="truncate">
          <Text color="yellow" bold>{"⚠ "}</Text>
          <Text>{w.message}</Text>
        </Text>
      ))}
      {warnings.length > shown.length
        ? <Text dimColor>{warnings.length - shown.length} more</Text>
        : null}
    </Panel>
  );
}
