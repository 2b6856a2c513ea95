/**
 * Shell completion: the scripts, and the `complete --` protocol they call back.
 */
import assert from "node:assert/strict";
import { runLiminal, spawnLiminal } from "../_support/cli.ts";

const FIXTURES = new URL("./fixtures/jobs.ts", import.meta.url).pathname;

function values(stdout: string): string[] {
  return stdout.trim().split("\n").filter((line) => !line.startsWith(":")).map((line) =>
    line.split("\t")[0]!
  );
}

Deno.test("completions", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-comp-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await t.step("scripts for bash, zsh and fish call back liminal complete", async () => {
      for (const shell of ["bash", "zsh", "fish"]) {
        const result = await cli(["completions", shell]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /liminal/);
        assert.match(result.stdout, /complete --/, shell);
      }
    });

    await t.step("sourcing the bash script twice prints no readonly errors", async () => {
      const result = await cli(["completions", "bash"]);
      assert.equal(result.code, 0, result.stderr);
      const path = `${dir}/liminal.bash`;
      await Deno.writeTextFile(path, result.stdout);
      const output = await new Deno.Command("bash", {
        args: ["-c", `source '${path}' && source '${path}' && complete -p liminal`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(stderr, "", "no readonly variable errors");
      assert.equal(output.code, 0);
      assert.match(new TextDecoder().decode(output.stdout), /liminal/, "the completion is set");
    });

    await t.step("subcommands, options, priorities and states complete", async () => {
      assert.deepEqual(values((await cli(["complete", "--", "en"])).stdout), ["enqueue"]);
      assert.ok(values((await cli(["complete", "--", ""])).stdout).includes("shutdown"));
      assert.deepEqual(
        values((await cli(["complete", "--", "enqueue", "x", "--priority", "c"])).stdout),
        [
          "coordinate",
          "critical",
        ],
      );
      assert.deepEqual(
        values((await cli(["complete", "--", "jobs", "list", "--state", "d"])).stdout),
        ["dead"],
      );
      assert.ok(
        values((await cli(["complete", "--", "enqueue", "x", "--"])).stdout).includes("--wait"),
      );
    });

    await t.step("job kinds come from the running runtime, else the built-in ones", async () => {
      assert.deepEqual(values((await cli(["complete", "--", "enqueue", ""])).stdout).sort(), [
        "backup",
        "command",
        "fail",
        "http-check",
        "lease-sweep",
        "prune-history",
        "sleep",
        "sqlite-checkpoint",
        "vacuum",
      ]);
      await using runtime = spawnLiminal(["start", "--no-tui", "--jobs", FIXTURES], { cwd: dir });
      await runtime.waitFor((p) => p.stderr.includes("Ctrl-C to stop"), 20_000, "the runtime");
      assert.deepEqual(values((await cli(["complete", "--", "enqueue", "st"])).stdout).sort(), [
        "steps",
        "stubborn",
      ]);
      runtime.kill("SIGTERM");
      await runtime.done();
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
