/**
 * Options of the `UnifiedMessageRouter`, and their resolution: every default applied once,
 * bad values refused at once with a message that quotes them.
 *
 * The defaults, per priority:
 *
 * | priority     | token cost | mailbox | when the mailbox is full     | ack deadline |
 * | ------------ | ---------- | ------- | ---------------------------- | ------------ |
 * | `info`       | 1          | 1000    | reject at once (MAILBOX_FULL)| 1 s          |
 * | `coordinate` | 5          | 200     | wait up to 1 s               | 1 s          |
 * | `blocking`   | 20         | 50      | wait up to 5 s               | 1 s          |
 * | `critical`   | 100        | 10      | wait up to 1 s               | 100 ms       |
 * | `override`   | 0          | 10      | wait up to 5 s               | 1 s          |
 *
 * Why: `info` is telemetry a sender can afford to lose when told, and a flood of it must not
 * pile up waiting sends; `coordinate` and `critical` wait briefly, so a momentary backlog
 * does not fail them while a stuck recipient is reported within a second; `blocking`
 * senders wait on the recipient anyway; `override` (operator commands, rare and never aged
 * into) waits longest and costs nothing. Token buckets: 200 tokens, 60 a second, per
 * sender. Aging: one level per 500 ms waited, at most 2, never into `override`.
 *
 * @module
 */
import { type Duration, parseDuration } from "../shared/duration.ts";
import { LiminalError } from "../shared/errors.ts";
import { PRIORITIES, type Priority } from "../shared/priority.ts";

/** What a send does when the recipient's mailbox for its priority is full. */
export type MailboxFullPolicy = "wait" | "reject";

/** The bound of one priority's mailbox lane and what a send does when it is full. */
export interface MailboxLimitOptions {
  /**
   * Queued messages of this priority one mailbox holds.
   * @default per priority: see the module doc
   */
  capacity?: number;
  /**
   * `"reject"`: the send fails at once with `MAILBOX_FULL` (the message is `rejected`).
   * `"wait"`: the send waits for room up to `waitTimeout`; then the message is dead-lettered
   * (`mailbox-full`) and the send fails with `MAILBOX_FULL`.
   * @default `"reject"` for `info`, `"wait"` for the others
   */
  whenFull?: MailboxFullPolicy;
  /**
   * How long a send waits for room with `whenFull: "wait"`.
   * @default per priority: see the module doc
   */
  waitTimeout?: Duration;
}

/** One token bucket per sender: a send costs tokens by priority; a sender out of tokens waits. */
export interface TokenBucketOptions {
  /** Tokens a bucket holds (and starts with). @default 200 */
  capacity?: number;
  /** Tokens added per second. @default 60 */
  refillPerSecond?: number;
  /**
   * Cost of one send per priority (a send to a topic costs the same as a direct one). Each
   * must be at most `capacity`.
   * @default { info: 1, coordinate: 5, blocking: 20, critical: 100, override: 0 }
   */
  costs?: Partial<Record<Priority, number>>;
  /**
   * Budgets of particular senders over the ones above; `false` exempts a sender (such as
   * the executor publishing `jobs.*` events). A capacity must cover every cost.
   * @default {}
   */
  senders?: Record<string, { capacity?: number; refillPerSecond?: number } | false>;
}

/** A resolved token budget; `null` in a sender override: the sender is exempt. */
export interface ResolvedBudget {
  capacity: number;
  refillPerMs: number;
}

/** Aging: a waiting message competes one level higher per interval waited. */
export interface AgingOptions {
  /** Time waited per level gained. @default "500ms" */
  interval?: Duration;
  /** Levels a message can gain by aging; never into `override`. @default 2 */
  maxRaises?: number;
}

/** Options of a `UnifiedMessageRouter`. */
export interface RouterOptions {
  /** The clock, epoch ms. @default Date.now */
  clock?: () => number;
  /**
   * Aging of waiting messages; `false` turns it off.
   * @default { interval: "500ms", maxRaises: 2 }
   */
  aging?: AgingOptions | false;
  /**
   * Fairness between senders; `false` turns token buckets off.
   * @default { capacity: 200, refillPerSecond: 60, costs: DEFAULT_TOKEN_COSTS }
   */
  tokens?: TokenBucketOptions | false;
  /** Mailbox bounds per priority; endpoints may override them. @default see the module doc */
  mailbox?: Partial<Record<Priority, MailboxLimitOptions>>;
  /**
   * Time a recipient has to ack a message that asks for it.
   * @default 100 ms for `critical`, 1 s otherwise
   */
  ackTimeout?: Partial<Record<Priority, Duration>>;
  /**
   * Hand-overs of a message (the first and the redeliveries) after which a failed one
   * (ack deadline passed, handler threw) is dead-lettered. @default 3
   */
  maxDeliveries?: number;
  /** Dead letters kept; beyond it the oldest are dropped and counted. @default 10000 */
  deadLetterCapacity?: number;
  /** Grace of `close()` when none is given (and of `[Symbol.asyncDispose]`). @default "5s" */
  closeGrace?: Duration;
}

