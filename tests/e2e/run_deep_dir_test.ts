/**
 * `liminal run` of a plan with leases in a directory so deep that the default socket path is
 * too long for a Unix socket: no runtime can listen there, so the plan's leases are its own and
 * it runs (an explicit --socket that long is still refused, exit 2).
 */
import assert from "node:assert/strict";
import { runLiminal } from "../_support/cli.ts";

Deno.test("run: a plan with leases runs in a deep directory where no runtime can listen", async () => {
  const root = await Deno.makeTempDir({ prefix: "liminal-deep-run-" });
  try {
    const dir = `${root}/${"a".repeat(60)}/${"b".repeat(60)}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/plan.json`,
      JSON.stringify({
        name: "deep",
        jobs: [{ kind: "sleep", payload: { ms: 1 }, leases: ["db/app"] }],
      }),
    );
    const ok = await runLiminal(["run", "plan.json", "--json"], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).jobs[0].state, "succeeded");
    const named = await runLiminal(
      ["run", "plan.json", "--socket", `${dir}/${"c".repeat(40)}.sock`],
      { cwd: dir },
    );
    assert.equal(named.code, 2, named.stderr);
    assert.match(named.stderr, /--socket/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
