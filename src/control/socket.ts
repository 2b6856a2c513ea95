/**
 * Where the control socket lives and how a runtime takes it: the default path, the
 * directory made private (0700), a live runtime on it refused (`CONFLICT`, naming its pid),
 * a stale socket left by a crash replaced.
 *
 * @module
 */
import { resolve } from "node:path";
import { errorMessage, LiminalError } from "../shared/errors.ts";

/** The socket a runtime listens on when nothing else is said. */
export const DEFAULT_SOCKET = ".liminal/liminal.sock";

/**
 * The longest path a Unix socket may have: `sun_path` holds 108 bytes on Linux and 104 on
 * macOS and the BSDs, its closing NUL included.
 */
export const MAX_SOCKET_PATH = Deno.build.os === "linux" || Deno.build.os === "android" ? 107 : 103;

/** The socket path from `--socket`, else `LIMINAL_SOCKET`, else the default. */
export function resolveSocketPath(option?: string): string {
  if (option !== undefined && option !== "") return option;
  const fromEnv = Deno.env.get("LIMINAL_SOCKET");
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_SOCKET;
}

/**
 * Refuses (`INVALID_ARGUMENT`, exit 2) a socket path the OS cannot bind or connect to. The
 * length that counts is the absolute path's: Deno resolves a relative path against the working
 * directory before it binds (under granular `--allow-*` permissions), so the default
 * `.liminal/liminal.sock` fails in a deep directory. Callers check before they create anything.
 */
export function checkSocketPath(path: string): void {
  const dir = path.startsWith("/") ? null : cwd();
  const absolute = dir === null ? path : resolve(dir, path);
  const bytes = new TextEncoder().encode(absolute).length;
  if (bytes <= MAX_SOCKET_PATH) return;
  const spelled = absolute === path ? path : `${path} (${absolute})`;
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `the control socket path ${spelled} is ${bytes} bytes; a Unix socket path may have at most ${MAX_SOCKET_PATH} on this OS`,
    {
      hint:
        "pass a shorter path with --socket PATH (or set LIMINAL_SOCKET), e.g. --socket /tmp/liminal-$USER.sock, and use the same one for every liminal command",
    },
  );
}

function cwd(): string | null {
  try {
    return Deno.cwd();
  } catch {
    return null; // no read permission: the path is measured as given
  }
}

/** What is at a socket path now. */
export type SocketProbe =
  | { kind: "absent" }
  | { kind: "live"; pid: number | null }
  | { kind: "stale" }
  | { kind: "not-a-socket" };

/** Looks at a socket path: nothing there, a live runtime, a stale socket, or another file. */
export async function probeSocket(path: string): Promise<SocketProbe> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { kind: "absent" };
    throw error;
  }
  if (!info.isSocket) return { kind: "not-a-socket" };
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused || error instanceof Deno.errors.NotFound) {
      return { kind: "stale" };
    }
    throw error;
  }
  // Something listens: ask it who it is, briefly.
  try {
    const request = "GET /v1/status HTTP/1.1\r\nHost: liminal\r\nConnection: close\r\n\r\n";
    await conn.write(new TextEncoder().encode(request));
    const text = await readWithin(conn, 2_000);
    const pid = /"pid"\s*:\s*(\d+)/.exec(text)?.[1];
    return { kind: "live", pid: pid === undefined ? null : Number(pid) };
  } catch {
    return { kind: "live", pid: null };
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the peer.
    }
  }
}

async function readWithin(conn: Deno.UnixConn, ms: number): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    while (text.length < 256 * 1024) {
      const n = await Promise.race([conn.read(buffer), timeout]);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      if (/"pid"\s*:\s*\d+/.test(text)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/**
 * Prepares `path` for a new runtime: makes its directory (0700) when missing, refuses a live
 * runtime (`CONFLICT`) or a file that is not a socket, and removes a stale socket.
 */
export async function claimSocketPath(path: string): Promise<void> {
  checkSocketPath(path);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `cannot create the socket directory ${dir}: ${errorMessage(error)}`,
      );
    }
  }
  const probe = await probeSocket(path);
  switch (probe.kind) {
    case "absent":
      return;
    case "live":
      throw liveConflict(path, probe.pid);
    case "not-a-socket":
      throw new LiminalError(
        "INVALID_ARGUMENT",
        `${path} exists and is not a socket; refusing to replace it`,
      );
    case "stale":
      await Deno.remove(path);
  }
}

/** Fails with `CONFLICT` when a live runtime answers on `path`; anything else passes. */
export async function assertSocketFree(path: string): Promise<void> {
  const probe = await probeSocket(path).catch(() => ({ kind: "absent" }) as const);
  if (probe.kind === "live") throw liveConflict(path, probe.pid);
}

function liveConflict(path: string, pid: number | null): LiminalError {
  return new LiminalError(
    "CONFLICT",
    `another runtime${pid === null ? "" : ` (pid ${pid})`} already listens on ${path}`,
    { hint: "stop it with: liminal shutdown, or start this one with --socket PATH" },
  );
}
