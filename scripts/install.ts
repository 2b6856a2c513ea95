/**
 * `deno task install`: installs the `liminal` command with `deno install --global` and says
 * where it went, what it runs, and the line to add when its directory is not on PATH.
 *
 * This is a developer install: the command runs `main.ts` of this checkout (Deno records its
 * file URL, and maps `liminal` to this checkout's `mod.ts`), so edits here take effect at once,
 * and moving or deleting the checkout breaks it until `deno task install` is run again.
 * Arguments are passed on to `deno install` (`deno task install --root /opt/liminal`).
 *
 * @module
 */

const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-net",
  "--allow-sys",
];

/** Where `deno install --global` puts the command: `--root`, `DENO_INSTALL_ROOT` or `~/.deno`. */
export function installBin(args: readonly string[], env: (name: string) => string | undefined) {
  let root: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--root") root = args[i + 1];
    else if (arg.startsWith("--root=")) root = arg.slice("--root=".length);
  }
  root ??= env("DENO_INSTALL_ROOT") || `${env("HOME") ?? ""}/.deno`;
  return `${root.replace(/\/+$/, "")}/bin`;
}

/** Whether `dir` is one of PATH's directories. */
export function onPath(dir: string, path: string | undefined): boolean {
  return (path ?? "").split(":").some((p) => p !== "" && p.replace(/\/+$/, "") === dir);
}

if (import.meta.main) {
  const checkout = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const args = Deno.args;
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "install",
      "--global",
      "--force",
      "--quiet",
      "--name",
      "liminal",
      "--config",
      `${checkout}/deno.json`,
      ...PERMISSIONS,
      ...args,
      `${checkout}/main.ts`,
    ],
    stdin: "null",
  }).spawn().status;
  if (code !== 0) {
    console.error("error: deno install failed (see above); nothing else was changed");
    Deno.exit(code);
  }
  const bin = installBin(args, (name) => Deno.env.get(name));
  const home = Deno.env.get("HOME");
  const shown = home && bin === `${home}/.deno/bin` ? "$HOME/.deno/bin" : bin;
  console.log(`installed ${bin}/liminal`);
  console.log(
    `it runs this checkout, ${checkout}: edits here take effect at once; after moving the checkout, run deno task install again`,
  );
  if (!onPath(bin, Deno.env.get("PATH"))) {
    console.log(
      `${bin} is not on your PATH: add this line to your shell's profile (~/.bashrc, ~/.zshrc):`,
    );
    console.log(`  export PATH="${shown}:$PATH"`);
  }
}
