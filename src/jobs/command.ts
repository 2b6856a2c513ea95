/**
 * `command`: runs a program through `Deno.Command`, in a process group of its own that lives
 * and dies with the attempt.
 *
 * Payload: `{ "cmd": ["deno", "--version"], "cwd"?: "dir", "env"?: { "K": "v" },
 * "nice"?: 10, "ionice"?: "idle", "killGrace"?: "10s" }`. A non-zero exit fails the attempt.
 *
 * - The program starts only once its process group is registered with the runtime's
 *   {@link ProcessGuard} (its watchdog, and the record a restart reads): a small `sh`
 *   wrapper waits for a go on its stdin, then `exec`s the program with stdin from
 *   `/dev/null`.
 * - When the job's signal aborts (timeout, cancel, shutdown), the group gets SIGTERM, then
 *   SIGKILL after the kill grace (payload `killGrace`, else the runtime's, 5 s by default).
 *   When the program exits, what it left running in its group gets the same treatment.
 * - Default timeout 1 h (a job's `timeout` overrides it, `null` for none).
 * - `nice` (-20 … 19, the niceness the program runs at) and `ionice` (`"idle"`,
 *   `"best-effort"`, `"realtime"`, optionally `":<level 0-7>"`, or `{ "class", "level"? }`)
 *   run it through the `nice` and `ionice` programs; missing ones, or a niceness or class this
 *   runtime may not set, fail the job for good with a message that says so.
 * - While the program runs, the job beats its heartbeat: a long quiet program is never
 *   "stuck".
 * - The last 4 KiB of stdout and stderr are kept in the result, and their lines go to the
 *   job's log.
 *
 * @module
 */
import { defineJob, type JobKind, PermanentJobError } from "../executor/job_kind.ts";
import { type Duration, parseDuration } from "../shared/duration.ts";
import { errorMessage } from "../shared/errors.ts";
import type { JsonValue } from "../shared/json.ts";
import { objectPayload } from "./_payload.ts";
import {
  GO_WRAPPER,
  groupAlive,
  ProcessGuard,
  signalGroup,
  terminateGroup,
  waitGone,
} from "./_process_guard.ts";

/** Output kept in the result, per stream. */
const TAIL_BYTES = 4_096;
/** Default time between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5_000;
/** The handler's margin after the SIGKILL to see the exit, before the executor gives up. */
const SETTLE_MARGIN_MS = 2_000;
/** Longest log line taken from the program's output. */
const MAX_LINE = 1_000;
/** How long the output is read after the program's group is gone (a daemon may hold it). */
const OUTPUT_DRAIN_MS = 2_000;
/** Default timeout of a `command` job. */
export const DEFAULT_COMMAND_TIMEOUT = "1h";
/** How often a running program counts as a sign of life. */
const HEARTBEAT_MS = 1_000;
/** The longest kill grace a payload may ask for. */
const MAX_KILL_GRACE_MS = 3_600_000;

/** The I/O scheduling class and level of `ionice`. */
export interface IoNice {
  /** The I/O scheduling class (`ionice -c`). */
  class: "idle" | "best-effort" | "realtime";
  /** 0 (highest) … 7; only with `best-effort` and `realtime`. */
  level?: number;
}

/** The `command` job's payload. */
export interface CommandPayload {
  /** The program and its arguments (no shell). */
  cmd: [string, ...string[]];
  /** Working directory (default: the runtime's). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The niceness to run at, -20 (highest priority) … 19 (lowest). */
  nice?: number;
  /** Run the program under `ionice` with this class. */
  ionice?: IoNice;
  /** SIGTERM → SIGKILL time of this job (ms). */
  killGraceMs?: number;
}

/** What a `command` job returns. */
export interface CommandResult {
  /** The program's exit code. */
  code: number;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** The end of its standard output. */
  stdout: string;
  /** The end of its standard error. */
  stderr: string;
}

/** Options of {@link createCommandJob}. */
export interface CommandJobOptions {
  /**
   * The guard that registers the programs' process groups (a runtime's). @default a guard of
   * the kind's own, closed when its executor stops
   */
  guard?: ProcessGuard;
  /** SIGTERM → SIGKILL time when the payload gives none. @default the guard's, else 5 s */
  killGraceMs?: number;
  /** How often a running program beats the job's heartbeat (ms). @default 1000 */
  heartbeatMs?: number;
}

const EXAMPLE = '{ "cmd": ["deno", "--version"] }';
const IONICE_CLASSES = { "idle": 3, "best-effort": 2, "realtime": 1 } as const;

