/**
 * A router under fake time, and a recorder of its message events.
 */
import { UnifiedMessageRouter } from "../../src/router/mod.ts";
import type { RouterEventMap, RouterOptions } from "../../src/router/mod.ts";
import { type FakeClock, installFakeTime, settle } from "../_support/fake_time.ts";

/** The final events: every message gets exactly one. */
export const FINAL_EVENTS = [
  "message:delivered",
  "message:expired",
  "message:rejected",
  "message:dead-lettered",
] as const;

type MessageEvent = Exclude<
  keyof RouterEventMap,
  "sender:throttled" | "router:state" | "message:unrouted"
>;

/** One recorded event: its name, the message id, and when (fake epoch ms). */
export interface Recorded {
  event: MessageEvent;
  id: string;
  at: number;
  payload: RouterEventMap[MessageEvent];
}

/** Records every message event of a router. */
export function record(router: UnifiedMessageRouter, clock: () => number = Date.now): Recorded[] {
  const log: Recorded[] = [];
  const events: MessageEvent[] = [
    "message:sent",
    "message:dispatched",
    "message:acked",
    "message:redelivered",
    ...FINAL_EVENTS,
  ];
  for (const event of events) {
    router.on(event, (payload) => {
      log.push({ event, id: payload.message.id, at: clock(), payload });
    });
  }
  return log;
}

/** A started router under fake time; disposing closes it at once and restores the clock. */
export interface RouterHarness extends AsyncDisposable {
  router: UnifiedMessageRouter;
  clock: FakeClock;
  log: Recorded[];
  /** Lets promise callbacks and the dispatch microtasks run. */
  settle(rounds?: number): Promise<void>;
}

/** Builds and starts a router under fake time. */
export function harness(options: RouterOptions = {}, start = true): RouterHarness {
  const clock = installFakeTime();
  const router = new UnifiedMessageRouter(options);
  const log = record(router);
  if (start) router.start();
  return {
    router,
    clock,
    log,
    settle: (rounds = 10) => settle(clock, rounds),
    async [Symbol.asyncDispose]() {
      try {
        const closing = router.close({ graceMs: 0 });
        await clock.tickAsync(0);
        await closing;
      } finally {
        clock.uninstall();
      }
    },
  };
}

/** The payloads of the recorded events of one kind, in order. */
export function payloadsOf(log: Recorded[], event: MessageEvent): unknown[] {
  return log.filter((r) => r.event === event).map((r) =>
    (r.payload as { message: { payload: unknown } }).message.payload
  );
}
