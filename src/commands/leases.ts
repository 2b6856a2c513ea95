/**
 * `liminal leases`: territory leases of the running runtime: list them, and acquire, renew or
 * release one as an operator.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import type { ControlClient, PreemptionView } from "../control/client.ts";
import { parseResource } from "../executor/job_spec.ts";
import { formatDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { parsePriority } from "../shared/priority.ts";
import type { LeaseSnapshot } from "../shared/schedule.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, formatTable, printJson, writeOut } from "./_output.ts";
import { parseDurationOption } from "./_parse.ts";

/** The environment variable naming the holder when `--holder` is not given. */
export const HOLDER_ENV = "LIMINAL_LEASE_HOLDER";

const HOLDER_HELP =
  `who holds it (default: $${HOLDER_ENV}, else a new name per acquire, such as $USER@cli-3f9a2c)`;

/** The holder named by `--holder` or `$LIMINAL_LEASE_HOLDER`, if any. */
function namedHolder(option: string | undefined): string | undefined {
  if (option !== undefined) {
    if (option === "" || option.length > 200) {
      throw new LiminalError("INVALID_ARGUMENT", "--holder must be a name of 1 to 200 characters");
    }
    return option;
  }
  const fromEnv = Deno.env.get(HOLDER_ENV);
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}