/** Checks a `command` payload; throws a message naming the field. */
export function parseCommandPayload(payload: JsonValue): CommandPayload {
  const { cmd, cwd, env, nice, ionice, killGrace } = objectPayload(
    payload,
    ["cmd", "cwd", "env", "nice", "ionice", "killGrace"],
    EXAMPLE,
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
  if (nice !== undefined) {
    if (typeof nice !== "number" || !Number.isInteger(nice) || nice < -20 || nice > 19) {
      throw new Error(
        `"nice" must be a whole number from -20 (highest priority) to 19 (lowest), got ${
          JSON.stringify(nice)
        }`,
      );
    }
    out.nice = nice;
  }
  if (ionice !== undefined) out.ionice = parseIoNice(ionice);
  if (killGrace !== undefined) {
    let ms: number;
    try {
      ms = parseDuration(killGrace as Duration, '"killGrace"');
    } catch {
      throw new Error(
        `"killGrace" must be a duration such as "10s" or "500ms" (time between SIGTERM and SIGKILL), got ${
          JSON.stringify(killGrace)
        }`,
      );
    }
    if (ms > MAX_KILL_GRACE_MS) {
      throw new Error(`"killGrace" must be at most 1h, got ${JSON.stringify(killGrace)}`);
    }
    out.killGraceMs = ms;
  }
  return out;
}

function parseIoNice(value: JsonValue): IoNice {
  const usage =
    '"ionice" must be "idle", "best-effort" or "realtime" (optionally with ":<level 0-7>", e.g. "best-effort:7"), or { "class": …, "level"?: 0-7 }';
  let cls: unknown;
  let level: unknown;
  if (typeof value === "string") {
    const [name, lvl, ...rest] = value.split(":");
    if (rest.length > 0) throw new Error(`${usage}, got ${JSON.stringify(value)}`);
    cls = name;
    if (lvl !== undefined) {
      if (!/^\d+$/.test(lvl)) throw new Error(`${usage}, got ${JSON.stringify(value)}`);
      level = Number(lvl);
    }
  } else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    for (const key of Object.keys(value)) {
      if (key !== "class" && key !== "level") {
        throw new Error(`"ionice" has an unknown field "${key}" (fields: class, level)`);
      }
    }
    cls = value.class;
    level = value.level;
  } else {
    throw new Error(`${usage}, got ${JSON.stringify(value)}`);
  }
  if (typeof cls !== "string" || !Object.hasOwn(IONICE_CLASSES, cls)) {
    throw new Error(
      `"ionice" class must be "idle", "best-effort" or "realtime", got ${JSON.stringify(cls)}`,
    );
  }
  const out: IoNice = { class: cls as IoNice["class"] };
  if (level !== undefined) {
    if (cls === "idle") {
      throw new Error(
        '"ionice" class "idle" takes no level (levels are for best-effort and realtime)',
      );
    }
    if (typeof level !== "number" || !Number.isInteger(level) || level < 0 || level > 7) {
      throw new Error(
        `"ionice" level must be a whole number from 0 (highest) to 7 (lowest), got ${
          JSON.stringify(level)
        }`,
      );
    }
    out.level = level;
  }
  return out;
}

/** The `command` job kind, with a process guard of its own. */
export const commandJob: JobKind<CommandPayload, CommandResult> = createCommandJob();

/**
 * A `command` kind whose programs are registered with `options.guard` (a runtime makes one
 * per runtime, with its watchdog and record file).
 */
