/**
 * The router: endpoints and subscriptions with mailbox depth, delivered and dead counts, and
 * the message rates; the territory leases held, with time left and waiters; and, with a store
 * shared by several runtimes, the nodes of the cluster with their health.
 *
 * @module
 */
import { Box, Text } from "ink";
import { formatDuration } from "../shared/duration.ts";
import type { RouterSnapshot } from "../shared/router_snapshot.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import type { ClusterSnapshot } from "../shared/snapshot.ts";
import { PRIORITIES } from "../shared/priority.ts";
import { cell, fg } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link RouterPanel}. */
export interface RouterPanelProps {
  router: RouterSnapshot;
  leases: readonly LeaseSnapshot[];
  /** The cluster, with a shared store: a third column. */
  cluster?: ClusterSnapshot | null;
  rows: number;
  width: number;
}

/** Mailboxes on the left, leases on the right (and nodes beside them in a cluster). */
export function RouterPanel({ router, leases, cluster = null, rows, width }: RouterPanelProps) {
  const boxes = [...router.endpoints, ...router.subscriptions].filter((m) => !m.closed);
  const columns = cluster === null ? 2 : 3;
  const half = Math.floor(width / columns);
  const leasesWidth = cluster === null ? width - half : half;
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
        width={leasesWidth}
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
      {cluster === null ? null : (
        <Panel
          title="Nodes"
          note={`${cluster.nodes.filter((n) => n.alive).length}/${cluster.nodes.length} alive`}
          width={width - 2 * half}
        >
          {cluster.error !== null
            ? <Text color="yellow" wrap="truncate">{cluster.error}</Text>
            : null}
          {cluster.nodes.slice(0, rows).map((n) => (
            <Text key={n.id} wrap="truncate">
              <Text bold={n.self}>{cell(n.self ? `${n.id}*` : n.id, 16)}</Text>
              <Text {...fg(n.alive ? (n.stopping ? "yellow" : "green") : "red")}>
                {cell(n.alive ? (n.stopping ? "stopping" : "alive") : "dead", 9)}
              </Text>
              <Text dimColor>{cell(`${n.running} running`, 11, "right")}</Text>
            </Text>
          ))}
          {cluster.nodes.length > rows
            ? <Text dimColor>{cluster.nodes.length - rows} more</Text>
            : null}
        </Panel>
      )}
    </Box>
  );
}

/** One line for small terminals. */
export function routerSummary(
  router: RouterSnapshot,
  leases: readonly LeaseSnapshot[],
  cluster: ClusterSnapshot | null = null,
): string {
  const boxes = router.endpoints.filter((m) => !m.closed).length +
    router.subscriptions.filter((m) => !m.closed).length;
  const waiting = leases.reduce((n, l) => n + l.waiters.length, 0);
  const nodes = cluster === null
    ? ""
    : ` · nodes: ${cluster.nodes.filter((n) => n.alive).length}/${cluster.nodes.length} alive`;
  return `router: ${boxes} mailbox(es), ${router.totals.sent} sent, ${router.totals.dead} dead · leases: ${leases.length} held${
    waiting > 0 ? `, ${waiting} waiting` : ""
  }${nodes}`;
}