/** A mailbox lane's resolved bound. */
export interface ResolvedMailboxLimit {
  capacity: number;
  whenFull: MailboxFullPolicy;
  /** Milliseconds, for `whenFull: "wait"`. */
  waitMs: number;
}

/** {@link RouterOptions} with every default applied; arrays are indexed by priority level. */
export interface ResolvedRouterOptions {
  clock: () => number;
  /** Whether `clock` was given (else `Date.now`, which the router may read more cheaply). */
  customClock: boolean;
  /** `Infinity` when aging is off. */
  agingMs: number;
  maxRaises: number;
  /** `null` when token buckets are off. */
  tokens:
    | {
      capacity: number;
      refillPerMs: number;
      costs: readonly number[];
      /** Per-sender budgets; `null`: exempt. */
      senders: ReadonlyMap<string, ResolvedBudget | null>;
    }
    | null;
  mailbox: readonly ResolvedMailboxLimit[];
  ackTimeoutMs: readonly number[];
  maxDeliveries: number;
  deadLetterCapacity: number;
  closeGraceMs: number;
}

/** Default mailbox bounds per priority; see the module doc. */
export const DEFAULT_MAILBOX: Readonly<Record<Priority, Readonly<Required<MailboxLimitOptions>>>> =
  {
    info: { capacity: 1_000, whenFull: "reject", waitTimeout: "1s" },
    coordinate: { capacity: 200, whenFull: "wait", waitTimeout: "1s" },
    blocking: { capacity: 50, whenFull: "wait", waitTimeout: "5s" },
    critical: { capacity: 10, whenFull: "wait", waitTimeout: "1s" },
    override: { capacity: 10, whenFull: "wait", waitTimeout: "5s" },
  };

/** Default token cost of a send per priority. */
export const DEFAULT_TOKEN_COSTS: Readonly<Record<Priority, number>> = {
  info: 1,
  coordinate: 5,
  blocking: 20,
  critical: 100,
  override: 0,
};

/** Default ack deadline per priority. */
export const DEFAULT_ACK_TIMEOUT: Readonly<Record<Priority, Duration>> = {
  info: "1s",
  coordinate: "1s",
  blocking: "1s",
  critical: "100ms",
  override: "1s",
};

/** Applies defaults and checks every option of a router. */
export function resolveRouterOptions(options: RouterOptions = {}): ResolvedRouterOptions {
  if (typeof options !== "object" || options === null) {
    throw invalid("router options", options, "pass an object");
  }
  const clock = options.clock ?? Date.now;
  if (typeof clock !== "function") throw invalid("clock", clock, "pass a function");
  const aging = options.aging ?? {};
  const agingMs = aging === false ? Number.POSITIVE_INFINITY : positiveDuration(
    aging.interval ?? "500ms",
    "aging interval",
  );
  const maxRaises = aging === false ? 0 : wholeNumber(aging.maxRaises ?? 2, "aging maxRaises", 0);
  return {
    clock,
    customClock: options.clock !== undefined,
    agingMs,
    maxRaises,
    tokens: resolveTokens(options.tokens),
    mailbox: resolveMailbox(options.mailbox, DEFAULT_LIMITS, "mailbox"),
    ackTimeoutMs: PRIORITIES.map((p) =>
      positiveDuration(
        options.ackTimeout?.[p] ?? DEFAULT_ACK_TIMEOUT[p],
        `ack timeout of ${p}`,
      )
    ),
    maxDeliveries: wholeNumber(options.maxDeliveries ?? 3, "maxDeliveries", 1),
    deadLetterCapacity: wholeNumber(
      options.deadLetterCapacity ?? 10_000,
      "deadLetterCapacity",
      1,
    ),
    closeGraceMs: parseDuration(options.closeGrace ?? "5s", "close grace"),
  };
}

