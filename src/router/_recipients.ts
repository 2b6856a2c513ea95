/**
 * Recipients: endpoints and subscriptions (their mailboxes), the cached route of a
 * destination to its recipients, closing one (its waiting and queued messages are
 * dead-lettered `no-endpoint`), and `for await` reads of a mailbox without a handler.
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { drain } from "./_dispatch.ts";
import { dead } from "./_final_states.ts";
import { DONE, type RouterInternals } from "./_internals.ts";
import { Mailbox } from "./_mailbox.ts";
import type { TopicPattern } from "./_names.ts";
import { checkName } from "./_names.ts";
import type { EndpointOptions } from "./endpoint.ts";
import type { Message } from "./message.ts";
import { resolveMailbox, wholeNumber } from "./options.ts";

/** Cached destinations; the cache is emptied beyond it (and on every (un)registration). */
const ROUTE_CACHE_LIMIT = 10_000;

/** A mailbox for a new endpoint or subscription, its options checked. */
export function makeMailbox(
  s: RouterInternals,
  name: string,
  kind: "endpoint" | "subscription",
  topic: TopicPattern | null,
  options: EndpointOptions,
): Mailbox {
  if (typeof options !== "object" || options === null) {
    throw new LiminalError("INVALID_ARGUMENT", `options of ${kind} "${name}" must be an object`);
  }
  const handler = options.handler ?? null;
  if (handler !== null && typeof handler !== "function") {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `the handler of ${kind} "${name}" must be a function`,
    );
  }
  const concurrency = wholeNumber(options.concurrency ?? 1, `concurrency of "${name}"`, 1);
  const limits = resolveMailbox(options.mailbox, s.options.mailbox, `mailbox of "${name}"`);
  return new Mailbox(s.core!, name, kind, topic, handler, concurrency, limits);
}

/** The recipients of `to`, cached until the next (un)registration. */
export function route(s: RouterInternals, to: string): Mailbox[] {
  let recipients = s.routes.get(to);
  if (recipients !== undefined) return recipients;
  checkName(to, "destination");
  recipients = [];
  const endpoint = s.endpoints.get(to);
  if (endpoint !== undefined) recipients.push(endpoint);
  for (const subscription of s.subscriptions) {
    if (subscription.topic!.matches(to)) recipients.push(subscription);
  }
  if (s.routes.size >= ROUTE_CACHE_LIMIT) s.routes.clear();
  s.routes.set(to, recipients);
  return recipients;
}

/** Closes an endpoint or subscription: no new messages; its waiting and queued ones die. */
export function closeMailbox(s: RouterInternals, mailbox: Mailbox): void {
  if (mailbox.closed) return;
  mailbox.markClosed();
  if (mailbox.kind === "endpoint") {
    if (s.endpoints.get(mailbox.name) === mailbox) s.endpoints.delete(mailbox.name);
  } else {
    s.subscriptions.delete(mailbox);
  }
  s.routes.clear();
  const now = s.now();
  const text = `${mailbox.kind} "${mailbox.name}" was closed`;
  const error = new LiminalError("ENDPOINT_NOT_FOUND", text);
  for (const envelope of mailbox.drainWaiting()) {
    dead(s, envelope, "no-endpoint", text, error, now);
  }
  for (const envelope of mailbox.drainQueued()) {
    dead(s, envelope, "no-endpoint", text, undefined, now);
  }
  for (const puller of mailbox.pullers.drain()) puller(DONE);
  if (mailbox.inFlight.size > 0) s.retired.add(mailbox);
}

/** The next message for a `for await` reader of a mailbox without a handler. */
export function pull(
  s: RouterInternals,
  mailbox: Mailbox,
): Promise<IteratorResult<Message, undefined>> {
  if (mailbox.handler !== null) {
    return Promise.reject(
      new LiminalError(
        "INVALID_ARGUMENT",
        `${mailbox.kind} "${mailbox.name}" has a handler; it cannot also be read with for await`,
      ),
    );
  }
  if (mailbox.closed || s.state === "closed") return Promise.resolve(DONE);
  const { promise, resolve } = Promise.withResolvers<IteratorResult<Message, undefined>>();
  mailbox.pullers.push(resolve);
  if (mailbox.ready && !mailbox.scheduled) drain(s, mailbox);
  return promise;
}
