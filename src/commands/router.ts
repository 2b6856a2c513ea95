/**
 * `liminal router`: the running runtime's message router: endpoints and their mailboxes,
 * sending, a live tail, dead letters and replay.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { formatMs, formatRelative } from "../shared/duration.ts";
import { cutToWidth } from "../shared/text_width.ts";
import { LiminalError } from "../shared/errors.ts";
import { parsePriority, PRIORITIES } from "../shared/priority.ts";
import {
  DEAD_LETTER_REASONS,
  type DeadLetterView,
  isDeadLetterReason,
  type MessageView,
  type RouterSnapshot,
  type UnroutedView,
} from "../shared/router_snapshot.ts";
import { SOCKET_HELP, withClient } from "./_client.ts";
import type { CliContext } from "./_context.ts";
import { colorEnabled, formatTable, paint, printJson, useJsonLines, writeOut } from "./_output.ts";
import { parseCount, parseDurationOption, parsePayloadOption } from "./_parse.ts";

/** The router for people: endpoints and subscriptions with depths, counters, latencies. */
export function formatRouter(s: RouterSnapshot, color: boolean): string {
  const b = (t: string) => paint(t, "bold", color);
  const out: string[] = [];
  out.push(
    `${
      b("router")
    }   ${s.state}  sent ${s.totals.sent}  delivered ${s.totals.delivered}  dead ${s.totals.dead}  expired ${s.totals.expired}  rejected ${s.totals.rejected}`,
  );
  out.push(
    `${
      b("rate")
    }     sent ${s.rates.sent.perSecond1s}/s (1s) ${s.rates.sent.perSecond10s}/s (10s)   delivered ${s.rates.delivered.perSecond1s}/s (1s) ${s.rates.delivered.perSecond10s}/s (10s)`,
  );
  out.push(
    `${b("latency")}  ${
      [...PRIORITIES].reverse().filter((p) => s.latency[p].count > 0).map((p) =>
        `${p} p50 ${formatMs(s.latency[p].p50)} p99 ${formatMs(s.latency[p].p99)}`
      ).join("   ") || "-"
    }`,
  );
  out.push(`${b("dead letters")} ${s.deadLetters.size} kept (of ${s.deadLetters.capacity})`);
  out.push("");
  const boxes = [...s.endpoints, ...s.subscriptions];
  if (boxes.length === 0) out.push("no endpoints or subscriptions\n");
  else {
    out.push(
      formatTable(boxes, [
        { header: "NAME", value: (m) => m.name },
        { header: "KIND", value: (m) => (m.pattern === null ? m.kind : `${m.kind} ${m.pattern}`) },
        {
          header: "DEPTH",
          value: (m) => [...PRIORITIES].reverse().map((p) => m.depth[p]).join("/"),
          align: "right",
        },
        { header: "IN FLIGHT", value: (m) => String(m.inFlight), align: "right" },
        { header: "SENT", value: (m) => String(m.sent), align: "right" },
        { header: "DELIVERED", value: (m) => String(m.delivered), align: "right" },
        { header: "ACKED", value: (m) => String(m.acked), align: "right" },
        { header: "REDELIVERED", value: (m) => String(m.redelivered), align: "right" },
        { header: "DEAD", value: (m) => String(m.dead), align: "right" },
      ], color).trimEnd(),
    );
    out.push(paint("depth: override/critical/blocking/coordinate/info", "gray", color));
  }
  return out.join("\n") + "\n";
}

function messageLine(event: string, m: MessageView | UnroutedView, color: boolean): string {
  const what = event.replace("message:", "");
  const tone = what === "dead-lettered" || what === "rejected"
    ? "red"
    : what === "delivered"
    ? "green"
    : "gray";
  return `${m.sentAt.slice(11, 23)} ${paint(what.padEnd(13), tone, color)} ${
    m.priority.padEnd(10)
  } ${m.from} → ${m.recipient ?? m.to} ${m.type} ${
    cutToWidth(JSON.stringify(m.payload), 80, false)
  }${
    m.id === null ? paint(" (no subscriber)", "gray", color) : ` ${paint(m.id, "gray", color)}`
  }\n`;
}

function formatDead(dead: readonly DeadLetterView[], color: boolean): string {
  if (dead.length === 0) return "no dead letters\n";
  return formatTable(dead, [
    { header: "ID", value: (d) => d.id },
    { header: "REASON", value: (d) => paint(d.reason, "red", color) },
    { header: "WHEN", value: (d) => formatRelative(Date.parse(d.deadAt)) },
    { header: "FROM", value: (d) => d.from },
    { header: "TO", value: (d) => d.to },
    { header: "TYPE", value: (d) => d.type },
    { header: "PRIORITY", value: (d) => d.priority },
    { header: "ERROR", value: (d) => cutToWidth(d.error ?? "", 50, false) },
  ], color);
}

