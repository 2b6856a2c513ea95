/**
 * The router's lifecycle: `created` → `running` → `closing` → `closed`. Closing lets pending
 * messages be delivered for the grace, then dead-letters what is left (`shutdown`), fails
 * waiting sends `ROUTER_CLOSED`, aborts running handlers' signals, ends iterators and clears
 * the timer: afterwards nothing of the router is left in the event loop.
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import type { RouterState } from "../shared/router_snapshot.ts";
import { clearDeadlines } from "./_deadlines.ts";
import { dead } from "./_final_states.ts";
import { DONE, MAX_TIMER_MS, type RouterInternals } from "./_internals.ts";
import type { RouterCloseReport } from "./router.ts";

/** Closes the router after up to `graceMs` of delivering what is pending. */
export async function closeRouter(
  s: RouterInternals,
  graceMs: number,
): Promise<RouterCloseReport> {
  const started = performance.now();
  const deliveredBefore = s.totals.delivered;
  const shutdownBefore = s.deadLetters.byReason.shutdown;
  if (s.state === "created") {
    // Nothing was sent; this closes the mailboxes and ends `for await` loops begun early.
    shutdown(s);
    setState(s, "closed");
    return { delivered: 0, deadLettered: 0, durationMs: 0 };
  }
  setState(s, "closing");
  if (s.pending > 0 && graceMs > 0) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, Math.min(graceMs, MAX_TIMER_MS));
      s.idleWaiters.push(done);
    });
  }
  shutdown(s);
  setState(s, "closed");
  return {
    delivered: s.totals.delivered - deliveredBefore,
    deadLettered: s.deadLetters.byReason.shutdown - shutdownBefore,
    durationMs: performance.now() - started,
  };
}

/** The end of the grace: everything still pending is dead-lettered (`shutdown`). */
function shutdown(s: RouterInternals): void {
  const now = s.now();
  const text = "the router closed before the message was delivered";
  const error = new LiminalError("ROUTER_CLOSED", text);
  for (const sender of s.senders.values()) {
    for (const group of sender.drain()) {
      for (const envelope of group.copies) {
        if (envelope.state === "throttled") dead(s, envelope, "shutdown", text, error, now);
      }
    }
  }
  const mailboxes = [...s.endpoints.values(), ...s.subscriptions, ...s.retired];
  for (const mailbox of mailboxes) {
    mailbox.markClosed();
    for (const envelope of mailbox.drainWaiting()) {
      dead(s, envelope, "shutdown", text, error, now);
    }
    for (const envelope of mailbox.drainQueued()) {
      dead(s, envelope, "shutdown", text, undefined, now);
    }
    for (const envelope of [...mailbox.inFlight]) {
      envelope.delivery?.abort(error);
      dead(s, envelope, "shutdown", text, undefined, now);
    }
    for (const puller of mailbox.pullers.drain()) puller(DONE);
  }
  // Endpoints stay listed (closed) so the last snapshot shows their final counters.
  s.retired.clear();
  s.routes.clear();
  clearDeadlines(s);
  const waiters = s.idleWaiters;
  s.idleWaiters = [];
  for (const resolve of waiters) resolve();
}

/** Moves to `to` and emits `router:state`. */
export function setState(s: RouterInternals, to: RouterState): void {
  const from = s.state;
  s.state = to;
  s.events.emit("router:state", { from, to });
}

/** Throws `ROUTER_CLOSED` once the router is closing or closed. */
export function assertOpen(s: RouterInternals): void {
  if (s.state === "closing" || s.state === "closed") {
    throw new LiminalError("ROUTER_CLOSED", "the router is closed");
  }
}

/** The error of a send to a router that is not running. */
export function notRunning(s: RouterInternals): LiminalError {
  return s.state === "created"
    ? new LiminalError("ROUTER_CLOSED", "the router has not started; call start() first")
    : new LiminalError("ROUTER_CLOSED", `the router is ${s.state}`);
}
