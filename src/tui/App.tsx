/**
 * The dashboard's container: follows the view, keeps the keyboard state (focus, selection,
 * overlays) and calls the view's actions. Everything it shows is drawn by {@link Dashboard}.
 *
 * Keys: `?` help, `tab` focus, arrows select, `enter` job details, `c` cancel (asks), `r`
 * retry (asks), `e` enqueue, `p` pause/resume, `q` quit (local: asks, then shuts down in order;
 * remote: detaches). Ctrl-C arrives as a key in raw mode: local, the first starts the ordered
 * shutdown and the next forces it; remote, it detaches.
 *
 * @module
 */
import { useApp, useInput, useStdout } from "ink";
import { useEffect, useRef, useState } from "react";
import { errorMessage } from "../shared/errors.ts";
import type { JobSnapshot } from "../shared/job.ts";
import type { RuntimeView } from "../shared/view.ts";
import { Dashboard, type Overlay } from "./Dashboard.tsx";
import type { FocusPanel } from "./model.ts";
import { type DashboardOptions, useDashboard } from "./use_dashboard.ts";

/** How the dashboard ended. */
export type DashboardExit = "detached" | "stopped";

/** Props of {@link App}. */
export interface AppProps {
  view: RuntimeView;
  /** Called once when the dashboard should go away. */
  onExit: (how: DashboardExit) => void;
  options?: DashboardOptions;
  /** Time the final report stays on screen before a local dashboard exits. @default 800 */
  lingerMs?: number;
  /** Fixed size (tests); otherwise the terminal's. */
  size?: { width: number; height: number };
}

type Pending =
  | { action: "cancel" | "retry"; job: { id: string; kind: string } }
  | { action: "quit" };

function useTerminalSize(
  fixed?: { width: number; height: number },
): { width: number; height: number } {
  const { stdout } = useStdout();
  const read = () => ({ width: stdout.columns || 80, height: stdout.rows || 24 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    if (fixed) return;
    const onResize = () => setSize(read());
    stdout.on("resize", onResize);
    return () => {
      stdout.off("resize", onResize);
    };
  }, [stdout, fixed]);
  return fixed ?? size;
}

interface UiState {
  focus: FocusPanel;
  selectedWorker: number;
  /** The selected recent job's row, as last drawn. */
  selectedJob: number;
  /**
   * The selected recent job: the selection follows it while newer jobs push it down the
   * list; null until the list has a job.
   */
  selectedJobId: string | null;
  overlay: Overlay;
  pending: Pending | null;
  message: string | null;
}

