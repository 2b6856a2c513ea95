/**
 * Running the benchmark scripts as subprocesses of this Deno, and reading /proc.
 *
 * @module
 */

/** The directory of the bench scripts, as a path. */
export const BENCH_DIR: string = new URL(".", import.meta.url).pathname;

/** The repository root, as a path. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

/** The permissions of `deno task start`: what a real runtime is given. */
export const START_PERMISSIONS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys",
];

/** The result of a finished subprocess. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `deno <args>` from the repository root and collects its output. */
export async function runDeno(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    ms: performance.now() - started,
  };
}

/**
 * Runs a bench script (`deno run <flags> bench/<script> <args>`) that prints one JSON
 * document on stdout, and parses it. Throws with the script's stderr if it failed.
 */
export async function runJsonScript<T>(
  script: string,
  flags: readonly string[],
  args: readonly string[],
): Promise<T> {
  const result = await runDeno(["run", ...flags, `${BENCH_DIR}${script}`, ...args]);
  if (result.code !== 0) {
    throw new Error(
      `${script} ${args.join(" ")} exited ${result.code}:\n${result.stderr.trim().slice(-2000)}`,
    );
  }
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`${script} ${args.join(" ")} printed no JSON:\n${result.stdout.slice(-2000)}`);
  }
}

/**
 * Fields of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`), read with `cat`: Deno wants
 * `--allow-all` to read /proc itself, `--allow-run=cat` is enough this way. Missing fields
 * (or no /proc) are `null`.
 */
export async function procStatus(pid: number): Promise<Record<string, number | null>> {
  const fields: Record<string, number | null> = { VmRSS: null, VmHWM: null };
  try {
    const output = await new Deno.Command("cat", {
      args: [`/proc/${pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    for (const field of Object.keys(fields)) {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
      if (match !== null) fields[field] = Number(match[1]) * 1024;
    }
  } catch {
    // no cat, no /proc, or no --allow-run: leave the fields null
  }
  return fields;
}

/** Reads `--name value` pairs from argv. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) args.set(arg.slice(2), "true");
    else {
      args.set(arg.slice(2), next);
      i++;
    }
  }
  return args;
}
