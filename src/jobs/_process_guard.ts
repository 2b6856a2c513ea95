/**
 * The process guard: the process groups `command` jobs start live and die with the runtime
 * that started them.
 *
 * - A watchdog (one small `sh` process per guard, started at the first registered group, in
 *   a session of its own so no terminal signal reaches it) reads `+PGID` / `-PGID` lines
 *   from a pipe only the runtime holds. When the pipe ends without a `bye` line, the runtime
 *   is gone (however it died, `kill -9` included): the watchdog sends SIGTERM to every group
 *   still registered, SIGKILL to those left after the kill grace, and exits.
 * - The guard watches its watchdog: one that exits while the guard is open (someone killed
 *   it) is logged and replaced at once by a new one told every live group; one that keeps
 *   dying is replaced after a growing pause (up to 5 s), and {@link ProcessGuard.trouble}
 *   says so for the status.
 * - A record file (when given: `<db>.procs` next to a SQLite store) lists the live groups:
 *   process group id, the start time of its leader (`/proc/<pid>/stat` field 22, against
 *   pid reuse), the host and the boot id. Lines are appended (`+`, `-`) and the file is
 *   emptied whenever no group is live. A runtime starting on the same store calls
 *   {@link ProcessGuard.recover} before it requeues interrupted jobs: every recorded group
 *   still alive gets SIGTERM, then SIGKILL after the kill grace, and the start waits until
 *   it is gone. The file is locked (`flock`) by the runtime that uses it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatDuration } from "../shared/duration.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";

const log = getLogger(["liminal", "processes"]);

/** Options of {@link ProcessGuard}. */
export interface ProcessGuardOptions {
  /** Time between SIGTERM and SIGKILL when the watchdog or a recovery kills a group. */
  killGraceMs: number;
  /** Where live groups are recorded for {@link ProcessGuard.recover}; `null`: nowhere. */
  file?: string | null;
}

/** One recorded group. */
interface GroupRecord {
  pgid: number;
  /** Start time of the leader (clock ticks since boot), `null` where unknown. */
  start: string | null;
  host: string;
  boot: string | null;
  job: string;
}

/** What {@link ProcessGuard.recover} did. */
export interface RecoveryReport {
  /** Groups found alive and killed: their ids and jobs. */
  killed: { pgid: number; job: string }[];
  /** Groups recorded on another host or before a reboot (left alone). */
  skipped: number;
}

/** How often a group's end is looked for while waiting for it. */
const POLL_MS = 100;
/** How long a group may take to vanish after SIGKILL before recovery gives up. */
const AFTER_KILL_MS = 10_000;
/** The record file is rewritten with only the live groups past this size. */
const COMPACT_BYTES = 256 * 1024;
/** A watchdog that lived this long before it died starts the backoff over. */
const STABLE_MS = 10_000;
/** The pause before the second replacement in a row; it doubles with each next one. */
const RESPAWN_BASE_MS = 250;
/** The longest pause before a replacement. */
const RESPAWN_MAX_MS = 5_000;
/** Deaths within this window count towards "keeps dying". */
const DEATH_WINDOW_MS = 60_000;
/** This many deaths within the window make the guard report trouble. */
const DEATHS_FOR_TROUBLE = 3;

/**
 * The watchdog: reads `+PGID` / `-PGID` / `bye` from stdin. On EOF without `bye`: SIGTERM to
 * every registered group, waits up to the grace (hundredths of a second, `$1`) for them to
 * end, SIGKILL to what is left. The grace is measured on the clock (`/proc/uptime`, read by
 * the shell itself) where there is one, so the SIGKILL comes at most one poll (50 ms) late;
 * elsewhere it is counted in polls.
 */
