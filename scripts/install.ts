/**
 * `deno task install`: installs the `liminal` command with `deno install --global` and says
 * where it went, what it runs, the line to add when its directory is not on PATH, and the
 * `deno.json` line a project of one's own uses to type-check `import … from "liminal"`.
 *
 * By default this is a developer install: the command runs `main.ts` of this checkout (Deno
 * records its file URL, and maps `liminal` to this checkout's `mod.ts`), so edits here take
 * effect at once, and moving or deleting the checkout breaks it until `deno task install` is
 * run again. With `--copy`, what the command needs (`main.ts`, `mod.ts`, `src/`, `deno.json`,
 * `deno.lock`) is first copied to `<root>/lib/liminal` and installed from there: the command
 * no longer depends on the checkout, and `deno task install --copy` again updates it.
 * Other arguments are passed on to `deno install` (`deno task install --root /opt/liminal`).
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

/** What the installed command needs of a checkout, relative to its root. */
export const PACKAGE_FILES = ["main.ts", "mod.ts", "deno.json", "deno.lock", "src"];

async function copyTree(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (!info.isDirectory) {
    await Deno.copyFile(from, to);
    return;
  }
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** Copies the package files of `checkout` to `target`, replacing what was there. */
export async function copyPackage(checkout: string, target: string): Promise<void> {
  const staging = `${target}.new-${Deno.pid}`;
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });
  for (const name of PACKAGE_FILES) await copyTree(`${checkout}/${name}`, `${staging}/${name}`);
  await Deno.remove(target, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.rename(staging, target);
}

if (import.meta.main) {
  const checkout = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const copy = Deno.args.includes("--copy");
  const args = Deno.args.filter((arg) => arg !== "--copy");
  const bin = installBin(args, (name) => Deno.env.get(name));
  const source = copy ? `${bin.replace(/\/bin$/, "")}/lib/liminal` : checkout;
  if (copy) await copyPackage(checkout, source);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "install",
      "--global",
      "--force",
      "--quiet",
      "--name",
      "liminal",
      "--config",
      `${source}/deno.json`,
      ...PERMISSIONS,
      ...args,
      `${source}/main.ts`,
    ],
    stdin: "null",
  }).spawn().status;
  if (code !== 0) {
    console.error("error: deno install failed (see above)");
    Deno.exit(code);
  }
  const home = Deno.env.get("HOME");
  const shown = home && bin === `${home}/.deno/bin` ? "$HOME/.deno/bin" : bin;
  console.log(`installed ${bin}/liminal`);
  console.log(
    copy
      ? `it runs a copy of this checkout in ${source}: run deno task install --copy again to update it`
      : `it runs this checkout, ${checkout}: edits here take effect at once; after moving the checkout, run deno task install again`,
  );
  if (!onPath(bin, Deno.env.get("PATH"))) {
    console.log(
      `${bin} is not on your PATH: add this line to your shell's profile (~/.bashrc, ~/.zshrc):`,
    );
    console.log(`  export PATH="${shown}:$PATH"`);
  }
  console.log(`to type-check a job module of your own, put this in its project's deno.json:`);
  console.log(`  { "imports": { "liminal": "${source}/mod.ts" } }`);
}
