/**
 * The dashboard's layout: props in, frame out. Laid out for 80×24 first (each queue row's
 * depth and oldest wait, at least two worker rows, the selected job), then uses the room of
 * larger terminals (sparklines, every worker, the router and leases panels); turns into the
 * shutdown view while the runtime stops.
 *
 * @module
 */
import { Box, Text } from "ink";
import { PRIORITIES } from "../shared/priority.ts";
import type { RuntimeSnapshot } from "../shared/snapshot.ts";
import type { JobSnapshot } from "../shared/job.ts";
import type { ViewKind } from "../shared/view.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";
import { EnqueueForm, type EnqueueFormProps } from "./EnqueueForm.tsx";
import { Footer } from "./Footer.tsx";
import { Header } from "./Header.tsx";
import { HelpOverlay } from "./HelpOverlay.tsx";
import { JobDetail } from "./JobDetail.tsx";
import type { DashboardModel, FocusPanel } from "./model.ts";
import { QueuePanel } from "./QueuePanel.tsx";
import { RecentJobsPanel } from "./RecentJobsPanel.tsx";
import { RouterPanel, routerSummary } from "./RouterPanel.tsx";
import { ShutdownPanel } from "./ShutdownPanel.tsx";
import { ThroughputPanel } from "./ThroughputPanel.tsx";
import { WarningsPanel } from "./WarningsPanel.tsx";
import { WorkersPanel } from "./WorkersPanel.tsx";

/** An overlay above the panels. */
export type Overlay =
  | { kind: "none" }
  | { kind: "help" }
  | { kind: "job"; job: JobSnapshot }
  | { kind: "confirm"; question: string }
  | { kind: "enqueue"; kinds: ViewKind[]; error: string | null };

/** Props of {@link Dashboard}. */
export interface DashboardProps {
  model: DashboardModel;
  width: number;
  height: number;
  now: number;
  focus: FocusPanel;
  selectedWorker: number;
  selectedJob: number;
  overlay: Overlay;
  message: string | null;
  onEnqueue?: EnqueueFormProps["onSubmit"];
}