const WATCHDOG = `trap '' INT HUP QUIT TSTP TTIN TTOU
groups=
while IFS= read -r line; do
  case $line in
    +*) groups="$groups \${line#+}" ;;
    -*) g=\${line#-}; rest=; for x in $groups; do [ "$x" = "$g" ] || rest="$rest $x"; done; groups=$rest ;;
    bye) exit 0 ;;
  esac
done
[ -z "$groups" ] && exit 0
for g in $groups; do kill -s TERM -- "-$g" 2>/dev/null; done
tick() {
  read -r up _idle </proc/uptime || up=0.0
  up=\${up%.*}\${up#*.}
  while :; do case $up in 0?*) up=\${up#0} ;; *) break ;; esac; done
}
end=
if [ -r /proc/uptime ]; then tick; end=$((up + $1)); fi
left=$1
while :; do
  alive=
  for g in $groups; do kill -s 0 -- "-$g" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && exit 0
  if [ -n "$end" ]; then
    tick
    [ "$up" -ge "$end" ] && break
  else
    [ "$left" -le 0 ] && break
  fi
  if sleep 0.05 2>/dev/null; then left=$((left - 5)); else sleep 1; left=$((left - 100)); fi
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
exit 0
`;

/** See the module doc. */
export class ProcessGuard {
  readonly killGraceMs: number;
  readonly file: string | null;
  #record: Deno.FsFile | null = null;
  #recordBytes = 0;
  #watchdog: Deno.ChildProcess | null = null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  /** Writes to the watchdog, in order. */
  #writing: Promise<void> = Promise.resolve();
  readonly #live = new Map<number, GroupRecord>();
  readonly #killTimers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;
  /** A replacement of a watchdog that died, waiting for its backoff. */
  #respawnTimer: ReturnType<typeof setTimeout> | undefined;
  /** When (performance.now) the watchdog died unasked, within the last minute. */
  #deaths: number[] = [];
  /** Deaths in a row, each less than {@link STABLE_MS} after the one before. */
  #inARow = 0;
  #lastDeathAt = Number.NEGATIVE_INFINITY;
  /** How the last watchdog that died ended. */
  #lastExit: string | null = null;
  /** Why the last replacement could not start, until one does. */
  #spawnError: string | null = null;

  constructor(options: ProcessGuardOptions) {
    this.killGraceMs = options.killGraceMs;
    this.file = options.file ?? null;
  }

