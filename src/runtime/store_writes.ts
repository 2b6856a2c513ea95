/**
 * Whether the store accepts writes: the runtime's parts (executor, scheduler, leases, control
 * API) reach the store through {@link StoreWriteWatch.watch}, which notes each write verb the
 * store refuses (`STORE_FULL` for a full disk, `STORE_UNAVAILABLE` for a read-only file or a
 * server that is down, `STORE_ERROR`) and forgets it when that verb next succeeds. While any
 * is refused, the status snapshot carries a `STORE_WRITE_FAILING` warning that names them,
 * quotes the store's error and says what to do.
 *
 * Per verb, not "the last write": with a full disk, updates in place (settling a job) still
 * succeed while new rows (enqueue) are refused, and the warning must stay until enqueues work.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { formatDuration } from "../shared/duration.ts";
import { type ErrorCode, errorMessage, isLiminalError } from "../shared/errors.ts";
import type { Warning } from "../shared/snapshot.ts";
import type { JobStore } from "../store/types.ts";

const log = getLogger(["liminal", "store"]);

/** The store's verbs that write, with the name an operator knows them by. */
const WRITES: ReadonlyMap<string, string> = new Map([
  ["insert", "enqueue"],
  ["claim", "claim"],
  ["settle", "settle"],
  ["recordProgress", "progress"],
  ["appendLog", "job log"],
  ["promoteDue", "promote due jobs"],
  ["cancel", "cancel"],
  ["retry", "retry"],
  ["recoverInterrupted", "recover"],
  ["prune", "prune"],
  ["putSchedule", "save schedule"],
  ["deleteSchedule", "remove schedule"],
  ["recordScheduleRun", "record schedule run"],
  ["swapLease", "lease"],
  ["deleteLease", "release lease"],
]);

/** The codes that mean the store refused (as opposed to a job in the wrong state). */
const REFUSALS: ReadonlySet<ErrorCode> = new Set([
  "STORE_FULL",
  "STORE_UNAVAILABLE",
  "STORE_ERROR",
]);

interface Refusal {
  code: ErrorCode;
  message: string;
  since: number;
  last: number;
}

/** Notes the store's refused writes; see the module doc. */
export class StoreWriteWatch {
  readonly #refused = new Map<string, Refusal>();
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  /** The store, with every write verb watched; everything else passes through untouched. */
  watch<S extends JobStore>(store: S): S {
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get: (target, property) => {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        let fn = wrapped.get(property);
        if (fn === undefined) {
          const verb = typeof property === "string" ? WRITES.get(property) : undefined;
          fn = verb === undefined ? value.bind(target) : this.#watched(verb, value.bind(target));
          wrapped.set(property, fn);
        }
        return fn;
      },
    });
  }

  /** Whether any write is being refused now. */
  get failing(): boolean {
    return this.#refused.size > 0;
  }

  /** The warning while writes are refused, else `null`. */
  warning(now = this.#clock()): Warning | null {
    if (this.#refused.size === 0) return null;
    const refusals = [...this.#refused.entries()];
    const [, latest] = refusals.reduce((a, b) => (b[1].last > a[1].last ? b : a));
    const since = Math.min(...refusals.map(([, r]) => r.since));
    const verbs = refusals.map(([verb]) => verb).join(", ");
    return {
      code: "STORE_WRITE_FAILING",
      message: `the store refuses writes (${verbs}) for ${
        formatDuration(Math.max(0, now - since))
      }: ${latest.code}: ${latest.message}; ${advice(latest)}`,
    };
  }

  #watched(
    verb: string,
    fn: (...args: unknown[]) => unknown,
  ): (...args: unknown[]) => Promise<unknown> {
    return async (...args) => {
      try {
        const result = await fn(...args);
        this.#accepted(verb);
        return result;
      } catch (error) {
        if (isLiminalError(error) && REFUSALS.has(error.code)) this.#refusedNow(verb, error);
        throw error;
      }
    };
  }

  #accepted(verb: string): void {
    const refusal = this.#refused.get(verb);
    if (refusal === undefined) return;
    this.#refused.delete(verb);
    log.info("the store accepts {verb} again (refused for {duration})", {
      verb,
      duration: formatDuration(Math.max(0, this.#clock() - refusal.since)),
    });
  }

  #refusedNow(verb: string, error: { code: ErrorCode; message: string }): void {
    const now = this.#clock();
    const known = this.#refused.get(verb);
    this.#refused.set(verb, {
      code: error.code,
      message: errorMessage(error),
      since: known?.since ?? now,
      last: now,
    });
    if (known === undefined) {
      log.warn("the store refuses {verb}: {code}: {error}", {
        verb,
        code: error.code,
        error: errorMessage(error),
      });
    }
  }
}

function advice(refusal: Refusal): string {
  if (refusal.code === "STORE_FULL") {
    return "free space on the store's disk (or raise its size limit); accepted jobs are kept and their writes retried";
  }
  if (/read-?only/i.test(refusal.message)) {
    return "make the store (its file and directory, or the database server) writable again";
  }
  return "check the store (its disk, file permissions or server) and the runtime's log";
}
