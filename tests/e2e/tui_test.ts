/**
 * The whole dashboard in a real terminal under tmux: `liminal start` in a 100×30 pane, jobs
 * enqueued through the CLI, the screen read with capture-pane; Ctrl-C shows the shutdown and
 * gives the terminal back. The same for `liminal top` attaching and detaching.
 */
import assert from "node:assert/strict";
import { PERMISSIONS, runLiminal, spawnLiminal } from "../_support/cli.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/jobs.ts", import.meta.url).pathname;
const HAS_TMUX = (() => {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();
if (!HAS_TMUX) {
  console.error("tests/e2e/tui_test.ts: tmux is not installed; the terminal tests are skipped");
}

class Tmux implements AsyncDisposable {
  readonly socket: string;
  /**
   * A tmux server of this test's own (its socket in the test's temporary directory, like
   * `tmux -L` with a unique name), without the user's `~/.tmux.conf`: parallel runs, or a
   * tmux the developer has open, never share a server with it.
   */
  constructor(readonly dir: string) {
    this.socket = `${dir}/tmux.sock`;
  }
  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }
  async start(dir: string, command: string): Promise<void> {
    await this.run("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "-c", dir, command);
  }
  screen(): Promise<string> {
    return this.run("capture-pane", "-p", "-t", "t");
  }
  keys(...keys: string[]): Promise<string> {
    return this.run("send-keys", "-t", "t", ...keys);
  }
  async flags(): Promise<{ alternate: boolean; cursor: boolean }> {
    const out = (await this.run("display", "-p", "-t", "t", "#{alternate_on} #{cursor_flag}"))
      .trim().split(" ");
    return { alternate: out[0] === "1", cursor: out[1] === "1" };
  }
  async waitFor(
    predicate: (screen: string) => boolean,
    what: string,
    ms = 20_000,
  ): Promise<string> {
    const deadline = performance.now() + ms;
    let screen = "";
    while (performance.now() < deadline) {
      screen = await this.screen().catch(() => screen);
      if (predicate(screen)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; the screen:\n${screen}`);
  }
  /** Kills the server (and the pane's processes with it), then removes the directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.run("kill-server").catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

function liminalCommand(args: string[], exitFile: string): string {
  const argv = [
    Deno.execPath(),
    "run",
    "--quiet",
    `--config=${CONFIG}`,
    ...PERMISSIONS,
    MAIN,
    ...args,
  ];
  // CI is unset inside the pane: the dashboard is for terminals, CI or not.
  return `env -u CI ${argv.map(shellQuote).join(" ")}; echo "EXIT:$?" > ${
    shellQuote(exitFile)
  }; sleep 30`;
}

async function exitCode(file: string, ms = 20_000): Promise<number> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    try {
      const text = await Deno.readTextFile(file);
      const match = /EXIT:(\d+)/.exec(text);
      if (match) return Number(match[1]);
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the process did not exit");
}

Deno.test({
  name:
    "dashboard in a real terminal: live depth and workers, Ctrl-C shows the shutdown, terminal restored",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-tui-" });
    await using tmux = new Tmux(dir);
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    const exitFile = `${dir}/exit.txt`;
    await tmux.start(
      dir,
      liminalCommand(["start", "--jobs", FIXTURES, "--grace", "3s", "--workers", "2"], exitFile),
    );
    let screen = await tmux.waitFor(
      (s) => s.includes("Recent jobs") && s.includes("running"),
      "the dashboard",
    );
    assert.match(screen, /liminal \d+\.\d+\.\d+ running · pid \d+/);
    assert.match(screen, /Workers\s+0\/2 busy/);
    assert.equal((await tmux.flags()).alternate, true, "the dashboard uses the alternate screen");

    assert.equal(
      (await cli(["enqueue", "steps", "--payload", '{"ms": 6000}', "--count", "2"])).code,
      0,
    );
    assert.equal(
      (await cli([
        "enqueue",
        "sleep",
        "--payload",
        '{"ms": 100}',
        "--count",
        "5",
        "--priority",
        "info",
      ])).code,
      0,
    );
    screen = await tmux.waitFor((s) => /Workers\s+2\/2 busy/.test(s), "the workers to be busy");
    assert.match(screen, /w1\s+busy\s+steps/);
    assert.match(screen, /w2\s+busy\s+steps/);
    screen = await tmux.waitFor(
      (s) => /info\s+5\b/.test(s),
      "the info depth to show the waiting jobs",
    );

    await tmux.keys("C-c");
    screen = await tmux.waitFor(
      (s) => s.includes("Shutdown") && s.includes("drain"),
      "the shutdown view",
    );
    assert.match(screen, /✓ 1 intake-closed\s+finished/);
    assert.match(screen, /2 job\(s\) still running/);
    assert.equal(await exitCode(exitFile), 0);
    screen = await tmux.screen();
    assert.match(screen, /shutdown: \d+ finished, 2 interrupted and requeued, 5 queued kept/);
    const flags = await tmux.flags();
    assert.equal(flags.alternate, false, "the alternate screen is left");
    assert.equal(flags.cursor, true, "the cursor is shown again");
  },
});

Deno.test({
  name:
    "dashboard in a real terminal: a second Ctrl-C forces the shutdown (exit 130), terminal restored",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-tui-" });
    await using tmux = new Tmux(dir);
    const exitFile = `${dir}/exit.txt`;
    await tmux.start(
      dir,
      liminalCommand(
        ["start", "--jobs", FIXTURES, "--grace", "30s", "--store", ":memory:"],
        exitFile,
      ),
    );
    await tmux.waitFor((s) => s.includes("Recent jobs"), "the dashboard");
    assert.equal((await runLiminal(["enqueue", "stubborn"], { cwd: dir })).code, 0);
    await tmux.waitFor((s) => /w\d\s+busy\s+stubborn/.test(s), "the job running");
    await tmux.keys("C-c");
    await tmux.waitFor((s) => s.includes("Shutdown"), "the shutdown view");
    await tmux.keys("C-c");
    assert.equal(await exitCode(exitFile), 130);
    const flags = await tmux.flags();
    assert.equal(flags.alternate, false);
    assert.equal(flags.cursor, true);
    assert.match(await tmux.screen(), /shutdown \(forced\)/);
  },
});

Deno.test({
  name: "liminal top attaches to a running runtime and detaches with q, leaving it running",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-top-" });
    await using tmux = new Tmux(dir);
    await using runtime = spawnLiminal(["start", "--no-tui", "--jobs", FIXTURES], { cwd: dir });
    await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime");
    const exitFile = `${dir}/exit.txt`;
    await tmux.start(dir, liminalCommand(["top"], exitFile));
    await tmux.waitFor(
      (s) => s.includes("attached") || s.includes("Recent jobs"),
      "the dashboard",
    );
    assert.equal(
      (await runLiminal(["enqueue", "steps", "--payload", '{"ms": 3000}'], { cwd: dir })).code,
      0,
    );
    await tmux.waitFor((s) => /w\d\s+busy\s+steps/.test(s), "the job on the dashboard");
    await tmux.keys("q");
    assert.equal(await exitCode(exitFile), 0);
    assert.equal((await tmux.flags()).cursor, true);
    const status = await runLiminal(["status", "--json"], { cwd: dir });
    assert.equal(status.code, 0, "the runtime still runs");
    assert.equal(JSON.parse(status.stdout).state, "running");
    // Ctrl-C detaches too.
    await Deno.remove(exitFile);
    await tmux.run("kill-session", "-t", "t");
    await tmux.start(dir, liminalCommand(["top"], exitFile));
    await tmux.waitFor((s) => s.includes("Recent jobs"), "the dashboard again");
    await tmux.keys("C-c");
    assert.equal(await exitCode(exitFile), 0);
    assert.equal((await runLiminal(["status"], { cwd: dir })).code, 0);
    // The runtime shuts down under an attached top: top follows it and leaves by itself.
    await Deno.remove(exitFile);
    await tmux.run("kill-session", "-t", "t");
    await tmux.start(dir, liminalCommand(["top"], exitFile));
    await tmux.waitFor((s) => s.includes("Recent jobs"), "the dashboard once more");
    runtime.kill("SIGTERM");
    await runtime.done();
    assert.equal(await exitCode(exitFile), 0);
    assert.match(await tmux.screen(), /the runtime on .* has shut down/);
    assert.equal((await tmux.flags()).cursor, true);
  },
});
