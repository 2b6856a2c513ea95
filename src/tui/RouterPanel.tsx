/**
 * The router: endpoints and subscriptions with mailbox depth, delivered and dead counts, and
 * the message rates; and the territory leases held, with time left and waiters.
 *
 * @module
 */
import { Box, Text } from "ink";
import { formatDuration } from "../shared/duration.ts";
import type { RouterSnapshot } from "../shared/router_snapshot.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { PRIORITIES } from "../shared/priority.ts";
import { cell, fg } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link RouterPanel}. */
export interface RouterPanelProps {
  router: RouterSnapshot;
  leases: readonly LeaseSnapshot[];
  rows: number;
  width: number;
}

/** Mailboxes on the left, leases on the right. */
export function RouterPanel({ router, leases, rows, width }: RouterPanelProps) {
  const boxes = [...router.endpoints, ...router.subscriptions].filter((m) => !m.closed);
  const half = Math.floor(width / 2);
  const depth = (d: Record<string, number>) => PRIORITIES.reduce((n, p) => n + (d[p] ?? 0), 0);
  return (
    <Box flexDirection="row">
      <Panel
        title="Router"
        note={`${router.rates.sent.perSecond10s}/s · dead ${router.totals.dead}`}
        width={half}
      >
        {boxes.length === 0 ? <Text dimColor>no endpoints</Text> : null}
        {boxes.slice(0, rows).map((m) => (
          <Text key={m.name} wrap="truncate">
            <Text>{cell(m.name, 20)}</Text>
            <Text bold>{cell(String(depth(m.depth)), 5, "right")}</Text>
            <Text dimColor>{cell(`✓${m.delivered}`, 8, "right")}</Text>
            <Text {...fg(m.dead > 0 ? "red" : undefined)}>{cell(`✗${m.dead}`, 6, "right")}</Text>
          </Text>
        ))}
        {boxes.length > rows ? <Text dimColor>{boxes.length - rows} more</Text> : null}
      </Panel>
      <Panel
        title="Leases"
        note={leases.length === 0 ? "none held" : `${leases.length} held`}
        width={width - half}
      >
        {leases.length === 0 ? <Text dimColor>no leases held</Text> : null}
        {leases.slice(0, rows).map((l) => (
          <Text key={l.resource} wrap="truncate">
            <Text>{cell(l.resource, 16)}</Text>
            <Text dimColor>{cell(l.holder, 16)}</Text>
            <Text>{cell(formatDuration(l.leftMs), 8, "right")}</Text>
            <Text {...fg(l.waiters.length > 0 ? "yellow" : undefined)}>
              {l.waiters.length > 0 ? ` +${l.waiters.length} waiting` : ""}
            </Text>
          </Text>
        ))}
      </Panel>
    </Box>
  );
}

/** One line for small terminals. */
export function routerSummary(router: RouterSnapshot, leases: readonly LeaseSnapshot[]): string {
  const boxes = router.endpoints.filter((m) => !m.closed).length +
    router.subscriptions.filter((m) => !m.closed).length;
  const waiting = leases.reduce((n, l) => n + l.waiters.length, 0);
  return `router: ${boxes} mailbox(es), ${router.totals.sent} sent, ${router.totals.dead} dead · leases: ${leases.length} held${
    waiting > 0 ? `, ${waiting} waiting` : ""
  }`;
}
