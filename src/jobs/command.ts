/**
 * `command`: runs a program through `Deno.Command`.
 *
 * Payload: `{ "cmd": ["deno", "--version"], "cwd"?: "dir", "env"?: { "K": "v" } }`. A non-zero
 * exit fails the attempt. When the job's signal aborts, the program gets SIGTERM, then
 * SIGKILL 5 s later. The last 4 KiB of stdout and stderr are kept in the result, and their
 * lines go to the job's log.
 *
 * @module
 */
import { defineJob, PermanentJobError } from "../executor/job_kind.ts";
import { objectPayload } from "./_payload.ts";

/** Output kept in the result, per stream. */
const TAIL_BYTES = 4_096;
/** Time between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;
/** Longest log line taken from the program's output. */
const MAX_LINE = 1_000;

/** The `command` job's payload. */
export interface CommandPayload {
  cmd: [string, ...string[]];
  cwd?: string;
  env?: Record<string, string>;
}

/** What a `command` job returns. */
export interface CommandResult {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Programs started by `command` jobs that have not exited yet. */
const live = new Set<Deno.ChildProcess>();

/** The `command` job kind. */
export const commandJob = defineJob({
  kind: "command",
  description:
    'runs a program: { "cmd": ["deno", "--version"], "cwd"?: "dir", "env"?: { "K": "v" } }',
  // SIGKILL comes KILL_GRACE_MS after SIGTERM: give the handler time to see the exit.
  defaults: { killAfter: KILL_GRACE_MS + 2_000 },
  // A runtime that stops leaves no program of an abandoned job behind.
  dispose() {
    for (const child of live) kill(child, "SIGKILL");
    live.clear();
  },
  validate(payload): CommandPayload {
    const { cmd, cwd, env } = objectPayload(
      payload,
      ["cmd", "cwd", "env"],
      '{ "cmd": ["deno", "--version"] }',
    );
    if (
      !Array.isArray(cmd) || cmd.length === 0 || !cmd.every((part) => typeof part === "string") ||
      cmd[0] === ""
    ) {
      throw new Error(
        '"cmd" must be a non-empty array of strings: the program, then its arguments',
      );
    }
    const out: CommandPayload = { cmd: cmd as [string, ...string[]] };
    if (cwd !== undefined) {
      if (typeof cwd !== "string" || cwd === "") throw new Error('"cwd" must be a directory path');
      out.cwd = cwd;
    }
    if (env !== undefined) {
      if (
        typeof env !== "object" || env === null || Array.isArray(env) ||
        !Object.values(env).every((v) => typeof v === "string")
      ) {
        throw new Error('"env" must be an object of string values');
      }
      out.env = env as Record<string, string>;
    }
    return out;
  },
  async handler({ payload, signal, log }): Promise<CommandResult> {
    signal.throwIfAborted();
    const [program, ...args] = payload.cmd;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        ...(payload.cwd === undefined ? {} : { cwd: payload.cwd }),
        ...(payload.env === undefined ? {} : { env: payload.env }),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // Its own process group: a signal reaches what it started too (`sh -c "…"`), and a
        // Ctrl-C on the terminal reaches the runtime only, which stops the job in order.
        detached: Deno.build.os !== "windows",
      }).spawn();
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "not found"
        : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ? "not permitted (run with --allow-run)"
        : error instanceof Error
        ? error.message
        : String(error);
      throw new PermanentJobError(`cannot run ${JSON.stringify(program)}: ${reason}`);
    }
    live.add(child);
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      kill(child, "SIGTERM");
      killTimer = setTimeout(() => kill(child, "SIGKILL"), KILL_GRACE_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const [stdout, stderr, status] = await Promise.all([
        collect(child.stdout, (line) => log(`stdout: ${line}`)),
        collect(child.stderr, (line) => log(`stderr: ${line}`)),
        child.status,
      ]);
      const result: CommandResult = { code: status.code, signal: status.signal, stdout, stderr };
      if (signal.aborted) throw signal.reason;
      if (!status.success) {
        const last = stderr.trim().split("\n").at(-1) ?? "";
        const how = status.signal
          ? `was killed by ${status.signal}`
          : `exited with code ${status.code}`;
        throw new Error(`${program} ${how}${last ? `: ${last.slice(0, 300)}` : ""}`);
      }
      return result;
    } finally {
      live.delete(child);
      signal.removeEventListener("abort", onAbort);
      if (killTimer !== undefined) clearTimeout(killTimer);
    }
  },
});

/** Signals the child's whole process group (what it started too), else the child alone. */
function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  if (Deno.build.os !== "windows") {
    try {
      Deno.kill(-child.pid, signal);
      return;
    } catch {
      // The group is gone (or was never one): try the child itself.
    }
  }
  try {
    child.kill(signal);
  } catch {
    // Already exited.
  }
}

/** Reads a stream to its end: hands out each line, returns the last {@link TAIL_BYTES}. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<string> {
  const decoder = new TextDecoder();
  let tail = "";
  let partial = "";
  for await (const chunk of stream) {
    const text = decoder.decode(chunk, { stream: true });
    tail = (tail + text).slice(-TAIL_BYTES);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line.slice(0, MAX_LINE));
  }
  const rest = decoder.decode();
  tail = (tail + rest).slice(-TAIL_BYTES);
  partial += rest;
  if (partial !== "") onLine(partial.slice(0, MAX_LINE));
  return tail;
}
