/**
 * A small typed event emitter: one map of event names to payload types per part
 * (`ExecutorEventMap`, `RuntimeEventMap`), listeners called in order, synchronously.
 *
 * It is cheaper than `EventTarget` on hot paths (no event object per call) and lets a part
 * skip building a payload nobody listens to ({@link Emitter.has}).
 *
 * @module
 */

/** A listener of one event. */
export type Listener<T> = (payload: T) => void;

/** Subscribe/unsubscribe side of an {@link Emitter}, handed to consumers. */
export interface EventSource<Events> {
  /** Listens to `event`; returns the function that stops listening. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
  /** Listens to the next `event` only. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
}

/** A typed event emitter. A throwing listener is reported and does not stop the others. */
export class Emitter<Events> implements EventSource<Events> {
  #listeners = new Map<keyof Events, Listener<never>[]>();
  #onListenerError: (error: unknown, event: keyof Events) => void;

  constructor(onListenerError?: (error: unknown, event: keyof Events) => void) {
    this.#onListenerError = onListenerError ??
      ((error, event) => console.error(`listener of ${String(event)} threw:`, error));
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const list = this.#listeners.get(event);
    // Copy on write, so emit() can iterate without copying.
    this.#listeners.set(
      event,
      list ? [...list, listener as Listener<never>] : [listener as Listener<never>],
    );
    return () => this.#off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  #off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const index = list.indexOf(listener as Listener<never>);
    if (index < 0) return;
    const next = list.toSpliced(index, 1);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
  }

  /** Whether anyone listens to `event`: skip building payloads nobody reads. */
  has(event: keyof Events): boolean {
    return this.#listeners.has(event);
  }

  /** Calls every listener of `event` with `payload`. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#listeners.get(event) as Listener<Events[K]>[] | undefined;
    if (!list) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, event);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
