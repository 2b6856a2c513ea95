/**
 * Queue depth per priority: queued count, the oldest waiting age, a starvation mark when a
 * job waits past its threshold, and a sparkline of the last 60 s in the room that is left
 * (none on a narrow panel: the numbers come first).
 *
 * @module
 */
import { Text } from "ink";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { cell, fg, formatMs, sparkline } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link QueuePanel}. */
export interface QueuePanelProps {
  snapshot: RuntimeSnapshot | null;
  history: Record<Priority, number[]>;
  width: number;
}

const SHOWN = [...PRIORITIES].reverse();

/** One row per priority, highest first. */
export function QueuePanel({ snapshot, history, width }: QueuePanelProps) {
  const inner = Math.max(10, width - 4);
  const starving = new Set(
    (snapshot?.warnings ?? []).filter((w) => w.code === "JOB_WAITING_TOO_LONG" && w.priority).map((
      w,
    ) => w.priority),
  );
  // priority 11, queued 7, scheduled 6, a space and the wait 7, " starving" when one is.
  const fixed = 11 + 7 + 6 + 8 + (starving.size > 0 ? 9 : 0);
  const room = Math.min(30, inner - fixed - 1);
  const spark = room >= 4 ? room : 0;
  return (
    <Panel title="Queue" note="queued · oldest wait · last 60s" width={width}>
      {SHOWN.map((priority) => {
        const depth = snapshot?.executor.queue.byPriority[priority];
        const waiting = depth?.oldestWaitMs ?? null;
        return (
          <Text key={priority} wrap="truncate">
            <Text>{cell(priority, 11)}</Text>
            <Text bold>{cell(String(depth?.queued ?? 0), 7, "right")}</Text>
            <Text dimColor>{cell(depth?.scheduled ? `+${depth.scheduled}` : "", 6, "right")}</Text>
            <Text {...fg(starving.has(priority) ? "red" : undefined)} bold={starving.has(priority)}>
              {" "}
              {cell(waiting === null ? "-" : formatMs(waiting), 7, "right")}
              {starving.has(priority) ? " starving" : starving.size > 0 ? "         " : ""}
            </Text>
            {spark > 0
              ? <Text color="cyan">{" "}{sparkline(history[priority], spark)}</Text>
              : null}
          </Text>
        );
      })}
    </Panel>
  );
}
