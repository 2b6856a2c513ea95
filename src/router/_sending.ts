/**
 * Sending: a send checked and turned into one message per recipient, each admitted into its
 * recipient's mailbox lane, made to wait for room, or refused by the lane's policy; the
 * send's promise settles once every message made is queued (see the module doc of
 * `router.ts` for the whole life of a message).
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { newId } from "../shared/ids.ts";
import { serializePayload } from "../shared/json.ts";
import {
  isPriority,
  parsePriority,
  PRIORITIES,
  type Priority,
  priorityLevel,
} from "../shared/priority.ts";
import { senderOf, throttle } from "./_budgets.ts";
import { addDeadline, ROOM, Timed, TTL } from "./_deadlines.ts";
import { schedule } from "./_dispatch.ts";
import { type DeliveryPolicy, Envelope, PendingSend, SingleReceipt } from "./_envelope.ts";
import { dead, reject } from "./_final_states.ts";
import type { RouterInternals } from "./_internals.ts";
import type { Mailbox } from "./_mailbox.ts";
import { notRunning } from "./_lifecycle.ts";
import { route } from "./_recipients.ts";
import { messageView } from "./_snapshot.ts";
import type { SendOptions, SendReceipt } from "./message.ts";
import { positiveDuration, wholeNumber } from "./options.ts";

/** The sender of a send without `from`. */
export const DEFAULT_SENDER = "anonymous";

const EMPTY_RECEIPT: SendReceipt = Object.freeze({ id: null, ids: Object.freeze([]) });

/** What {@link admit} did: queued the message, or has it wait for room (else: the error). */
const PLACED = 0;
const WAITING = 1;

/** A send or a publish (they differ in their default priority and `optional`). */
export function send(
  s: RouterInternals,
  to: string,
  type: string,
  payload: unknown,
  options: SendOptions | undefined,
  defaultPriority: Priority,
  defaultOptional: boolean,
): Promise<SendReceipt> {
  if (s.state !== "running") throw notRunning(s);
  const recipients = route(s, to);
  if (typeof type !== "string" || type.length === 0 || type.length > 200) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid message type ${JSON.stringify(type)}: use 1 to 200 characters`,
    );
  }
  const priority = options?.priority ?? defaultPriority;
  const level = isPriority(priority)
    ? priorityLevel(priority)
    : priorityLevel(parsePriority(priority, "message priority"));
  const text = serializePayload(payload, "message payload");
  const signal = options?.signal;
  if (signal?.aborted) throw signal.reason;
  const ack = options?.ack;
  const policy = ack === undefined || ack === false || ack === true
    ? s.policies[ack === true ? 1 : 0]![level]!
    : customPolicy(s, ack, level);
  const ttlMs = options?.ttl === undefined ? null : positiveDuration(options.ttl, "time to live");
  const now = s.now();
  const mono = s.sampleMono(level);
  const sender = senderOf(s, options?.from ?? DEFAULT_SENDER, now);
  const tokens = s.options.tokens;
  if (recipients.length === 1) {
    // The common case, without arrays: one recipient.
    sender.sends++;
    sender.lastUsed = now;
    const envelope = makeEnvelope(
      s,
      recipients[0]!,
      sender.name,
      to,
      type,
      level,
      text,
      now,
      mono,
      ttlMs,
      policy,
      null,
    );
    s.sentRate.add(now);
    const receipt = new SingleReceipt(envelope.id);
    if (tokens !== null) {
      const cost = tokens.costs[level]!;
      if (!sender.tryTake(level, cost, now)) {
        return throttle(s, sender, [envelope], receipt, level, cost, signal, now);
      }
    }
    const outcome = admit(s, envelope, now);
    if (outcome === PLACED) return Promise.resolve(receipt);
    if (typeof outcome !== "number") return Promise.reject(outcome);
    const group = new PendingSend([envelope], receipt, level, 0, 1);
    envelope.group = group;
    watchAbort(s, group, signal);
    return group.promise;
  }
  if (recipients.length === 0) {
    if (options?.optional ?? defaultOptional) {
      s.totals.unrouted++;
      if (s.watched && s.events.has("message:unrouted")) {
        s.events.emit("message:unrouted", {
          message: {
            id: null,
            from: sender.name,
            to,
            recipient: null,
            type,
            priority: PRIORITIES[level]!,
            payload: JSON.parse(text),
            sentAt: new Date(now).toISOString(),
          },
        });
      }
      return Promise.resolve(EMPTY_RECEIPT);
    }
    const envelope = makeEnvelope(
      s,
      null,
      sender.name,
      to,
      type,
      level,
      text,
      now,
      mono,
      ttlMs,
      policy,
      null,
    );
    s.sentRate.add(now);
    const error = new LiminalError(
      "ENDPOINT_NOT_FOUND",
      `no endpoint or subscriber for "${to}"; message ${envelope.id} was dead-lettered`,
      { hint: "register the endpoint, then replay the message" },
    );
    dead(s, envelope, "no-endpoint", error.message, undefined, now);
    throw error;
  }
  sender.sends++;
  sender.lastUsed = now;
  const copies: Envelope[] = [];
  for (const mailbox of recipients) {
    copies.push(
      makeEnvelope(
        s,
        mailbox,
        sender.name,
        to,
        type,
        level,
        text,
        now,
        mono,
        ttlMs,
        policy,
        null,
      ),
    );
  }
  s.sentRate.add(now, copies.length);
  const ids = copies.map((c) => c.id);
  const receipt: SendReceipt = { id: ids[0]!, ids };
  if (tokens !== null) {
    const cost = tokens.costs[level]!;
    if (!sender.tryTake(level, cost, now)) {
      return throttle(s, sender, copies, receipt, level, cost, signal, now);
    }
  }
  return admitAll(s, copies, receipt, level, signal, now);
}

/** The policy of a send with `ack: { timeout?, maxDeliveries? }`. */
function customPolicy(s: RouterInternals, ack: unknown, level: number): DeliveryPolicy {
  if (typeof ack !== "object" || ack === null) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid ack ${JSON.stringify(ack)}: use true or { timeout, maxDeliveries }`,
    );
  }
  const { timeout, maxDeliveries } = ack as { timeout?: unknown; maxDeliveries?: unknown };
  return {
    requiresAck: true,
    ackTimeoutMs: timeout === undefined
      ? s.options.ackTimeoutMs[level]!
      : positiveDuration(timeout as number | string, "ack timeout"),
    maxDeliveries: maxDeliveries === undefined
      ? s.options.maxDeliveries
      : wholeNumber(maxDeliveries, "maxDeliveries", 1),
  };
}

