/**
 * OS signals: SIGINT and SIGTERM, each delivered once even when the platform repeats it.
 *
 * @module
 */

/** The signals a runtime handles. */
export type ShutdownSignal = "SIGINT" | "SIGTERM";

/** A repeat of the same signal within this window is taken as one delivery. */
export const DUPLICATE_WINDOW_MS = 50;

/** Listens to SIGINT and SIGTERM until disposed. */
export class SignalWatcher implements Disposable {
  readonly #onSignal: (signal: ShutdownSignal) => void;
  readonly #listeners = new Map<ShutdownSignal, () => void>();
  readonly #last = new Map<ShutdownSignal, number>();

  constructor(onSignal: (signal: ShutdownSignal) => void) {
    this.#onSignal = onSignal;
  }

  /** Starts listening. Signals the OS does not support here are passed over. */
  install(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      if (this.#listeners.has(signal)) continue;
      const listener = () => {
        const now = performance.now();
        const last = this.#last.get(signal);
        this.#last.set(signal, now);
        if (last !== undefined && now - last < DUPLICATE_WINDOW_MS) return;
        this.#onSignal(signal);
      };
      try {
        Deno.addSignalListener(signal, listener);
        this.#listeners.set(signal, listener);
      } catch {
        // SIGTERM is not available on Windows.
      }
    }
  }

  /** Stops listening. */
  uninstall(): void {
    for (const [signal, listener] of this.#listeners) {
      try {
        Deno.removeSignalListener(signal, listener);
      } catch {
        // Already removed.
      }
    }
    this.#listeners.clear();
  }

  [Symbol.dispose](): void {
    this.uninstall();
  }
}
