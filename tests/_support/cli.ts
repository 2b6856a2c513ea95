/**
 * Runs the real `liminal` entry point (`main.ts`) as a child process, with the permissions
 * of `deno task liminal`.
 *
 * @module
 */

/** The permissions `deno task start` grants. */
export const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys",
];

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** What a finished `liminal` process printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runLiminal} and {@link spawnLiminal}. */
export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/** The arguments of `deno` that run `liminal args…` as `deno task liminal` would. */
export function liminalArgs(args: string[]): string[] {
  return ["run", "--quiet", `--config=${CONFIG}`, ...PERMISSIONS, MAIN, ...args];
}

function command(args: string[], options: CliOptions, piped: boolean): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: liminalArgs(args),
    cwd: options.cwd ?? Deno.cwd(),
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: piped ? "piped" : "null",
    stderr: piped ? "piped" : "null",
  });
}

/** Runs `liminal args…` to its end. */
export async function runLiminal(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const output = await command(args, options, true).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A running `liminal` process whose output is collected as it comes. */
export class LiminalProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<CliResult>;

  constructor(args: string[], options: CliOptions = {}) {
    this.child = command(args, options, true).spawn();
    const decoder = () => new TextDecoder();
    const read = async (stream: ReadableStream<Uint8Array>, into: "stdout" | "stderr") => {
      const d = decoder();
      for await (const chunk of stream) this[into] += d.decode(chunk, { stream: true });
    };
    const reading = Promise.all([
      read(this.child.stdout, "stdout"),
      read(this.child.stderr, "stderr"),
    ]);
    this.#done = Promise.all([this.child.status, reading]).then(([status]) => ({
      code: status.code,
      stdout: this.stdout,
      stderr: this.stderr,
    }));
  }

  /** Resolves once `predicate` holds for the output so far (polling), or throws after `ms`. */
  async waitFor(
    predicate: (p: LiminalProcess) => boolean,
    ms = 15_000,
    what = "output",
  ): Promise<void> {
    const deadline = performance.now() + ms;
    while (!predicate(this)) {
      if (performance.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Resolves when the process has exited and its output is read. */
  done(): Promise<CliResult> {
    return this.#done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.#done;
  }
}

/** Starts `liminal args…` in the background. */
export function spawnLiminal(args: string[], options: CliOptions = {}): LiminalProcess {
  return new LiminalProcess(args, options);
}