export function createCommandJob(
  options: CommandJobOptions = {},
): JobKind<CommandPayload, CommandResult> {
  const ownGuard = options.guard === undefined;
  const defaultGraceMs = options.killGraceMs ?? options.guard?.killGraceMs ??
    DEFAULT_KILL_GRACE_MS;
  let guard = options.guard ?? new ProcessGuard({ killGraceMs: defaultGraceMs });
  /** Programs started by this kind that have not exited yet. */
  const live = new Set<Deno.ChildProcess>();
  return defineJob<CommandPayload, CommandResult>({
    kind: "command",
    description:
      'runs a program: { "cmd": ["deno", "--version"], "cwd"?: "dir", "env"?: { "K": "v" }, "nice"?: 10, "ionice"?: "idle", "killGrace"?: "10s" }',
    defaults: {
      timeout: DEFAULT_COMMAND_TIMEOUT,
      // SIGKILL comes the kill grace after SIGTERM: give the handler time to see the exit.
      killAfter: defaultGraceMs + SETTLE_MARGIN_MS,
    },
    killAfterOf: (payload) => (payload.killGraceMs ?? defaultGraceMs) + SETTLE_MARGIN_MS,
    // A runtime that stops leaves no program of an abandoned job behind.
    async dispose() {
      for (const child of live) signalGroup(child.pid, "SIGKILL");
      live.clear();
      if (ownGuard) {
        await guard.close();
        guard = new ProcessGuard({ killGraceMs: defaultGraceMs });
      }
    },
    validate: parseCommandPayload,
    async handler({ job, payload, signal, log, heartbeat }): Promise<CommandResult> {
      signal.throwIfAborted();
      const graceMs = payload.killGraceMs ?? defaultGraceMs;
      const [program, ...args] = payload.cmd;
      const env = payload.env === undefined ? undefined : payload.env;
      if (payload.cwd !== undefined) await checkDirectory(payload.cwd);
      await findProgram(program, payload.cwd, env?.PATH);
      const prefix = [
        ...(payload.ionice === undefined ? [] : await ioniceArgs(payload.ionice)),
        ...(payload.nice === undefined ? [] : await niceArgs(payload.nice)),
      ];
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command("sh", {
          args: ["-c", GO_WRAPPER, "liminal-command", ...prefix, program, ...args],
          ...(payload.cwd === undefined ? {} : { cwd: payload.cwd }),
          ...(env === undefined ? {} : { env }),
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
          // Its own process group (and session): a signal reaches what it started too
          // (`sh -c "…"`), and a Ctrl-C on the terminal reaches the runtime only, which stops
          // the job in order.
          detached: true,
        }).spawn();
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound
          ? `not found${payload.cwd === undefined ? "" : ` (or no directory ${payload.cwd})`}`
          : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
          ? "not permitted (run with --allow-run)"
          : errorMessage(error);
        throw new PermanentJobError(`cannot run ${JSON.stringify(program)}: ${reason}`);
      }
      live.add(child);
      const pgid = child.pid;
      let killTimer: ReturnType<typeof setTimeout> | undefined;
      let beat: ReturnType<typeof setInterval> | undefined;
      /** Stops reading the program's output (held open by a process that left its group). */
      const readers = new AbortController();
      const onAbort = () => {
        signalGroup(pgid, "SIGTERM");
        killTimer = setTimeout(() => signalGroup(pgid, "SIGKILL"), graceMs);
      };
      const stdin = child.stdin.getWriter();
      let output: Promise<[string, string]> | null = null;
      try {
        // Registered (watchdog and record) before the program starts.
        try {
          await guard.register(pgid, job.id);
          await stdin.write(new TextEncoder().encode("go\n"));
        } catch (error) {
          signalGroup(pgid, "SIGKILL");
          throw error;
        } finally {
          await stdin.close().catch(() => {});
        }
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) onAbort();
        // Alive while the program is: a heartbeat, so a quiet program is never "stuck".
        beat = setInterval(heartbeat, options.heartbeatMs ?? HEARTBEAT_MS);
        output = Promise.all([
          collect(child.stdout, (line) => log(`stdout: ${line}`), readers.signal),
          collect(child.stderr, (line) => log(`stderr: ${line}`), readers.signal),
        ]);
        const status = await child.status;
        clearInterval(beat);
        beat = undefined;
        // What it left running in its group ends with the attempt.
        if (signal.aborted) {
          // The SIGKILL of the abort comes at its time.
          await waitGone(pgid, graceMs + 1_000);
        } else if (await groupAlive(pgid)) {
          log(`the program left processes running in its group ${pgid}: stopping them`);
          await terminateGroup(pgid, graceMs);
        }
        // Its group is gone; a process it moved out of the group (a daemon, `setsid`) may still
        // hold the pipes open: what it wrote by a short deadline is what the result keeps.
        const drained = setTimeout(() => {
          log(
            `the program's output is still held open by a process outside its group: not waited for`,
          );
          readers.abort();
        }, OUTPUT_DRAIN_MS);
        let stdout: string;
        let stderr: string;
        try {
          [stdout, stderr] = await output;
        } finally {
          clearTimeout(drained);
        }
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
        if (beat !== undefined) clearInterval(beat);
        live.delete(child);
        signal.removeEventListener("abort", onAbort);
        if (killTimer !== undefined) clearTimeout(killTimer);
        if (await groupAlive(pgid)) signalGroup(pgid, "SIGKILL");
        await guard.unregister(pgid).catch(() => {});
        // A spawn whose go never came: reap it and drop its output.
        if (output === null) {
          await Promise.all([child.stdout.cancel(), child.stderr.cancel()]).catch(() => {});
        }
        await child.status.catch(() => {});
      }
    },
  });
}

/** A `cwd` that is not a directory fails the job for good, saying so. */
async function checkDirectory(cwd: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(cwd);
  } catch (error) {
    throw new PermanentJobError(
      error instanceof Deno.errors.NotFound
        ? `no directory ${cwd} (the payload's "cwd")`
        : `cannot use ${cwd} as the working directory: ${errorMessage(error)}`,
    );
  }
  if (!info.isDirectory) {
    throw new PermanentJobError(`${cwd} is not a directory (the payload's "cwd")`);
  }
}

