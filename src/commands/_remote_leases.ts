/**
 * The leases of a running runtime, as `liminal run` honours them: before a plan job that
 * names `leases` runs, the same resources are taken in the runtime on the control socket
 * (through its lease API, as an operator's lease that is not preemptible, waiting in its line
 * like any other holder), renewed while the job may still run, and given back when the job
 * is final. Plan jobs of one run that share a resource share that one lease.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ControlClient } from "../control/client.ts";
import { checkSocketPath, resolveSocketPath } from "../control/socket.ts";
import { errorMessage, isLiminalError, LiminalError } from "../shared/errors.ts";
import type { Priority } from "../shared/priority.ts";

const log = getLogger(["liminal", "run"]);

/** The TTL of a lease `run` holds in the runtime: renewed every third of it. */
export const RUN_LEASE_TTL_MS = 60_000;
/** One wait in the runtime's line (its longest); waiting goes on with the next. */
const WAIT_STEP = "60s";

interface Held {
  count: number;
  /** Resolves once the lease is held (or the runtime went away). */
  ready: Promise<void>;
  taken: boolean;
}

/** Leases `liminal run` holds in the runtime on the control socket. */
export class RemoteLeases {
  readonly #client: ControlClient;
  readonly #holder: string;
  readonly #wait: boolean;
  readonly #held = new Map<string, Held>();
  readonly #stop = new AbortController();
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #gone = false;

  private constructor(client: ControlClient, holder: string, wait: boolean) {
    this.#client = client;
    this.#holder = holder;
    this.#wait = wait;
  }

  /**
   * Connects to the runtime on `--socket` (else `LIMINAL_SOCKET`, else the default socket).
   * `null` when none answers on the default socket: the run has no runtime to defer to. A
   * socket named by `--socket` or `LIMINAL_SOCKET` that does not answer is an error (exit 3).
   */
  static async connect(
    socket: string | undefined,
    holder: string,
    wait: boolean,
  ): Promise<RemoteLeases | null> {
    const path = resolveSocketPath(socket);
    const named = (socket !== undefined && socket !== "") ||
      (Deno.env.get("LIMINAL_SOCKET") ?? "") !== "";
    if (!named) {
      try {
        checkSocketPath(path);
      } catch {
        // A default path too long for a Unix socket: no runtime can listen there.
        log.debug("no runtime can listen on {path} (too long): the plan's leases are its own", {
          path,
        });
        return null;
      }
    }
    const client = new ControlClient(path);
    try {
      await client.leases({ timeoutMs: 5_000 });
    } catch (error) {
      client.close();
      if (!named && isLiminalError(error, "RUNTIME_UNREACHABLE")) {
        log.debug("no runtime answers on {path}: the plan's leases are its own", { path });
        return null;
      }
      throw error;
    }
    log.info("leases are taken in the runtime on {path} as {holder}", { path, holder });
    return new RemoteLeases(client, holder, wait);
  }

  /** Who holds the leases in the runtime. */
  get holder(): string {
    return this.#holder;
  }