/** A holder of its own for one acquire: two shells never share one. */
export function uniqueHolder(): string {
  const user = Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "operator";
  const bytes = crypto.getRandomValues(new Uint8Array(3));
  return `${user}@cli-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The holder a release or renew names: `--holder` or `$LIMINAL_LEASE_HOLDER`. Without either,
 * nothing is changed: a lease nobody holds is `LEASE_NOT_HELD` as ever; a held one asks for
 * its holder (shown by `liminal leases` and printed by `leases acquire`).
 */
async function holderFor(
  client: ControlClient,
  resource: string,
  option: string | undefined,
  verb: string,
): Promise<string> {
  const named = namedHolder(option);
  if (named !== undefined) return named;
  const lease = (await client.leases()).find((l) => l.resource === resource);
  if (lease === undefined) {
    throw new LiminalError("LEASE_NOT_HELD", `nobody holds ${resource}`);
  }
  throw new LiminalError(
    "INVALID_ARGUMENT",
    `${verb} needs --holder (or $${HOLDER_ENV}): ${resource} is held by ${lease.holder}`,
    { hint: `if that is you: liminal leases ${verb} ${resource} --holder ${lease.holder}` },
  );
}

/** A table of leases. */
export function formatLeases(leases: readonly LeaseSnapshot[], color: boolean): string {
  if (leases.length === 0) return "no leases held\n";
  return formatTable(leases, [
    { header: "RESOURCE", value: (l) => l.resource },
    { header: "HOLDER", value: (l) => l.holder },
    { header: "PRIORITY", value: (l) => l.priority },
    { header: "PREEMPTIBLE", value: (l) => (l.preemptible ? "yes" : "no") },
    { header: "LEFT", value: (l) => formatDuration(l.leftMs), align: "right" },
    {
      header: "WAITERS",
      value: (l) => l.waiters.map((w) => `${w.holder} (${w.priority})`).join(", "),
    },
  ], color);
}

/** The latest preemptions, one line each, newest last. */
export function formatPreemptions(preemptions: readonly PreemptionView[]): string {
  if (preemptions.length === 0) return "";
  return `\nrecent preemptions:\n${
    preemptions.map((p) =>
      `  ${p.at}  ${p.resource}: ${p.holder} preempted by ${p.by} (${p.byPriority})\n`
    ).join("")
  }`;
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
  $ liminal leases acquire db/orders --holder alice --ttl 10m
  $ liminal leases renew db/orders --holder alice --ttl 30m
  $ liminal leases release db/orders --holder alice

Without --holder (or $${HOLDER_ENV}), acquire takes a holder name of its own and prints it;
release and renew then need that name: it is in \`liminal leases\`.
An operator's lease is never preempted unless acquired with --preemptible.`,
    );

  leases.command("list", { isDefault: true })
    .description("leases held now: holder, time left, waiters")
    .option("--json", "print { leases: [...], preemptions: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      await withClient(options.socket, async (client) => {
        const state = await client.leaseState();
        if (options.json) printJson(state);
        else {
          writeOut(
            formatLeases(state.leases, colorEnabled()) +
              formatPreemptions(state.preemptions ?? []),
          );
        }
      });
    });

  leases.command("acquire")
    .description(
      "take a lease (a higher priority may preempt a job or a --preemptible holder with more than 60s left)",
    )
    .argument("<resource>", "e.g. db/orders or files/uploads/*")
    .option("--holder <name>", HOLDER_HELP)
    .option("--ttl <duration>", "how long it lasts (default 15m, at most 1h)")
    .option("-p, --priority <priority>", "the holder's priority (default coordinate)")
    .option("--preemptible", "let a higher-priority job or holder take it over")
    .option("--wait [duration]", "wait in line while it is held (default up to 60s)")
    .option("--json", "print the lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      const ttl = parseDurationOption(options.ttl, "--ttl");
      const wait = options.wait === true
        ? "60s"
        : parseDurationOption(options.wait || undefined, "--wait");
      const priority = options.priority === undefined
        ? undefined
        : parsePriority(options.priority, "--priority");
      const holder = namedHolder(options.holder) ?? uniqueHolder();
      await withClient(options.socket, async (client) => {
        const lease = await client.acquireLease({
          resource,
          holder,
          ...(ttl === undefined ? {} : { ttl }),
          ...(priority === undefined ? {} : { priority }),
          ...(options.preemptible ? { preemptible: true } : {}),
          ...(wait === undefined ? {} : { wait }),
        });
        if (options.json) printJson(lease);
        else {
          const handedOver = lease.handedOver === undefined
            ? ""
            : lease.handedOver.jobs.map((j) =>
              `  preempted job ${j.jobId} (${j.resource}): it was interrupted and its attempt had ` +
              `ended (its processes gone) before the handover, ${
                formatDuration(lease.handedOver!.waitedMs)
              } after asking\n`
            ).join("");
          writeOut(
            `${lease.resource} held by ${lease.holder} until ${lease.expiresAt}${
              lease.preemptible ? " (preemptible)" : ""
            }\n` + handedOver +
              `  renew:   liminal leases renew ${lease.resource} --holder ${lease.holder} --ttl 15m\n` +
              `  release: liminal leases release ${lease.resource} --holder ${lease.holder}\n`,
          );
        }
      });
    });

  leases.command("renew")
    .description("set a lease you hold to expire --ttl from now (says so when that is sooner)")
    .argument("<resource>", "the resource")
    .option("--holder <name>", `who holds it (default: $${HOLDER_ENV})`)
    .option("--ttl <duration>", "from now, how long it lasts (default 15m)")
    .option("--json", "print the lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      const ttl = parseDurationOption(options.ttl, "--ttl");
      await withClient(options.socket, async (client) => {
        const holder = await holderFor(client, resource, options.holder, "renew");
        const lease = await client.renewLease({
          resource,
          holder,
          ...(ttl === undefined ? {} : { ttl }),
        });
        if (options.json) printJson(lease);
        else {
          writeOut(
            `${lease.resource} held by ${lease.holder} until ${lease.expiresAt}${
              lease.shortened ? ` (shortened: it was held until ${lease.previousExpiresAt})` : ""
            }\n`,
          );
        }
      });
    });

  leases.command("release")
    .description("give a lease back (only its holder may)")
    .argument("<resource>", "the resource")
    .option("--holder <name>", `who holds it (default: $${HOLDER_ENV})`)
    .option("--json", "print the released lease as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (resource, options) => {
      parseResource(resource);
      await withClient(options.socket, async (client) => {
        const holder = await holderFor(client, resource, options.holder, "release");
        const result = await client.releaseLease({ resource, holder });
        if (options.json) printJson(result);
        else writeOut(`released ${resource}\n`);
      });
    });
  return leases;
}