function resolveTokens(tokens: TokenBucketOptions | false | undefined) {
  if (tokens === false) return null;
  const capacity = positiveNumber(tokens?.capacity ?? 200, "token capacity");
  const refillPerSecond = positiveNumber(tokens?.refillPerSecond ?? 60, "token refillPerSecond");
  const costs = PRIORITIES.map((p) => {
    const cost = tokens?.costs?.[p] ?? DEFAULT_TOKEN_COSTS[p];
    if (typeof cost !== "number" || !Number.isFinite(cost) || cost < 0 || cost > capacity) {
      throw invalid(
        `token cost of ${p}`,
        cost,
        `use a number from 0 to the capacity (${capacity})`,
      );
    }
    return cost;
  });
  const highest = Math.max(...costs);
  const senders = new Map<string, ResolvedBudget | null>();
  const given = tokens?.senders ?? {};
  if (typeof given !== "object" || given === null) {
    throw invalid("token senders", given, "pass an object keyed by sender");
  }
  for (const [sender, budget] of Object.entries(given)) {
    if (budget === false) {
      senders.set(sender, null);
      continue;
    }
    if (typeof budget !== "object" || budget === null) {
      throw invalid(
        `token budget of "${sender}"`,
        budget,
        "pass false or { capacity, refillPerSecond }",
      );
    }
    const own = positiveNumber(budget.capacity ?? capacity, `token capacity of "${sender}"`);
    if (own < highest) {
      throw invalid(
        `token capacity of "${sender}"`,
        own,
        `use at least the highest cost (${highest})`,
      );
    }
    const refill = positiveNumber(
      budget.refillPerSecond ?? refillPerSecond,
      `token refillPerSecond of "${sender}"`,
    );
    senders.set(sender, { capacity: own, refillPerMs: refill / 1_000 });
  }
  return { capacity, refillPerMs: refillPerSecond / 1_000, costs, senders };
}

/**
 * Resolves per-priority mailbox bounds over `base`: the defaults for the router's own, the
 * router's bounds for an endpoint's overrides.
 */
export function resolveMailbox(
  options: Partial<Record<Priority, MailboxLimitOptions>> | undefined,
  base: readonly ResolvedMailboxLimit[],
  what: string,
): ResolvedMailboxLimit[] {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw invalid(what, options, "pass an object keyed by priority");
  }
  for (const key of Object.keys(options ?? {})) {
    if (!(PRIORITIES as readonly string[]).includes(key)) {
      throw invalid(`${what} priority`, key, `use one of: ${PRIORITIES.join(", ")}`);
    }
  }
  return PRIORITIES.map((p, level) => {
    const given = options?.[p] ?? {};
    const fallback = base[level]!;
    const whenFull = given.whenFull ?? fallback.whenFull;
    if (whenFull !== "wait" && whenFull !== "reject") {
      throw invalid(`${what} whenFull of ${p}`, whenFull, 'use "wait" or "reject"');
    }
    return {
      capacity: given.capacity === undefined
        ? fallback.capacity
        : wholeNumber(given.capacity, `${what} capacity of ${p}`, 1),
      whenFull,
      waitMs: given.waitTimeout === undefined
        ? fallback.waitMs
        : positiveDuration(given.waitTimeout, `${what} waitTimeout of ${p}`),
    };
  });
}

const DEFAULT_LIMITS: readonly ResolvedMailboxLimit[] = PRIORITIES.map((p) => ({
  capacity: DEFAULT_MAILBOX[p].capacity,
  whenFull: DEFAULT_MAILBOX[p].whenFull,
  waitMs: parseDuration(DEFAULT_MAILBOX[p].waitTimeout),
}));

/** Checks a positive duration (a number of ms or a string like `"500ms"`). */
export function positiveDuration(value: Duration, what: string): number {
  const ms = parseDuration(value, what);
  if (ms <= 0) {
    throw new LiminalError(
      "INVALID_DURATION",
      `${what} must be longer than 0, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** Checks a whole number of at least `min`. */
export function wholeNumber(value: unknown, what: string, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw invalid(what, value, `use a whole number of at least ${min}`);
  }
  return value;
}

function positiveNumber(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw invalid(what, value, "use a number greater than 0");
  }
  return value;
}

function invalid(what: string, value: unknown, fix: string): LiminalError {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new LiminalError("INVALID_ARGUMENT", `invalid ${what} ${shown}: ${fix}`);
}
