/**
 * `liminal leases`: territory leases of the running runtime: list them, and acquire, renew or
 * release one as an operator.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { parseResource } from "../executor/job_spec.ts";
import { formatDuration } from "../shared/duration.ts";
import { parsePriority } from "../shared/priority.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, formatTable, printJson, writeOut } from "./_output.ts";
import { parseDurationOption } from "./_parse.ts";

function defaultHolder(): string {
  const user = Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "operator";
  return `${user}@cli`;
}

/** A table of leases. */
export function formatLeases(leases: readonly LeaseSnapshot[], color: boolean): string {
  if (leases.length === 0) return "no leases held\n";
  return formatTable(leases, [
    { header: "RESOURCE", value: (l) => l.resource },
    { header: "HOLDER", value: (l) => l.holder },
    { header: "PRIORITY", value: (l) => l.priority },
    { header: "LEFT", value: (l) => formatDuration(l.leftMs), align: "right" },
    {
      header: "WAITERS",
      value: (l) => l.waiters.map((w) => `${w.holder} (${w.priority})`).join(", "),
    },
  ], color);
}

/** The `leases` subcommand. */
export function leasesCommand(_ctx: CliContext) {
  const leases = new Command("leases")
    .description("territory leases: exclusive, expiring claims on named resources")
    .addHelpText(
      "after",
      `
Examples:
  $ liminal leases
  $ liminal leases acquire db/orders --ttl 10m --priority blocking --wait
  $ liminal leases release db/orders`,
    );

  leases.command("list", { isDefault: true })
    .description("leases held now: holder, time left, waiters")
    .option("--json", "print { leases: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      await withClient(options.socket, async (client) => {
        const list = await client.leases();
        if (options.json) printJson({ leases: list });
        else writeOut(formatLeases(list, colorEnabled()));
      });
    });

  leases.command("acquire")
    .description("take a lease (a higher priority may preempt a holder with more than 60s left)")
    .argument("<resource>", "e.g. db/orders or files/uploads/*")
    .option("--holder <name>", "who holds it (default: $USER@cli)")
    .option("--ttl <duration>", "how long it lasts (default 15m, at most 1h)")
    .option("-p, --priority <priority>", "the holder's priority (default coordinate)")
    .option("--wait [duration]", "wait in line while it is held (default up to 60s)")
    .option("--json", "print the lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      const ttl = parseDurationOption(options.ttl, "--ttl");
      const wait = options.wait === true
        ? "60s"
        : parseDurationOption(options.wait || undefined, "--wait");
      await withClient(options.socket, async (client) => {
        const lease = await client.acquireLease({
          resource,
          holder: options.holder ?? defaultHolder(),
          ...(ttl === undefined ? {} : { ttl }),
          ...(options.priority === undefined
            ? {}
            : { priority: parsePriority(options.priority, "--priority") }),
          ...(wait === undefined ? {} : { wait }),
        });
        if (options.json) printJson(lease);
        else writeOut(`${lease.resource} held by ${lease.holder} until ${lease.expiresAt}\n`);
      });
    });

  leases.command("renew")
    .description("extend a lease you hold")
    .argument("<resource>", "the resource")
    .option("--holder <name>", "who holds it (default: $USER@cli)")
    .option("--ttl <duration>", "from now, how long it lasts (default 15m)")
    .option("--json", "print the lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      const ttl = parseDurationOption(options.ttl, "--ttl");
      await withClient(options.socket, async (client) => {
        const lease = await client.renewLease({
          resource,
          holder: options.holder ?? defaultHolder(),
          ...(ttl === undefined ? {} : { ttl }),
        });
        if (options.json) printJson(lease);
        else writeOut(`${lease.resource} held by ${lease.holder} until ${lease.expiresAt}\n`);
      });
    });

  leases.command("release")
    .description("give a lease back")
    .argument("<resource>", "the resource")
    .option("--holder <name>", "who holds it (default: $USER@cli)")
    .option("--json", "print the released lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      await withClient(options.socket, async (client) => {
        const result = await client.releaseLease({
          resource,
          holder: options.holder ?? defaultHolder(),
        });
        if (options.json) printJson(result);
        else writeOut(`released ${resource}\n`);
      });
    });
  return leases;
}
