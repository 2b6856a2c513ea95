/**
 * Throughput (attempts finished per second) with a chart of the last minute, and the wait and
 * run time percentiles.
 *
 * @module
 */
import { Text } from "ink";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import { formatMs, sparkline } from "./format.ts";
import { Panel } from "./Panel.tsx";

/** Props of {@link ThroughputPanel}. */
export interface ThroughputPanelProps {
  snapshot: RuntimeSnapshot | null;
  width: number;
}

/** Rates, a one-line chart of the last minute, and latencies. */
export function ThroughputPanel({ snapshot, width }: ThroughputPanelProps) {
  const ex = snapshot?.executor;
  const chart = Math.max(0, Math.min(60, width - 6));
  const rates = [
    ex?.throughput.perSecond1s ?? 0,
    ex?.throughput.perSecond10s ?? 0,
    ex?.throughput.perSecond60s ?? 0,
  ];
  // The rates whole, without "/s" after the first, where "/s" each would not fit (80 columns).
  const unit = `${rates[0]}/s now · ${rates[1]}/s 10s · ${rates[2]}/s 60s`.length <= width - 4
    ? "/s"
    : "";
  return (
    <Panel title="Throughput" note="jobs/s" width={width}>
      <Text wrap="truncate">
        <Text bold>{rates[0]}</Text>
        <Text dimColor>{"/s now · "}</Text>
        <Text bold>{rates[1]}</Text>
        <Text dimColor>{`${unit} 10s · `}</Text>
        <Text bold>{rates[2]}</Text>
        <Text dimColor>{`${unit} 60s`}</Text>
      </Text>
      <Text color="green">{sparkline(ex?.throughput.lastMinute ?? [], chart)}</Text>
      <Text wrap="truncate">
        <Text dimColor>{"wait "}</Text>
        {"p50 "}
        <Text bold>{formatMs(ex?.waitMs.p50)}</Text> p99{" "}
        <Text bold>{formatMs(ex?.waitMs.p99)}</Text>
      </Text>
      <Text wrap="truncate">
        <Text dimColor>{"run  "}</Text>
        {"p50 "}
        <Text bold>{formatMs(ex?.runMs.p50)}</Text> p99 <Text bold>{formatMs(ex?.runMs.p99)}</Text>
      </Text>
      <Text wrap="truncate" dimColor>
        loop lag {formatMs(snapshot?.health.loopLagMs)} (max{" "}
        {formatMs(snapshot?.health.loopLagMax10sMs)})
      </Text>
    </Panel>
  );
}
