/**
 * The `liminal` command line. `deno task start` runs `liminal start`; see the README.
 *
 * @module
 */
import { main } from "./src/commands/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