/** Makes one message for one recipient (or for nobody) and counts it as sent. */
export function makeEnvelope(
  s: RouterInternals,
  mailbox: Mailbox | null,
  from: string,
  to: string,
  type: string,
  level: number,
  text: string,
  now: number,
  mono: number,
  ttlMs: number | null,
  policy: DeliveryPolicy,
  replayOf: string | null,
): Envelope {
  const envelope = new Envelope(
    newId(now),
    from,
    to,
    mailbox,
    type,
    level,
    text,
    now,
    mono,
    ttlMs,
    policy,
    replayOf,
  );
  s.pending++;
  s.totals.sent++;
  if (mailbox !== null) {
    mailbox.sent++;
    if (ttlMs !== null) addDeadline(s, new Timed(now + ttlMs, TTL, envelope, 0, null));
  }
  if (s.watched && s.events.has("message:sent")) {
    s.events.emit("message:sent", { message: messageView(envelope) });
  }
  return envelope;
}

/** Places each message, or has it wait for room; returns the send's promise. */
export function admitAll(
  s: RouterInternals,
  copies: readonly Envelope[],
  receipt: SendReceipt,
  level: number,
  signal: AbortSignal | undefined,
  now: number,
): Promise<SendReceipt> {
  let group: PendingSend | null = null;
  let failure: LiminalError | undefined;
  for (const envelope of copies) {
    const outcome = admit(s, envelope, now);
    if (outcome === WAITING) {
      group ??= new PendingSend(copies, receipt, level, 0, 0);
      group.unsettled++;
      envelope.group = group;
    } else if (typeof outcome !== "number") {
      failure ??= outcome;
    }
  }
  if (group === null) {
    return failure === undefined ? Promise.resolve(receipt) : Promise.reject(failure);
  }
  if (failure !== undefined) group.fail(failure);
  watchAbort(s, group, signal);
  return group.promise;
}

/** Queues a message in its mailbox, has it wait for room, or fails it, by the lane's policy. */
export function admit(s: RouterInternals, envelope: Envelope, now: number): number | LiminalError {
  const mailbox = envelope.mailbox!;
  const level = envelope.level;
  if (mailbox.closed) {
    const error = new LiminalError(
      "ENDPOINT_NOT_FOUND",
      `${mailbox.kind} "${mailbox.name}" was closed; message ${envelope.id} was dead-lettered`,
    );
    dead(s, envelope, "no-endpoint", error.message, error, now);
    return error;
  }
  if (mailbox.hasRoom(level)) {
    place(s, mailbox, envelope, now);
    return PLACED;
  }
  const limit = mailbox.limits[level]!;
  if (limit.whenFull === "reject") {
    const error = new LiminalError(
      "MAILBOX_FULL",
      `the ${envelope.priority} mailbox of "${mailbox.name}" is full (${limit.capacity} queued)`,
      { hint: "send later, or raise its capacity" },
    );
    reject(s, envelope, error);
    return error;
  }
  envelope.state = "waiting";
  mailbox.roomWaiters[level]!.push(envelope);
  mailbox.waiting[level]!++;
  addDeadline(s, new Timed(now + limit.waitMs, ROOM, envelope, 0, null));
  return WAITING;
}

function place(s: RouterInternals, mailbox: Mailbox, envelope: Envelope, now: number): void {
  mailbox.push(envelope, now, ++s.seq);
  release(envelope);
  schedule(s, mailbox);
}

/** Lets sends waiting for room in a lane in, while it has room. */
export function admitWaiting(
  s: RouterInternals,
  mailbox: Mailbox,
  level: number,
  now: number,
): void {
  if (mailbox.closed) return;
  const fifo = mailbox.roomWaiters[level]!;
  const capacity = mailbox.limits[level]!.capacity;
  while (mailbox.waiting[level]! > 0 && mailbox.depth[level]! < capacity) {
    const envelope = fifo.shift();
    if (envelope === undefined) break;
    if (envelope.state !== "waiting") continue;
    mailbox.waiting[level]!--;
    place(s, mailbox, envelope, now);
  }
}

/** Rejects the send's waiting messages when its signal aborts. */
export function watchAbort(
  s: RouterInternals,
  group: PendingSend,
  signal: AbortSignal | undefined,
): void {
  if (signal === undefined) return;
  const onAbort = () => {
    for (const envelope of group.copies) {
      if (envelope.state === "throttled" || envelope.state === "waiting") {
        reject(s, envelope, signal.reason);
      }
    }
  };
  signal.addEventListener("abort", onAbort, { once: true });
  group.onSettled(() => signal.removeEventListener("abort", onAbort));
}

/** Settles the waiting send of a message that left `throttled`/`waiting`. */
export function release(envelope: Envelope, error?: unknown): void {
  const group = envelope.group;
  if (group === null) return;
  envelope.group = null;
  group.settleOne(error);
}