/** Looks `program` up as `execvp` would; a missing one fails the job for good. */
async function findProgram(
  program: string,
  cwd: string | undefined,
  pathOverride: string | undefined,
): Promise<void> {
  if (await locate(program, cwd, pathOverride) === null) {
    throw new PermanentJobError(`cannot run ${JSON.stringify(program)}: not found`);
  }
}

/** Where `program` is, looked up as `execvp` would, or `null`. */
async function locate(
  program: string,
  cwd: string | undefined,
  pathOverride: string | undefined,
): Promise<string | null> {
  const candidates: string[] = [];
  if (program.includes("/")) {
    candidates.push(program.startsWith("/") || cwd === undefined ? program : `${cwd}/${program}`);
  } else {
    const path = pathOverride ?? Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
    for (const dir of path.split(":")) {
      const base = dir === "" ? "." : dir;
      candidates.push(
        base.startsWith("/") || cwd === undefined
          ? `${base}/${program}`
          : `${cwd}/${base}/${program}`,
      );
    }
  }
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && (info.mode === null || (info.mode & 0o111) !== 0)) return candidate;
    } catch {
      // Not there: the next one.
    }
  }
  return null;
}

/** The path of a helper program (`nice`, `ionice`), or a permanent failure saying so. */
async function helper(name: string, field: string, pkg: string): Promise<string> {
  const path = await locate(name, undefined, undefined);
  if (path === null) {
    throw new PermanentJobError(
      `"${field}" was asked for but the ${name} program is not installed here (${pkg}); remove "${field}" from the payload or install it`,
    );
  }
  return path;
}

/** The niceness of this process. */
let ownNiceness: number | undefined;

/** `nice -n <adjustment>` for the wanted niceness, after checking it can be had. */
async function niceArgs(target: number): Promise<string[]> {
  const nice = await helper("nice", "nice", "coreutils");
  ownNiceness ??= await niceness(nice, []);
  const adjustment = target - ownNiceness;
  if (adjustment < 0) {
    // Raising priority needs privilege: GNU nice only warns when refused, so check first.
    const got = await niceness(nice, ["-n", String(adjustment), nice]);
    if (got !== target) {
      throw new PermanentJobError(
        `cannot run at nice ${target}: this runtime (nice ${ownNiceness}) may not raise a program's priority (it needs root or CAP_SYS_NICE)`,
      );
    }
  }
  return [nice, "-n", String(adjustment)];
}

/** Runs `nice <args>` and reads the niceness it prints. */
async function niceness(nice: string, args: string[]): Promise<number> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(nice, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    throw new PermanentJobError(
      `"nice" was asked for but the nice program cannot run here: ${
        error instanceof Deno.errors.NotFound
          ? "not found (install coreutils)"
          : errorMessage(error)
      }`,
    );
  }
  const value = Number.parseInt(new TextDecoder().decode(out.stdout).trim(), 10);
  if (!out.success || !Number.isInteger(value)) {
    throw new PermanentJobError(
      `"nice" was asked for but the nice program failed: ${
        new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`
      }`,
    );
  }
  return value;
}

/** `ionice -c <class> [-n <level>]`, after checking it can be set here. */
async function ioniceArgs(io: IoNice): Promise<string[]> {
  const args = [
    "-c",
    String(IONICE_CLASSES[io.class]),
    ...(io.level === undefined ? [] : ["-n", String(io.level)]),
  ];
  const ionice = await helper("ionice", "ionice", "util-linux");
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(ionice, {
      args: [...args, "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new PermanentJobError(
      `"ionice" was asked for but the ionice program cannot run here: ${
        error instanceof Deno.errors.NotFound
          ? "not found (install util-linux)"
          : errorMessage(error)
      }`,
    );
  }
  if (!out.success) {
    throw new PermanentJobError(
      `cannot run at ionice ${io.class}${io.level === undefined ? "" : `:${io.level}`}: ${
        new TextDecoder().decode(out.stderr).trim() || `ionice exited with ${out.code}`
      }`,
    );
  }
  return [ionice, ...args];
}

/** Reads a stream to its end: hands out each line, returns the last {@link TAIL_BYTES}. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  stop?: AbortSignal,
): Promise<string> {
  const decoder = new TextDecoder();
  let tail = "";
  let partial = "";
  const reader = stream.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  stop?.addEventListener("abort", cancel, { once: true });
  for (;;) {
    const { done, value: chunk } = await reader.read().catch(() => ({
      done: true,
      value: undefined,
    }));
    if (done || chunk === undefined) break;
    const text = decoder.decode(chunk, { stream: true });
    tail = (tail + text).slice(-TAIL_BYTES);
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line.slice(0, MAX_LINE));
  }
  stop?.removeEventListener("abort", cancel);
  reader.releaseLock();
  const rest = decoder.decode();
  tail = (tail + rest).slice(-TAIL_BYTES);
  partial += rest;
  if (partial !== "") onLine(partial.slice(0, MAX_LINE));
  return tail;
}
