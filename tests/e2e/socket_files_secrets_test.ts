/**
 * The command line at its edges, as real processes: a default socket path too long for the
 * OS refused before anything exists, the store's files private (0600), and `env` values of a
 * `command` payload masked in `jobs show` unless `--reveal`.
 */
import assert from "node:assert/strict";
import { type LiminalProcess, runLiminal, spawnLiminal } from "../_support/cli.ts";

async function startRuntime(dir: string, extra: string[] = []): Promise<LiminalProcess> {
  const proc = spawnLiminal(["start", "--no-tui", ...extra], { cwd: dir });
  await proc.waitFor(
    (p) => p.stderr.includes("Ctrl-C to stop"),
    20_000,
    "the runtime to start",
  );
  return proc;
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** A fresh directory whose `.liminal/liminal.sock` is longer than a Unix socket path may be. */
async function deepDir(): Promise<{ root: string; dir: string }> {
  const root = await Deno.makeTempDir({ prefix: "liminal-deep-" });
  const dir = `${root}/${"d".repeat(60)}/${"e".repeat(60)}`;
  await Deno.mkdir(dir, { recursive: true });
  assert.ok(`${dir}/.liminal/liminal.sock`.length > 108);
  return { root, dir };
}

Deno.test("a default socket path too long for the OS", async (t) => {
  const { root, dir } = await deepDir();
  try {
    await t.step(
      "start is refused with exit 2 naming --socket and LIMINAL_SOCKET, and creates nothing",
      async () => {
        const result = await runLiminal(["start", "--no-tui"], { cwd: dir });
        assert.equal(result.code, 2, result.stderr);
        assert.match(
          result.stderr,
          /^error: INVALID_ARGUMENT: the control socket path \.liminal\/liminal\.sock \(\/.*\) is \d+ bytes; a Unix socket path may have at most 10[37]/,
        );
        assert.match(result.stderr, /hint: .*--socket PATH.*LIMINAL_SOCKET/);
        assert.doesNotMatch(result.stderr, /INTERNAL|migration/);
        assert.deepEqual(await entries(dir), [], "no .liminal directory, store or lock file");
      },
    );

    await t.step("a client command says the same, exit 2, not 'nothing listens'", async () => {
      for (const args of [["status"], ["jobs"], ["enqueue", "sleep"]]) {
        const result = await runLiminal(args, { cwd: dir });
        assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
        assert.match(result.stderr, /INVALID_ARGUMENT: the control socket path/);
        assert.match(result.stderr, /--socket PATH/);
      }
      assert.deepEqual(await entries(dir), []);
    });

    await t.step("with a short --socket the same directory works", async () => {
      const socket = `${root}/s.sock`;
      await using runtime = await startRuntime(dir, ["--socket", socket]);
      const status = await runLiminal(["status", "--json", "--socket", socket], { cwd: dir });
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).socket, socket);
      runtime.kill("SIGTERM");
      assert.equal((await runtime.done()).code, 0);
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the store's files are created 0600, and wider ones are tightened at start", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-modes-" });
  const files = ["liminal.db", "liminal.db-wal", "liminal.db-shm", "liminal.db.lock"];
  const modes = async () =>
    Object.fromEntries(
      await Promise.all(
        files.map(async (f) => [f, (await Deno.stat(`${dir}/.liminal/${f}`)).mode! & 0o777]),
      ),
    );
  try {
    {
      await using runtime = await startRuntime(dir);
      const enqueued = await runLiminal(["enqueue", "sleep", "--payload", '{"ms":1}'], {
        cwd: dir,
      });
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.deepEqual(await modes(), Object.fromEntries(files.map((f) => [f, 0o600])));
      runtime.kill("SIGTERM");
      assert.equal((await runtime.done()).code, 0);
    }
    for (const f of files) {
      await Deno.writeFile(`${dir}/.liminal/${f}`, new Uint8Array(), { append: true });
      await Deno.chmod(`${dir}/.liminal/${f}`, 0o644);
    }
    await using again = await startRuntime(dir);
    assert.deepEqual(await modes(), Object.fromEntries(files.map((f) => [f, 0o600])));
    assert.match(again.stderr, /liminal\.db was mode 0644; made it 0600/);
    again.kill("SIGTERM");
    assert.equal((await again.done()).code, 0);
    // A file refused as another application's keeps its mode, like its bytes.
    const other = `${dir}/other.db`;
    await Deno.writeTextFile(other, "not ours\n".repeat(100));
    await Deno.chmod(other, 0o644);
    const refused = await runLiminal(
      ["start", "--no-tui", "--store", other, "--socket", `${dir}/o.sock`],
      { cwd: dir },
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal((await Deno.stat(other)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jobs show masks the env values of a command payload unless --reveal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-mask-" });
  const cli = (args: string[]) => runLiminal(args, { cwd: dir });
  try {
    await using runtime = await startRuntime(dir);
    const payload = {
      cmd: ["sh", "-c", 'test "${#DB_PASSWORD}" = 14 && test "$REGION" = "eu-${REGION#eu-}"'],
      env: { DB_PASSWORD: "hunter2-secret", REGION: "eu-west" },
    };
    const enqueued = await cli([
      "enqueue",
      "command",
      "--payload",
      JSON.stringify(payload),
      "--wait",
    ]);
    assert.equal(enqueued.code, 0, `the program saw the real value: ${enqueued.stderr}`);
    const list = await cli(["jobs", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const id: string = JSON.parse(list.stdout).jobs[0].id;
    assert.doesNotMatch(list.stdout, /hunter2|eu-west/, "jobs --json masks too");

    const human = await cli(["jobs", "show", id]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /"env":\{"DB_PASSWORD":"\*\*\*","REGION":"\*\*\*"\}/);
    assert.doesNotMatch(human.stdout, /hunter2|eu-west/);

    const json = await cli(["jobs", "show", id, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const masked = JSON.parse(json.stdout);
    assert.deepEqual(masked.payload.env, { DB_PASSWORD: "***", REGION: "***" });
    assert.deepEqual(masked.payload.cmd, payload.cmd, "only env values are masked");

    const revealed = await cli(["jobs", "show", id, "--json", "--reveal"]);
    assert.equal(revealed.code, 0, revealed.stderr);
    assert.deepEqual(JSON.parse(revealed.stdout).payload, payload);
    const revealedHuman = await cli(["jobs", "show", id, "--reveal"]);
    assert.match(revealedHuman.stdout, /"DB_PASSWORD":"hunter2-secret"/);

    runtime.kill("SIGTERM");
    assert.equal((await runtime.done()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
