/**
 * Thousands of idle connections exhaust a runtime's file descriptors: the runtime keeps
 * running its jobs and its control socket answers again once they close (Deno's server
 * stops listening on such an accept failure; the runtime listens again).
 */
import assert from "node:assert/strict";
import { liminalArgs, runLiminal } from "../_support/cli.ts";

Deno.test("out of file descriptors: the runtime survives and its socket answers again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-fd-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  // A low limit for the runtime alone, so a few hundred connections reach it.
  const quoted = [Deno.execPath(), ...liminalArgs(["start", "--no-tui", "--store", ":memory:"])]
    .map((a) => `'${a}'`).join(" ");
  const runtime = new Deno.Command("sh", {
    args: ["-c", `ulimit -n 200 && exec ${quoted}`],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(runtime.stderr).text();
  const conns: Deno.UnixConn[] = [];
  try {
    const socket = `${dir}/.liminal/liminal.sock`;
    for (let i = 0; (await cli(["status"])).code !== 0; i++) {
      assert.ok(i < 200, "the runtime did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    const half = new TextEncoder().encode("GET /v1/status HTTP/1.1\r\nHost: x\r\n");
    for (let i = 0; i < 400; i++) {
      try {
        const conn = await Deno.connect({ transport: "unix", path: socket });
        conns.push(conn);
        await conn.write(half);
      } catch {
        break; // the runtime stopped accepting, as expected
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const conn of conns.splice(0)) conn.close();
    let answered = false;
    for (let i = 0; i < 100 && !answered; i++) {
      answered = (await cli(["status"])).code === 0;
      if (!answered) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(answered, "the control socket never answered again");
    const job = await cli(["enqueue", "sleep", "--payload", '{"ms": 5}', "--wait"]);
    assert.equal(job.code, 0, job.stderr);
    const stop = await cli(["shutdown"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await runtime.status).code, 0);
    const log = await stderr;
    assert.match(log, /cannot accept a connection/);
    assert.doesNotMatch(log, /Uncaught/);
  } finally {
    for (const conn of conns) conn.close();
    try {
      runtime.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await runtime.status;
    await Deno.remove(dir, { recursive: true });
  }
});
