/**
 * Dead letters seen and sent again: listing them (newest first, by reason) and replaying one
 * as a new message to the same recipient. The bounded store itself is `_dead_letters.ts`.
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import { type DeadLetterView, isDeadLetterReason } from "../shared/router_snapshot.ts";
import type { RouterInternals } from "./_internals.ts";
import { notRunning } from "./_lifecycle.ts";
import type { Mailbox } from "./_mailbox.ts";
import { route } from "./_recipients.ts";
import { admitAll, makeEnvelope } from "./_sending.ts";
import { deadLetterView } from "./_snapshot.ts";
import type { SendReceipt } from "./message.ts";
import { wholeNumber } from "./options.ts";
import type { DeadLetterQuery } from "./router.ts";

/** Dead letters, newest first. */
export function listDeadLetters(s: RouterInternals, query: DeadLetterQuery): DeadLetterView[] {
  const { reason, limit = 100 } = query;
  if (reason !== undefined && !isDeadLetterReason(reason)) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `invalid dead-letter reason ${JSON.stringify(reason)}`,
    );
  }
  if (limit !== Number.POSITIVE_INFINITY) wholeNumber(limit, "limit", 0);
  return s.deadLetters.list(reason, limit).map(deadLetterView);
}

/** Sends a dead letter again (see `UnifiedMessageRouter.replay`). */
export function replay(s: RouterInternals, id: string): Promise<SendReceipt> {
  if (s.state !== "running") throw notRunning(s);
  const letter = s.deadLetters.get(id);
  if (letter === undefined) {
    throw new LiminalError("MESSAGE_NOT_FOUND", `no dead letter with id ${JSON.stringify(id)}`);
  }
  if (letter.replaying) {
    throw new LiminalError("INVALID_ARGUMENT", `dead letter ${id} is being replayed already`);
  }
  const original = letter.envelope;
  const previous = original.mailbox;
  let recipients: Mailbox[];
  if (previous === null) recipients = route(s, original.to);
  else if (!previous.closed) recipients = [previous];
  else {
    const again = previous.kind === "endpoint" ? s.endpoints.get(previous.name) : undefined;
    recipients = again === undefined ? [] : [again];
  }
  if (recipients.length === 0) {
    throw new LiminalError(
      "ENDPOINT_NOT_FOUND",
      `dead letter ${id}: its recipient "${
        previous?.name ?? original.to
      }" is gone; nothing was sent`,
    );
  }
  const now = s.now();
  const mono = s.sampleMono(original.level);
  const copies = recipients.map((mailbox) =>
    makeEnvelope(
      s,
      mailbox,
      original.from,
      original.to,
      original.type,
      original.level,
      original.payloadText,
      now,
      mono,
      original.ttlMs,
      original.policy,
      id,
    )
  );
  s.sentRate.add(now, copies.length);
  const ids = copies.map((c) => c.id);
  letter.replaying = true;
  return admitAll(s, copies, { id: ids[0]!, ids }, original.level, undefined, now).then(
    (receipt) => {
      s.deadLetters.remove(id);
      return receipt;
    },
    (error: unknown) => {
      letter.replaying = false;
      throw error;
    },
  );
}