  /** Process groups registered and not yet ended. */
  get liveGroups(): number[] {
    return [...this.#live.keys()];
  }

  /** Whether the watchdog process runs. */
  get watching(): boolean {
    return this.#watchdog !== null;
  }

  /**
   * Why the watchdog cannot be relied on now, for the status, or `null`: it is down while
   * groups are live (a replacement waits for its backoff, or cannot start), or it died
   * {@link DEATHS_FOR_TROUBLE} times or more in the last minute.
   */
  get trouble(): string | null {
    if (this.#closed) return null;
    const now = performance.now();
    const deaths = this.#deaths.filter((at) => now - at < DEATH_WINDOW_MS).length;
    const last = this.#lastExit === null ? "" : ` (the last one ${this.#lastExit})`;
    if (this.#watchdog === null && this.#live.size > 0 && this.#lastExit !== null) {
      const why = this.#spawnError === null
        ? "a new one starts after a pause"
        : `a new one cannot start: ${this.#spawnError}`;
      return `the process watchdog is down${last}, ${why}: if the runtime dies now, the processes of ${this.#live.size} running job(s) keep running`;
    }
    if (deaths >= DEATHS_FOR_TROUBLE) {
      return `the process watchdog died ${deaths} times in the last minute${last}; it is replaced each time, but something keeps killing it (see the runtime's log)`;
    }
    return null;
  }

  /**
   * Takes the record file and kills what an earlier runtime recorded there that still runs,
   * waiting until it is gone. Call it before any interrupted job is queued again. Without a
   * record file: nothing to do.
   */
  async recover(log?: (message: string) => void): Promise<RecoveryReport> {
    const report: RecoveryReport = { killed: [], skipped: 0 };
    if (this.file === null || this.#record !== null) return report;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.file, { read: true, write: true, create: true, mode: 0o600 });
    } catch (error) {
      throw new LiminalError(
        "STORE_UNAVAILABLE",
        `cannot open the process record ${this.file}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (!(await file.tryLock(true))) {
      file.close();
      throw new LiminalError(
        "CONFLICT",
        `the process record ${this.file} is in use by another runtime`,
        { hint: "stop that runtime first" },
      );
    }
    this.#record = file;
    const text = new TextDecoder().decode(await Deno.readFile(this.file));
    const host = hostname();
    const boot = await bootId();
    for (const group of parseRecord(text).values()) {
      if (group.host !== host || (group.boot !== null && boot !== null && group.boot !== boot)) {
        report.skipped++;
        continue;
      }
      if (!(await groupIsOurs(group))) continue;
      log?.(
        `process group ${group.pgid} of job ${group.job}, left by a runtime that stopped, still runs: stopping it`,
      );
      await terminateGroup(group.pgid, this.killGraceMs);
      if (await groupAlive(group.pgid)) {
        throw new LiminalError(
          "CONFLICT",
          `process group ${group.pgid} of job ${group.job}, left by a runtime that stopped, is still alive after SIGKILL`,
          { hint: `its jobs cannot run again safely until it is gone: see ps -g ${group.pgid}` },
        );
      }
      report.killed.push({ pgid: group.pgid, job: group.job });
    }
    await file.truncate(0);
    this.#recordBytes = 0;
    return report;
  }

  /**
   * Registers a new process group (its leader must not have started its program yet): the
   * watchdog learns it and it is recorded. Resolves once both are written.
   */
  async register(pgid: number, job: string): Promise<void> {
    if (this.#closed) {
      throw new LiminalError("RUNTIME_SHUTTING_DOWN", "the process guard is closed");
    }
    const group: GroupRecord = {
      pgid,
      start: await startTimeOf(pgid),
      host: hostname(),
      boot: await bootId(),
      job,
    };
    // Closed while the group's facts were read: nothing would watch it, so it must not start.
    if (this.#closed) {
      throw new LiminalError("RUNTIME_SHUTTING_DOWN", "the process guard is closed");
    }
    this.#live.set(pgid, group);
    this.#append({ op: "+", ...group });
    await this.#tell(`+${pgid}`);
  }

  /** Forgets a group that ended. */
  async unregister(pgid: number): Promise<void> {
    if (!this.#live.delete(pgid)) return;
    if (this.#live.size === 0) this.#truncate();
    else this.#append({ op: "-", pgid });
    if (this.#watchdog !== null) await this.#tell(`-${pgid}`);
  }

  /** SIGTERM to every live group now, SIGKILL after `graceMs` to those left. */
  killAll(graceMs = this.killGraceMs): void {
    const groups = this.liveGroups;
    for (const pgid of groups) signalGroup(pgid, "SIGTERM");
    if (groups.length === 0) return;
    const timer = setTimeout(() => {
      this.#killTimers.delete(timer);
      for (const pgid of groups) if (this.#live.has(pgid)) signalGroup(pgid, "SIGKILL");
    }, graceMs);
    this.#killTimers.add(timer);
  }

  /**
   * Stops the watchdog cleanly (`bye`) and gives the record file back. Groups still live are
   * killed first (SIGKILL: their handlers were given up on). Safe to call twice; no group can
   * be registered after.
   */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#killTimers) clearTimeout(timer);
    this.#killTimers.clear();
    clearTimeout(this.#respawnTimer);
    this.#respawnTimer = undefined;
    for (const pgid of this.#live.keys()) signalGroup(pgid, "SIGKILL");
    this.#live.clear();
    // Writes on their way go first (none starts a watchdog now that the guard is closed).
    await this.#writing.catch(() => {});
    const watchdog = this.#watchdog;
    const writer = this.#writer;
    this.#watchdog = null;
    this.#writer = null;
    if (watchdog !== null && writer !== null) {
      await writer.write(new TextEncoder().encode("bye\n")).catch(() => {});
      await writer.close().catch(() => {});
      await watchdog.status;
    }
    if (this.#record !== null) {
      this.#truncate();
      try {
        this.#record.unlockSync();
      } catch {
        // Closing releases it.
      }
      this.#record.close();
      this.#record = null;
    }
  }

  /**
   * Ends the watchdog's pipe without `bye`, as the death of the runtime would: the watchdog
   * stops every group it knows (SIGTERM, SIGKILL after the grace) and exits. Resolves when it
   * has. The guard forgets those groups.
   */
  async abandon(): Promise<void> {
    clearTimeout(this.#respawnTimer);
    this.#respawnTimer = undefined;
    this.#live.clear();
    await this.#writing.catch(() => {});
    const watchdog = this.#watchdog;
    const writer = this.#writer;
    this.#watchdog = null;
    this.#writer = null;
    if (watchdog === null || writer === null) return;
    await writer.close().catch(() => {});
    await watchdog.status;
  }

  /** The watchdog's pid, while it runs. */
  get watchdogPid(): number | null {
    return this.#watchdog?.pid ?? null;
  }

  #tell(line: string): Promise<void> {
    this.#writing = this.#writing.catch(() => {}).then(async () => {
      try {
        await this.#send(line);
      } catch {
        // The watchdog is gone (someone killed it): a new one learns every live group.
        const dead = this.#watchdog;
        if (dead !== null) this.#died(dead, "stopped reading its pipe");
        await this.#send(null);
      }
    });
    return this.#writing;
  }

  /**
   * Writes `line` to the watchdog, starting one first if none runs; a watchdog started now is
   * told every live group instead (so is any with `line` `null`). Nothing once closed.
   */
  async #send(line: string | null): Promise<void> {
    if (this.#closed) {
      // A registration must not pass for watched once the guard is closed.
      if (line?.startsWith("+")) {
        throw new LiminalError("RUNTIME_SHUTTING_DOWN", "the process guard is closed");
      }
      return;
    }
    const fresh = this.#startWatchdog();
    const text = fresh || line === null
      ? [...this.#live.keys()].map((pgid) => `+${pgid}`).join("\n")
      : line;
    if (text === "") return;
    await this.#writer!.write(new TextEncoder().encode(`${text}\n`));
  }

  /** Starts a watchdog unless one runs; whether it started one. */
  #startWatchdog(): boolean {
    if (this.#watchdog !== null) return false;
    const hundredths = Math.max(1, Math.ceil(this.killGraceMs / 10));
    let watchdog: Deno.ChildProcess;
    try {
      watchdog = new Deno.Command("sh", {
        args: ["-c", WATCHDOG, "liminal-watchdog", String(hundredths)],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
        // A session of its own: Ctrl-C and a hang-up of the terminal reach the runtime only.
        detached: true,
      }).spawn();
    } catch (error) {
      throw new LiminalError(
        "INTERNAL",
        `cannot start the process watchdog (sh): ${errorMessage(error)}`,
        { cause: error },
      );
    }
    this.#watchdog = watchdog;
    this.#writer = watchdog.stdin.getWriter();
    this.#spawnError = null;
    watchdog.status.then(
      (status) =>
        this.#died(
          watchdog,
          status.signal !== null ? `was killed by ${status.signal}` : `exited (${status.code})`,
        ),
      (error) => this.#died(watchdog, `ended: ${errorMessage(error)}`),
    );
    return true;
  }

  /**
   * A watchdog ended. When the guard did not ask it to (it is still the current one and the
   * guard is open), the death is logged and a new watchdog, told every live group, replaces
   * it: at once, or after a pause that doubles while it keeps dying.
   */
  #died(watchdog: Deno.ChildProcess, how: string): void {
    if (this.#watchdog !== watchdog) return; // stopped on purpose, or already replaced
    const writer = this.#writer;
    this.#watchdog = null;
    this.#writer = null;
    writer?.close().catch(() => {});
    if (this.#closed) return;
    const now = performance.now();
    this.#inARow = now - this.#lastDeathAt < STABLE_MS ? this.#inARow + 1 : 1;
    this.#lastDeathAt = now;
    this.#deaths = [...this.#deaths.filter((at) => now - at < DEATH_WINDOW_MS), now];
    this.#lastExit = how;
    const delay = this.#respawnDelay();
    log.warn(
      "the process watchdog (pid {pid}) {how} while the runtime runs: {what}, told the {groups} live process group(s)",
      {
        pid: watchdog.pid,
        how,
        what: delay === 0
          ? "a new one starts now"
          : `it died ${this.#inARow} times in a row; a new one starts in ${formatDuration(delay)}`,
        groups: this.#live.size,
      },
    );
    this.#respawnAfter(delay);
  }

  /** The pause before the next replacement: none for the first death in a while. */
  #respawnDelay(): number {
    return this.#inARow <= 1
      ? 0
      : Math.min(RESPAWN_MAX_MS, RESPAWN_BASE_MS * 2 ** (this.#inARow - 2));
  }

  /** Starts a new watchdog (told every live group) after `delay`, unless one runs by then. */
  #respawnAfter(delay: number): void {
    clearTimeout(this.#respawnTimer);
    this.#respawnTimer = undefined;
    const respawn = () => {
      this.#respawnTimer = undefined;
      this.#writing = this.#writing.catch(() => {}).then(async () => {
        if (this.#closed || this.#watchdog !== null) return;
        try {
          await this.#send(null);
        } catch (error) {
          if (this.#watchdog !== null) return; // it started, then died: #died handles it
          this.#spawnError = errorMessage(error);
          this.#inARow++;
          const next = this.#respawnDelay();
          log.error("the process watchdog cannot start: {error}; trying again in {delay}", {
            error: this.#spawnError,
            delay: formatDuration(next),
          });
          this.#respawnAfter(next);
        }
      });
    };
    if (delay === 0) respawn();
    else this.#respawnTimer = setTimeout(respawn, delay);
  }

  #append(entry: Record<string, unknown>): void {
    if (this.#record === null) return;
    if (this.#recordBytes > COMPACT_BYTES) {
      // Rewrite with the live groups only (the entry is one of them, or their end).
      this.#truncate();
      for (const group of this.#live.values()) this.#write({ op: "+", ...group });
      return;
    }
    this.#write(entry);
  }

  #write(entry: Record<string, unknown>): void {
    const bytes = new TextEncoder().encode(JSON.stringify(entry) + "\n");
    try {
      this.#record!.seekSync(0, Deno.SeekMode.End);
      let done = 0;
      while (done < bytes.length) done += this.#record!.writeSync(bytes.subarray(done));
      this.#recordBytes += bytes.length;
    } catch {
      // The watchdog still covers this group; the record is the second line of defence.
    }
  }

  #truncate(): void {
    if (this.#record === null) return;
    try {
      this.#record.truncateSync(0);
      this.#recordBytes = 0;
    } catch {
      // Left as it is: a recovery checks each group before it kills it.
    }
  }
}

/** The groups still live according to a record file's lines. */
function parseRecord(text: string): Map<number, GroupRecord> {
  const live = new Map<number, GroupRecord>();
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line cut short by a crash
    }
    const pgid = entry.pgid;
    if (typeof pgid !== "number" || !Number.isInteger(pgid) || pgid <= 1) continue;
    if (entry.op === "-") live.delete(pgid);
    else if (entry.op === "+") {
      live.set(pgid, {
        pgid,
        start: typeof entry.start === "string" ? entry.start : null,
        host: String(entry.host ?? ""),
        boot: typeof entry.boot === "string" ? entry.boot : null,
        job: String(entry.job ?? "?"),
      });
    }
  }
  return live;
}

/**
 * Whether a recorded group is still the one recorded: its leader runs with the recorded
 * start time, or the leader is gone and processes of its group remain (a group id is not
 * handed out again while a process of the group lives).
 */
async function groupIsOurs(group: GroupRecord): Promise<boolean> {
  const start = await startTimeOf(group.pgid);
  if (start !== null) {
    if (group.start !== null && start !== group.start) return false;
    return true;
  }
  return groupAlive(group.pgid);
}

/** Exit code of {@link GO_WRAPPER} when it was never told to go (its runtime died first). */
export const NO_GO = 125;

/**
 * `sh -c` script that runs `"$@"` (stdin from `/dev/null`) only once it reads `go` on its
 * stdin: the runtime writes it after the group is registered, so a program never runs
 * unguarded, even when the runtime dies between the spawn and the registration.
 */
export const GO_WRAPPER =
  `IFS= read -r go || exit ${NO_GO}; [ "$go" = go ] || exit ${NO_GO}; exec "$@" </dev/null`;

/**
 * Spawns `program` in a process group of its own (a new session), registered with `guard` for
 * `job` before it starts: if the runtime dies, the watchdog stops the group. The caller
 * unregisters the group (`guard.unregister(child.pid)`) once it has ended.
 */
export async function spawnGuarded(
  guard: ProcessGuard,
  job: string,
  program: string,
  args: readonly string[],
  options: Omit<Deno.CommandOptions, "args" | "stdin" | "detached">,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("sh", {
    ...options,
    args: ["-c", GO_WRAPPER, "liminal-guarded", program, ...args],
    stdin: "piped",
    detached: true,
  }).spawn();
  const stdin = child.stdin.getWriter();
  try {
    await guard.register(child.pid, job);
    await stdin.write(new TextEncoder().encode("go\n"));
  } catch (error) {
    signalGroup(child.pid, "SIGKILL");
    await guard.unregister(child.pid).catch(() => {});
    await Promise.all([
      options.stdout === "piped" ? child.stdout.cancel() : null,
      options.stderr === "piped" ? child.stderr.cancel() : null,
    ]).catch(() => {});
    await child.status.catch(() => {});
    throw error;
  } finally {
    await stdin.close().catch(() => {});
  }
  return child;
}

/** Sends `signal` to a process group; `false` when it has no process left. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERM to a group, SIGKILL after `graceMs` if any of it is left; resolves once it is gone
 * (or `AFTER_KILL_MS` after the SIGKILL).
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!(await groupAlive(pgid))) return;
  signalGroup(pgid, "SIGTERM");
  if (await waitGone(pgid, graceMs)) return;
  signalGroup(pgid, "SIGKILL");
  await waitGone(pgid, AFTER_KILL_MS);
}

/** Waits up to `ms` for a group to end; whether it did. */
export async function waitGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (await groupAlive(pgid)) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

/**
 * Reads `/proc` through `sh` and `cat`: Deno refuses `/proc` to a process without
 * `--allow-all`, while `liminal start` runs with `--allow-run`. `null` where it cannot.
 */
async function readProc(script: string, ...args: string[]): Promise<string | null> {
  if (Deno.build.os !== "linux") return null;
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", script, "liminal-proc", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return null;
  }
}

/** Fields of a `/proc/<pid>/stat` line from field 3 (state) on, and the pid. */
function statFields(line: string): { pid: number; fields: string[] } | null {
  const end = line.lastIndexOf(")");
  const pid = Number.parseInt(line, 10);
  if (end < 0 || !Number.isInteger(pid)) return null;
  return { pid, fields: line.slice(end + 2).split(" ") };
}

/**
 * The pids of the live (not zombie) processes of a group (Linux, from `/proc`), or `null`
 * without `/proc`.
 */
export async function groupMembers(pgid: number): Promise<number[] | null> {
  const text = await readProc("cat /proc/[0-9]*/stat 2>/dev/null; exit 0");
  if (text === null || text === "") return null;
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const stat = statFields(line);
    // After the ")" that ends the name: state (field 3), ppid, pgrp (field 5).
    if (stat !== null && stat.fields[0] !== "Z" && stat.fields[2] === String(pgid)) {
      out.push(stat.pid);
    }
  }
  return out;
}

/** Whether any live process of the group remains. */
export async function groupAlive(pgid: number): Promise<boolean> {
  const members = await groupMembers(pgid);
  if (members !== null) return members.length > 0;
  // No /proc: SIGCONT wakes nothing that runs, and fails when the group is empty.
  return signalGroup(pgid, "SIGCONT");
}

/** Field 22 of `/proc/<pid>/stat` (the start time, in clock ticks since boot), or `null`. */
export async function startTimeOf(pid: number): Promise<string | null> {
  const text = await readProc('cat "/proc/$1/stat" 2>/dev/null; exit 0', String(pid));
  const stat = text === null ? null : statFields(text.trim());
  // Fields from 3 on: field 22 is at index 19.
  return stat === null || stat.fields[0] === "Z" ? null : stat.fields[19] ?? null;
}

let boot: Promise<string | null> | undefined;

/** This boot's id (Linux), or `null`. */
export function bootId(): Promise<string | null> {
  boot ??= readProc("cat /proc/sys/kernel/random/boot_id 2>/dev/null; exit 0").then((text) =>
    text?.trim() || null
  );
  return boot;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "this host";
  }
}