/** The `router` subcommand. */
export function routerCommand(_ctx: CliContext) {
  const router = new Command("router")
    .description("the message router: endpoints, send, a live tail, dead letters and replay")
    .addHelpText(
      "after",
      `
Examples:
  $ liminal router
  $ liminal router send compactor compact --payload '{"table": "events"}' --priority blocking --ack
  $ liminal router tail --topic 'jobs.*'
  $ liminal router dead --reason no-endpoint
  $ liminal router replay 01a2b3c4-…`,
    );

  router.command("show", { isDefault: true })
    .description("endpoints and subscriptions: mailbox depth, counters, delivery latency, rates")
    .option("--json", "print the router snapshot as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      await withClient(options.socket, async (client) => {
        const snapshot = await client.router();
        if (options.json) printJson(snapshot);
        else writeOut(formatRouter(snapshot, colorEnabled()));
      });
    });

  router.command("send")
    .description("send a message to an endpoint or a topic")
    .argument("<to>", "an endpoint name or a topic (jobs.failed)")
    .argument("<type>", "the message type")
    .option("--payload <json>", "JSON text, or @file.json")
    .option("-p, --priority <priority>", "info, coordinate, blocking, critical or override")
    .option("--from <name>", "the sender (its token budget pays)", "cli")
    .option("--ack", "require an acknowledgement (redelivered, then dead-lettered without one)")
    .option("--ttl <duration>", "time to live")
    .option("--json", "print { id, ids } as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (to, type, options) => {
      const payload = await parsePayloadOption(options.payload);
      const priority = options.priority === undefined
        ? undefined
        : parsePriority(options.priority, "--priority");
      const ttl = parseDurationOption(options.ttl, "--ttl");
      await withClient(options.socket, async (client) => {
        const receipt = await client.sendMessage({
          to,
          type,
          ...(payload === undefined ? {} : { payload }),
          ...(priority === undefined ? {} : { priority }),
          from: options.from,
          ...(options.ack ? { ack: true } : {}),
          ...(ttl === undefined ? {} : { ttl }),
        });
        if (options.json) printJson(receipt);
        else for (const id of receipt.ids) writeOut(`${id}\n`);
      });
    });

  router.command("tail")
    .description(
      "print messages as they move, until Ctrl-C; topic events nobody subscribes to show as unrouted",
    )
    .option(
      "--topic <pattern>",
      "only messages to this endpoint or topic (a final * matches any rest)",
    )
    .option("--json", "one JSON object per line")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      const pattern = options.topic;
      const matches = (to: string) =>
        pattern === undefined ||
        (pattern.endsWith("*") ? to.startsWith(pattern.slice(0, -1)) : to === pattern);
      const color = colorEnabled();
      await withClient(options.socket, async (client) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        if (options.json) useJsonLines();
        Deno.addSignalListener("SIGINT", onSignal);
        try {
          for await (
            const { event, data } of client.events({ events: ["message:*"] }, stop.signal)
          ) {
            const message = (data as { message?: MessageView | UnroutedView }).message;
            if (message === undefined || !matches(message.to)) continue;
            if (options.json) writeOut(`${JSON.stringify({ event, ...data })}\n`);
            else writeOut(messageLine(event, message, color));
          }
        } finally {
          Deno.removeSignalListener("SIGINT", onSignal);
        }
      });
    });

  router.command("dead")
    .description("dead letters, newest first")
    .option("--reason <reason>", `only this reason (${DEAD_LETTER_REASONS.join(", ")})`)
    .option("--limit <n>", "at most this many", "100")
    .option("--json", "print { deadLetters: [...] }")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (options) => {
      const reason = options.reason;
      if (reason !== undefined && !isDeadLetterReason(reason)) {
        throw new LiminalError(
          "INVALID_ARGUMENT",
          `invalid --reason "${reason}"; use one of: ${DEAD_LETTER_REASONS.join(", ")}`,
        );
      }
      const limit = parseCount(options.limit, "--limit", 10_000);
      await withClient(options.socket, async (client) => {
        const dead = await client.deadLetters({
          ...(reason === undefined ? {} : { reason }),
          ...(limit === undefined ? {} : { limit }),
        });
        if (options.json) printJson({ deadLetters: dead });
        else writeOut(formatDead(dead, colorEnabled()));
      });
    });

  router.command("replay")
    .description("send a dead letter again")
    .argument("<id>", "the dead letter's message id, or its last 6 or more characters")
    .option("--json", "print { id, ids } as one JSON document")
    .option("--socket <path>", SOCKET_HELP)
    .action(async (id, options) => {
      await withClient(options.socket, async (client) => {
        const receipt = await client.replayDeadLetter(id);
        if (options.json) printJson(receipt);
        else for (const newId of receipt.ids) writeOut(`${newId}\n`);
      });
    });
  return router;
}