/** The whole screen. */
export function Dashboard(props: DashboardProps) {
  const { model, width, height, now, focus, overlay } = props;
  const snapshot = model.snapshot;
  const stopping = snapshot !== null && snapshot.shutdown !== null;
  const header = (
    <Header
      snapshot={snapshot}
      mode={model.mode}
      location={model.location}
      updatedAt={model.updatedAt}
      error={model.error}
      now={now}
      width={width}
    />
  );
  const footer = (
    <Footer
      mode={model.mode}
      paused={snapshot?.executor.intake === "paused"}
      message={props.message ??
        (model.ended && model.mode === "remote" ? "the runtime has stopped · q to quit" : null)}
    />
  );
  if (overlay.kind !== "none") {
    return (
      <Box flexDirection="column" width={width} height={height}>
        {header}
        <Box flexGrow={1} flexDirection="column">
          {overlay.kind === "help" ? <HelpOverlay mode={model.mode} /> : null}
          {overlay.kind === "job" ? <JobDetail job={overlay.job} rows={height - 4} /> : null}
          {overlay.kind === "confirm" ? <ConfirmDialog question={overlay.question} /> : null}
          {overlay.kind === "enqueue"
            ? (
              <EnqueueForm
                kinds={overlay.kinds}
                error={overlay.error}
                onSubmit={props.onEnqueue ?? (() => {})}
              />
            )
            : null}
        </Box>
        {footer}
      </Box>
    );
  }
  const wide = width >= 100;
  const topHeight = 8; // a title, five priorities, two borders
  const warnings = snapshot?.warnings ?? [];
  // Header two lines, footer one.
  const body = Math.max(4, height - 3);
  // Below 100 columns the queue takes the larger share: 44 of 80 keeps its depth, wait and
  // a short sparkline; the throughput panel's lines are short.
  const queueWidth = width >= 100
    ? Math.floor(width / 2)
    : Math.max(Math.floor(width / 2), Math.min(44, width - 32));
  const top = (
    <Box flexDirection="row" height={topHeight}>
      <QueuePanel snapshot={snapshot} history={model.depthHistory} width={queueWidth} />
      <ThroughputPanel snapshot={snapshot} width={width - queueWidth} />
    </Box>
  );
  if (stopping && snapshot !== null) {
    const running = snapshot.executor.workers.filter((w) => w.job !== null).length;
    const shutdownHeight = 3 + 6 + (running > 0 ? 1 + Math.min(4, running) : 0) +
      (snapshot.shutdown?.report ? 1 : 0);
    return (
      <Box flexDirection="column" width={width} height={height}>
        {header}
        {body - shutdownHeight >= topHeight ? top : null}
        <Box height={Math.min(body, shutdownHeight)}>
          <ShutdownPanel snapshot={snapshot} now={now} remote={model.mode === "remote"} />
        </Box>
        {footer}
      </Box>
    );
  }
  const workerCount = snapshot?.executor.workers.length ?? 0;
  // The smallest the workers (two rows, or one if there is one) and recent jobs (one row) can be.
  const minimum = (3 + 1 + (workerCount > 1 ? 1 : 0)) + (3 + 1);
  // A short terminal: the queue and throughput panels become one line, so that every
  // priority and the panels below still fit and nothing scrolls off the top.
  const compactTop = body - topHeight < minimum + 1;
  const rest = Math.max(4, body - (compactTop ? 1 : topHeight));
  const router = snapshot?.router ?? null;
  const leases = snapshot?.leases ?? [];
  const mailboxes = router === null ? 0 : router.endpoints.length + router.subscriptions.length;
  // Warnings get a panel when there is room, else one line; so do the router and leases.
  let warningRows = warnings.length === 0 ? 0 : Math.min(warnings.length, wide ? 4 : 2);
  let warningHeight = warningRows === 0
    ? 0
    : warningRows + 3 + (warnings.length > warningRows ? 1 : 0);
  const roomy = rest - warningHeight - minimum >= 10;
  const cluster = snapshot?.cluster ?? null;
  const nodeRows = cluster === null ? 0 : cluster.nodes.length + (cluster.error === null ? 0 : 1);
  const routerRows = roomy
    ? Math.max(1, Math.min(4, Math.max(mailboxes, leases.length, nodeRows)))
    : 0;
  const routerHeight = router === null ? 0 : roomy ? routerRows + 4 : 1;
  const warningLine = warningHeight > 0 && rest - warningHeight - routerHeight < minimum;
  if (warningLine) {
    warningRows = 0;
    warningHeight = 1;
  }
  const left = rest - warningHeight - routerHeight;
  // Workers first, leaving recent jobs a third of the rows (two at least, five at most);
  // recent jobs the rest. Hidden workers are counted in the panel's title.
  const jobsAtLeast = Math.min(5, Math.max(2, Math.floor((left - 6) / 3)));
  const workerRows = Math.max(1, Math.min(workerCount, left - 6 - jobsAtLeast));
  const workerHeight = workerRows + 3;
  const jobRows = Math.max(1, left - workerHeight - 3);
  return (
    <Box flexDirection="column" width={width} height={height}>
      {header}
      {compactTop ? <Text wrap="truncate">{compactQueueLine(snapshot)}</Text> : top}
      <Box height={workerHeight}>
        <WorkersPanel
          snapshot={snapshot}
          focused={focus === "workers"}
          selected={props.selectedWorker}
          rows={workerRows}
        />
      </Box>
      <Box height={jobRows + 3}>
        <RecentJobsPanel
          jobs={model.recent}
          focused={focus === "jobs"}
          selected={props.selectedJob}
          rows={jobRows}
          now={now}
        />
      </Box>
      {router !== null && roomy
        ? (
          <Box height={routerHeight}>
            <RouterPanel
              router={router}
              leases={leases}
              cluster={cluster}
              rows={routerRows}
              width={width}
            />
          </Box>
        )
        : null}
      {router !== null && !roomy
        ? <Text dimColor wrap="truncate">{routerSummary(router, leases, cluster)}</Text>
        : null}
      {warningLine
        ? (
          <Text color="yellow" wrap="truncate">
            {`⚠ ${warnings[0]?.message ?? ""}${
              warnings.length > 1 ? ` (+${warnings.length - 1} more)` : ""
            }`}
          </Text>
        )
        : null}
      {!warningLine && warningHeight > 0
        ? (
          <Box height={warningHeight}>
            <WarningsPanel warnings={warnings} rows={warningRows} />
          </Box>
        )
        : null}
      {snapshot === null && model.error !== null ? <Text color="red">{model.error}</Text> : null}
      {footer}
    </Box>
  );
}

/** Queue depth per priority (highest first) and throughput, on one line. */
export function compactQueueLine(snapshot: RuntimeSnapshot | null): string {
  if (snapshot === null) return "queue -";
  const ex = snapshot.executor;
  const depth = [...PRIORITIES].reverse()
    .map((p) => `${p.slice(0, 4)} ${ex.queue.byPriority[p].queued}`)
    .join(" · ");
  return `queued ${depth} · ${ex.throughput.perSecond10s}/s`;
}
