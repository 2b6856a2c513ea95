/**
 * The dashboard's container: follows the view, keeps the keyboard state (focus, selection,
 * overlays) and calls the view's actions. Everything it shows is drawn by {@link Dashboard}.
 *
 * Keys: `?` help, `tab` focus, arrows select, `enter` job details, `c` cancel (asks), `r`
 * retry, `e` enqueue, `p` pause/resume, `q` quit (local: asks, then shuts down in order;
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

type Pending = { action: "cancel"; job: { id: string; kind: string } } | { action: "quit" };

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
  const [focus, setFocus] = useState<FocusPanel>("jobs");
  const [selectedWorker, setSelectedWorker] = useState(0);
  const [selectedJob, setSelectedJob] = useState(0);
  const [overlay, setOverlay] = useState<Overlay>({ kind: "none" });
  const [pending, setPending] = useState<Pending | null>(null);
  const [message, setMessage] = useState<string | null>(null);
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

  useEffect(() => {
    if (message === null) return;
    const timer = setTimeout(() => setMessage(null), 3_000);
    return () => clearTimeout(timer);
  }, [message]);

  // A local runtime that has stopped: show the report a moment, then go.
  useEffect(() => {
    if (!model.ended || view.mode !== "local") return;
    const timer = setTimeout(() => leave("stopped"), lingerMs);
    return () => clearTimeout(timer);
  }, [model.ended]);

  const workers = model.snapshot?.executor.workers ?? [];
  const selectedJobId = (): { id: string; kind: string } | null => {
    if (focus === "workers") {
      const job = workers[selectedWorker]?.job;
      return job ? { id: job.id, kind: job.kind } : null;
    }
    const job = model.recent[selectedJob];
    return job ? { id: job.id, kind: job.kind } : null;
  };
  const act = (what: string, promise: Promise<unknown>) => {
    promise.then(
      () => setMessage(what),
      (error) => setMessage(`${what.split(":")[0]} failed: ${errorMessage(error)}`),
    );
  };

  useInput((input, key) => {
    const ctrlC = key.ctrl && input === "c";
    if (ctrlC) {
      if (view.mode === "remote") return leave("detached");
      setOverlay({ kind: "none" });
      setPending(null);
      const action = view.interrupt();
      setMessage(
        action === "shutdown"
          ? "shutting down in order · Ctrl-C again to force"
          : action === "force"
          ? "forcing the shutdown"
          : "already stopping",
      );
      return;
    }
    if (overlay.kind === "enqueue") {
      if (key.escape) setOverlay({ kind: "none" });
      return; // the form has the keyboard
    }
    if (overlay.kind === "confirm") {
      if (input === "y" && pending !== null) {
        if (pending.action === "cancel") {
          act(`cancel requested: ${pending.job.id}`, view.cancel(pending.job.id));
        } else {
          view.interrupt();
          setMessage("shutting down in order · Ctrl-C to force");
        }
        setPending(null);
        setOverlay({ kind: "none" });
      } else if (input === "n" || key.escape) {
        setPending(null);
        setOverlay({ kind: "none" });
      }
      return;
    }
    if (overlay.kind !== "none") {
      setOverlay({ kind: "none" });
      return;
    }
    if (input === "q") {
      if (view.mode === "remote" || model.ended) {
        return leave(view.mode === "remote" ? "detached" : "stopped");
      }
      setPending({ action: "quit" });
      setOverlay({ kind: "confirm", question: "Shut the runtime down in order?" });
      return;
    }
    if (model.ended) return;
    if (input === "?") setOverlay({ kind: "help" });
    else if (key.tab) setFocus((f) => (f === "workers" ? "jobs" : "workers"));
    else if (key.upArrow || input === "k") {
      if (focus === "workers") setSelectedWorker((i) => Math.max(0, i - 1));
      else setSelectedJob((i) => Math.max(0, i - 1));
    } else if (key.downArrow || input === "j") {
      if (focus === "workers") {
        setSelectedWorker((i) => Math.min(Math.max(0, workers.length - 1), i + 1));
      } else setSelectedJob((i) => Math.min(Math.max(0, model.recent.length - 1), i + 1));
    } else if (key.return) {
      const job = selectedJobId();
      if (job === null) return setMessage("no job selected");
      view.job(job.id).then(
        (full: JobSnapshot) => setOverlay({ kind: "job", job: full }),
        (error) => setMessage(errorMessage(error)),
      );
    } else if (input === "c") {
      const job = selectedJobId();
      if (job === null) return setMessage("no job selected");
      setPending({ action: "cancel", job });
      setOverlay({ kind: "confirm", question: `Cancel ${job.kind} ${job.id}?` });
    } else if (input === "r") {
      const job = selectedJobId();
      if (job === null) return setMessage("no job selected");
      act(`queued again: ${job.id}`, view.retry(job.id));
    } else if (input === "e") {
      view.kinds().then(
        (kinds) => setOverlay({ kind: "enqueue", kinds, error: null }),
        (error) => setMessage(errorMessage(error)),
      );
    } else if (input === "p") {
      const paused = model.snapshot?.executor.intake === "paused";
      act(
        paused ? "intake resumed" : "intake paused: no queued job starts",
        view.setPaused(!paused),
      );
    }
  });

  return (
    <Dashboard
      model={model}
      width={width}
      height={height}
      now={now}
      focus={focus}
      selectedWorker={selectedWorker}
      selectedJob={selectedJob}
      overlay={overlay}
      message={message}
      onEnqueue={(spec) => {
        view.enqueue(spec).then(
          (id) => {
            setOverlay({ kind: "none" });
            setMessage(`enqueued ${spec.kind} ${id}`);
          },
          (error) =>
            setOverlay((o) => (o.kind === "enqueue" ? { ...o, error: errorMessage(error) } : o)),
        );
      }}
    />
  );
}