/** The interactive dashboard. */
export function App({ view, onExit, options, lingerMs = 800, size }: AppProps) {
  const { exit } = useApp();
  const model = useDashboard(view, options);
  const terminal = useTerminalSize(size);
  // One row short of the terminal: a frame as tall as the screen makes Ink clear it on
  // every redraw.
  const width = terminal.width;
  const height = size ? terminal.height : Math.max(10, terminal.height - 1);
  const [now, setNow] = useState(Date.now());
  // Keyboard state lives in a ref, changed synchronously: keys that arrive together (a
  // paste, a fast typist) each see what the previous one did.
  const ui = useRef<UiState>({
    focus: "jobs",
    selectedWorker: 0,
    selectedJob: 0,
    selectedJobId: null,
    overlay: { kind: "none" },
    pending: null,
    message: null,
  });
  const [, setVersion] = useState(0);
  const update = (patch: Partial<UiState>) => {
    ui.current = { ...ui.current, ...patch };
    setVersion((v) => v + 1);
  };
  const modelRef = useRef(model);
  modelRef.current = model;
  const exited = useRef(false);

  const leave = (how: DashboardExit) => {
    if (exited.current) return;
    exited.current = true;
    onExit(how);
    exit();
  };

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, []);

  const message = ui.current.message;
  useEffect(() => {
    if (message === null) return;
    const timer = setTimeout(() => update({ message: null }), 3_000);
    return () => clearTimeout(timer);
  }, [message]);

  // A runtime that has stopped (here, or the one `top` watched): show the end a moment, then go.
  useEffect(() => {
    if (!model.ended) return;
    const timer = setTimeout(() => leave("stopped"), lingerMs);
    return () => clearTimeout(timer);
  }, [model.ended]);

  // The selection follows the job: find its row in the list as it is now. A job that left
  // the list hands the selection to the row now where it was (the list's last row at most).
  const followJob = (recent: readonly JobSnapshot[]): number => {
    const state = ui.current;
    const at = state.selectedJobId === null
      ? -1
      : recent.findIndex((j) => j.id === state.selectedJobId);
    const index = at >= 0 ? at : Math.max(0, Math.min(state.selectedJob, recent.length - 1));
    const id = recent[index]?.id ?? null;
    if (index !== state.selectedJob || (id !== null && id !== state.selectedJobId)) {
      ui.current = { ...state, selectedJob: index, selectedJobId: id ?? state.selectedJobId };
    }
    return index;
  };
  const selectJob = (index: number) => {
    const recent = modelRef.current.recent;
    const at = Math.max(0, Math.min(index, recent.length - 1));
    update({ selectedJob: at, selectedJobId: recent[at]?.id ?? null });
  };

  const selectedJobId = (): { id: string; kind: string } | null => {
    const { focus, selectedWorker } = ui.current;
    const current = modelRef.current;
    if (focus === "workers") {
      const job = current.snapshot?.executor.workers[selectedWorker]?.job;
      return job ? { id: job.id, kind: job.kind } : null;
    }
    const job = current.recent[followJob(current.recent)];
    return job ? { id: job.id, kind: job.kind } : null;
  };
  const act = (what: string, promise: Promise<unknown>) => {
    promise.then(
      () => update({ message: what }),
      (error) => update({ message: `${what.split(":")[0]} failed: ${errorMessage(error)}` }),
    );
  };

  useInput((input, key) => {
    const { overlay, pending, focus } = ui.current;
    const current = modelRef.current;
    if (key.ctrl && input === "c") {
      if (view.mode === "remote") return leave("detached");
      const action = view.interrupt();
      update({
        overlay: { kind: "none" },
        pending: null,
        message: action === "shutdown"
          ? "shutting down in order · Ctrl-C again to force"
          : action === "force"
          ? "forcing the shutdown"
          : "already stopping",
      });
      return;
    }
    if (overlay.kind === "enqueue") {
      if (key.escape) update({ overlay: { kind: "none" } });
      return; // the form has the keyboard
    }
    if (overlay.kind === "confirm") {
      if (input === "y" && pending !== null) {
        if (pending.action === "cancel") {
          act(`cancel requested: ${pending.job.id}`, view.cancel(pending.job.id));
          update({ pending: null, overlay: { kind: "none" } });
        } else if (pending.action === "retry") {
          act(`queued again: ${pending.job.id}`, view.retry(pending.job.id));
          update({ pending: null, overlay: { kind: "none" } });
        } else {
          view.interrupt();
          update({
            pending: null,
            overlay: { kind: "none" },
            message: "shutting down in order · Ctrl-C to force",
          });
        }
      } else if (input === "n" || key.escape) {
        update({ pending: null, overlay: { kind: "none" } });
      }
      return;
    }
    if (overlay.kind !== "none") {
      update({ overlay: { kind: "none" } });
      return;
    }
    if (input === "q") {
      if (view.mode === "remote" || current.ended) {
        return leave(view.mode === "remote" ? "detached" : "stopped");
      }
      update({
        pending: { action: "quit" },
        overlay: { kind: "confirm", question: "Shut the runtime down in order?" },
      });
      return;
    }
    if (current.ended) return;
    if (input === "?") update({ overlay: { kind: "help" } });
    else if (key.tab) update({ focus: focus === "workers" ? "jobs" : "workers" });
    else if (key.upArrow || input === "k") {
      if (focus === "workers") {
        update({ selectedWorker: Math.max(0, ui.current.selectedWorker - 1) });
      } else selectJob(followJob(current.recent) - 1);
    } else if (key.downArrow || input === "j") {
      if (focus === "workers") {
        const count = current.snapshot?.executor.workers.length ?? 0;
        update({ selectedWorker: Math.min(Math.max(0, count - 1), ui.current.selectedWorker + 1) });
      } else selectJob(followJob(current.recent) + 1);
    } else if (key.return) {
      const job = selectedJobId();
      if (job === null) return update({ message: "no job selected" });
      view.job(job.id).then(
        (full: JobSnapshot) => update({ overlay: { kind: "job", job: full } }),
        (error) => update({ message: errorMessage(error) }),
      );
    } else if (input === "c") {
      const job = selectedJobId();
      if (job === null) return update({ message: "no job selected" });
      update({
        pending: { action: "cancel", job },
        overlay: { kind: "confirm", question: `Cancel ${job.kind} ${job.id}?` },
      });
    } else if (input === "r") {
      const job = selectedJobId();
      if (job === null) return update({ message: "no job selected" });
      update({
        pending: { action: "retry", job },
        overlay: { kind: "confirm", question: `Retry ${job.kind} ${job.id}?` },
      });
    } else if (input === "e") {
      view.kinds().then(
        (kinds) => update({ overlay: { kind: "enqueue", kinds, error: null } }),
        (error) => update({ message: errorMessage(error) }),
      );
    } else if (input === "p") {
      const paused = current.snapshot?.executor.intake === "paused";
      act(
        paused ? "intake resumed" : "intake paused: no queued job starts",
        view.setPaused(!paused),
      );
    }
  });

  const selectedJob = followJob(model.recent);
  const state = ui.current;
  return (
    <Dashboard
      model={model}
      width={width}
      height={height}
      now={now}
      focus={state.focus}
      selectedWorker={state.selectedWorker}
      selectedJob={selectedJob}
      overlay={state.overlay}
      message={state.message}
      onEnqueue={(spec) => {
        view.enqueue(spec).then(
          (id) => update({ overlay: { kind: "none" }, message: `enqueued ${spec.kind} ${id}` }),
          (error) => {
            const o = ui.current.overlay;
            if (o.kind === "enqueue") update({ overlay: { ...o, error: errorMessage(error) } });
          },
        );
      }}
    />
  );
}