  /**
   * Takes every resource (in name order, so two runs never wait on each other in a circle),
   * waiting in the runtime's line while one is held; without waiting, `LEASE_HELD` naming
   * the holder. `signal` stops the wait.
   */
  async take(
    resources: readonly string[],
    priority: Priority | undefined,
    label: string,
    signal?: AbortSignal,
  ): Promise<void> {
    for (const resource of [...resources].sort()) {
      let held = this.#held.get(resource);
      if (held === undefined) {
        held = { count: 0, ready: Promise.resolve(), taken: false };
        const entry = held;
        entry.ready = this.#acquire(resource, priority, label, signal).then((taken) => {
          entry.taken = taken;
          if (taken) this.#armRenewal();
        });
        this.#held.set(resource, held);
      }
      held.count++;
      try {
        await held.ready;
      } catch (error) {
        // Not taken: whoever waits on it next asks again.
        if (this.#held.get(resource) === held && --held.count === 0) this.#held.delete(resource);
        throw error;
      }
    }
  }

  /** Gives back what a job took, once no other plan job of this run needs it. */
  async give(resources: readonly string[]): Promise<void> {
    for (const resource of resources) {
      const held = this.#held.get(resource);
      if (held === undefined || --held.count > 0) continue;
      this.#held.delete(resource);
      if (held.taken) await this.#release(resource);
    }
  }

  /** Gives back everything, stops renewing and waiting, and closes the client. */
  async close(): Promise<void> {
    this.#stop.abort(new LiminalError("INTERRUPTED", "the run is over"));
    if (this.#renewTimer !== undefined) clearInterval(this.#renewTimer);
    this.#renewTimer = undefined;
    const held = [...this.#held.entries()];
    this.#held.clear();
    for (const [resource, entry] of held) {
      await entry.ready.catch(() => {});
      if (entry.taken) await this.#release(resource);
    }
    this.#client.close();
  }

  /** Whether the lease was taken (`false`: the runtime went away, nothing to defer to). */
  async #acquire(
    resource: string,
    priority: Priority | undefined,
    label: string,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const request = {
      resource,
      holder: this.#holder,
      ttl: RUN_LEASE_TTL_MS,
      ...(priority === undefined ? {} : { priority }),
    };
    const stop = signal === undefined
      ? this.#stop.signal
      : AbortSignal.any([signal, this.#stop.signal]);
    let told = false;
    for (;;) {
      stop.throwIfAborted();
      try {
        await this.#client.acquireLease(
          told ? { ...request, wait: WAIT_STEP } : request,
          { signal: stop },
        );
        if (told) log.info("{label}: lease {resource} taken", { label, resource });
        return true;
      } catch (error) {
        if (stop.aborted) throw stop.reason;
        if (this.#wait && isLiminalError(error, "RUNTIME_SHUTTING_DOWN")) {
          // Its jobs may still hold the lease while they drain: ask again until it is gone.
          await new Promise((resolve) => setTimeout(resolve, 500));
          continue;
        }
        if (this.#goneAway(error)) return false;
        if (!isLiminalError(error, "LEASE_HELD")) throw error;
        if (!this.#wait) {
          throw new LiminalError(
            "LEASE_HELD",
            `${label} needs lease ${resource}: ${error.message}`,
            { hint: "wait for it (without --no-wait-leases), or ask its holder to release it" },
          );
        }
        if (!told) {
          log.warning("{label} waits for lease {resource}: {why}", {
            label,
            resource,
            why: error.message,
          });
          told = true;
        }
      }
    }
  }

  async #release(resource: string): Promise<void> {
    try {
      await this.#client.releaseLease({ resource, holder: this.#holder });
    } catch (error) {
      if (this.#goneAway(error)) return;
      log.warning("lease {resource} could not be given back (it expires on its own): {error}", {
        resource,
        error: errorMessage(error),
      });
    }
  }

  #armRenewal(): void {
    if (this.#renewTimer !== undefined || this.#stop.signal.aborted) return;
    this.#renewTimer = setInterval(() => void this.#renew(), RUN_LEASE_TTL_MS / 3);
  }

  async #renew(): Promise<void> {
    for (const [resource, held] of this.#held) {
      if (!held.taken) continue;
      try {
        await this.#client.renewLease({
          resource,
          holder: this.#holder,
          ttl: RUN_LEASE_TTL_MS,
        });
      } catch (error) {
        if (this.#goneAway(error)) return;
        log.error("lease {resource} could not be renewed: {error}", {
          resource,
          error: errorMessage(error),
        });
      }
    }
  }

  /** A runtime that went away (stopped, crashed) holds nothing to defer to. */
  #goneAway(error: unknown): boolean {
    if (
      !isLiminalError(error, "RUNTIME_UNREACHABLE") &&
      !isLiminalError(error, "RUNTIME_SHUTTING_DOWN")
    ) {
      return false;
    }
    if (!this.#gone) {
      this.#gone = true;
      log.warning("the runtime no longer answers ({error}): the plan's leases are its own", {
        error: errorMessage(error),
      });
    }
    return true;
  }
}
