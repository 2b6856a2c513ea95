/**
 * The whole dashboard in a real terminal under tmux: `liminal start` in a 100×30 pane, jobs
 * enqueued through the CLI, the screen read with capture-pane; Ctrl-C shows the shutdown and
 * gives the terminal back. The same for `liminal top` attaching and detaching. At 80×24, the
 * most common terminal: queue depths and waits, two workers or more, a selection that stays
 * on its job, and nothing a handler prints on the screen.
 */
import assert from "node:assert/strict";
import { PERMISSIONS, runLiminal, spawnLiminal } from "../_support/cli.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/jobs.ts", import.meta.url).pathname;
const CHATTY = new URL("./fixtures/chatty.ts", import.meta.url).pathname;
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
  async start(dir: string, command: string, size = { width: 100, height: 30 }): Promise<void> {
    await this.run(
      "new-session",
      "-d",
      "-s",
      "t",
      "-x",
      String(size.width),
      "-y",
      String(size.height),
      "-c",
      dir,
      command,
    );
  }
  screen(): Promise<string> {
    return this.run("capture-pane", "-p", "-t", "t");
  }
  /** The screen with its attributes (inverse: `ESC[7m`). */
  styled(): Promise<string> {
    return this.run("capture-pane", "-p", "-e", "-t", "t");
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

/** The line of `screen` (captured with attributes) drawn in inverse video, without escapes. */
function highlighted(styled: string): string | null {
  // deno-lint-ignore no-control-regex
  const line = styled.split("\n").find((l) => /\x1b\[[0-9;]*\b7m/.test(l));
  // deno-lint-ignore no-control-regex
  return line === undefined ? null : line.replace(/\x1b\[[0-9;]*m/g, "");
}

Deno.test({
  name:
    "dashboard at 80×24: each queue row's depth and oldest wait, two workers or more, the selection stays on its job, no handler output on screen",
  ignore: !HAS_TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "liminal-tui-" });
    await using tmux = new Tmux(dir);
    const cli = (args: string[]) => runLiminal(args, { cwd: dir });
    const exitFile = `${dir}/exit.txt`;
    await tmux.start(
      dir,
      liminalCommand(
        ["start", "--jobs", FIXTURES, "--jobs", CHATTY, "--workers", "4", "--grace", "1s"],
        exitFile,
      ),
      { width: 80, height: 24 },
    );
    await tmux.waitFor((s) => s.includes("Recent jobs") && s.includes("running"), "the dashboard");
    const chatty = await cli(["enqueue", "chatty", "--wait", "--json"]);
    assert.equal(chatty.code, 0, chatty.stderr);
    const waited = JSON.parse(chatty.stdout);
    const chattyId: string = waited.id ?? waited.jobs[0].id;
    const tail = chattyId.slice(-4);
    await tmux.waitFor((s) => /succeeded\s+chatty/.test(s), "the chatty job in the list");
    // The first job was selected when it arrived (the list has the focus).
    assert.match(highlighted(await tmux.styled()) ?? "", new RegExp(`chatty\\s+\\S+…${tail}`));

    // Newer jobs arrive on top: four workers busy, five info jobs waiting.
    assert.equal(
      (await cli(["enqueue", "steps", "--payload", '{"ms": 8000}', "--count", "4"])).code,
      0,
    );
    assert.equal(
      (await cli([
        "enqueue",
        "sleep",
        "--payload",
        '{"ms": 50}',
        "--count",
        "5",
        "--priority",
        "info",
      ]))
        .code,
      0,
    );
    const screen = await tmux.waitFor(
      (s) => /Workers\s+4\/4 busy/.test(s) && /info\s+5\s+\d/.test(s),
      "four busy workers and five info jobs waiting",
    );
    const rows = screen.trimEnd().split("\n");
    assert.ok(rows.length <= 24, screen);
    for (const priority of ["override", "critical", "blocking", "coordinate", "info"]) {
      const row = rows.find((l) => l.startsWith(`│ ${priority} `));
      assert.ok(row !== undefined, `a row for ${priority}:\n${screen}`);
      const queue = row.slice(0, row.indexOf("││"));
      assert.match(queue, /^│ \S+\s+\d+\s+(-|\d[\d.]*(ms|s|m)\b)/, `depth and oldest wait: ${row}`);
      assert.doesNotMatch(queue, /…/, `nothing cut: ${row}`);
    }
    assert.match(rows.find((l) => l.startsWith("│ info "))!, /info\s+5\s+\d[\d.]*(ms|s)/);
    const workers = rows.filter((l) => /w\d\s+busy\s+steps/.test(l));
    assert.ok(workers.length >= 2, `at least two worker rows:\n${screen}`);
    // The selection stayed on the chatty job, now rows below the newer ones.
    assert.match(highlighted(await tmux.styled()) ?? "", new RegExp(`chatty\\s+\\S+…${tail}`));
    assert.doesNotMatch(screen, /hello from handler|trouble 1 of 2|chatty module loaded/);

    // r asks about that job; n keeps it; enter shows its details, with what it printed.
    await tmux.keys("r");
    await tmux.waitFor((s) => s.includes(`Retry chatty ${chattyId}?`), "the retry question");
    await tmux.keys("n");
    await tmux.waitFor((s) => s.includes("Recent jobs"), "the dashboard again");
    await tmux.keys("Enter");
    await tmux.waitFor(
      (s) => s.includes(`job ${chattyId}`) && s.includes("hello from handler"),
      "the chatty job's details with its log",
    );
    await tmux.keys("Escape");
    await tmux.waitFor((s) => s.includes("Recent jobs"), "the dashboard once more");
    await tmux.keys("C-c");
    assert.equal(await exitCode(exitFile), 0);
    // After the dashboard: no handler output either (it is in the job's log).
    assert.doesNotMatch(await tmux.screen(), /hello from handler|trouble 1 of 2/);
  },
});
