/**
 * The live event stream (`GET /v1/events`, server-sent events): job lifecycle, worker
 * health, intake and shutdown phases, fanned out to every connected client.
 *
 * A slow client does not hold the runtime back: past {@link MAX_BUFFERED} unsent events its
 * stream is closed.
 *
 * Every event gets an SSE `id`, `<run>-<n>`: `run` is random per hub (per start of a runtime,
 * also in the `stream:open` frame), `n` one sequence from 1 whether or not anyone listens, so
 * no id is ever given by two runs. The hub keeps the last {@link REPLAY_CAPACITY}. A client that
 * reconnects with `Last-Event-ID` gets, after `stream:open`, the events it asks for that came
 * after that id (`<run>-0`: from this run's first); when some of them are no longer held (or
 * the id is not this run's: `lost` is `null`), a `gap` event says so first:
 * `{ "after": id, "lost": n | null, "message": … }`.
 *
 * @module
 */
import type { EventSource } from "../shared/emitter.ts";
import type { ExecutorEventMap, RouterEventMap, RuntimeEventMap } from "../shared/events.ts";

/** Events a client may receive, by name. */
export type StreamEventName = keyof ExecutorEventMap | keyof RuntimeEventMap | keyof RouterEventMap;

/** Events buffered for one client before it is dropped. */
export const MAX_BUFFERED = 10_000;
/** Events kept for clients that reconnect with `Last-Event-ID`. */
export const REPLAY_CAPACITY = 4_096;
/**
 * A router event larger than this (a big message payload) is sent but not kept for replay:
 * the ring stays small. A replay over it says so with a `gap` event.
 */
export const MAX_HELD_BYTES = 64 * 1024;
/** A comment line keeps idle connections open through proxies. */
const KEEPALIVE_MS = 15_000;

const FORWARDED_EXECUTOR: (keyof ExecutorEventMap)[] = [
  "job:enqueued",
  "job:started",
  "job:progress",
  "job:log",
  "job:succeeded",
  "job:failed",
  "job:dead",
  "job:cancelled",
  "job:interrupted",
  "job:retried",
  "job:abandoned",
  "worker:stuck",
  "worker:recovered",
  "intake:changed",
];
const FORWARDED_RUNTIME: (keyof RuntimeEventMap)[] = [
  "state:changed",
  "shutdown:phase",
  "shutdown:report",
  "signal",
  "lease:preempted",
];
/** Router events go only to clients that ask for them (`events=message:*`): they are many. */
const FORWARDED_ROUTER: (keyof RouterEventMap)[] = [
  "message:sent",
  "message:delivered",
  "message:acked",
  "message:redelivered",
  "message:expired",
  "message:rejected",
  "message:dead-lettered",
  "message:unrouted",
];

interface Client {
  router: boolean;
  controller: ReadableStreamDefaultController<Uint8Array>;
  filter: (event: string, data: Record<string, unknown>) => boolean;
  buffered: number;
}

/** What a client asks for: event names (prefixes ending in `*` allowed) and job ids. */
export interface StreamFilter {
  events?: string[];
  jobs?: string[];
}

const encoder = new TextEncoder();

interface Held {
  /** The sequence number `n` of the id `<run>-<n>`. */
  id: number;
  run: string;
  event: string;
  /** `null`: too large to keep. */
  data: Record<string, unknown> | null;
  frame: Uint8Array | null;
}

/** Fans events out to SSE clients. */
export class EventHub {
  readonly #clients = new Set<Client>();
  readonly #offs: (() => void)[] = [];
  #seq = 0;
  /** This hub's run id, the first part of every event id: random, so two runs never share one. */
  readonly run: string = runId();
  /** The last events, oldest first, as a ring. */
  readonly #held: (Held | undefined)[] = new Array(REPLAY_CAPACITY);
  /** Clients that asked for router events: without any, they are not even serialised. */
  #routerClients = 0;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(
    executor: EventSource<ExecutorEventMap>,
    runtime: EventSource<RuntimeEventMap>,
    router?: EventSource<RouterEventMap>,
  ) {
    for (const name of FORWARDED_EXECUTOR) {
      this.#offs.push(
        executor.on(name, (data) => this.#publish(name, data as Record<string, unknown>)),
      );
    }
    for (const name of FORWARDED_RUNTIME) {
      this.#offs.push(
        runtime.on(name, (data) => this.#publish(name, data as Record<string, unknown>)),
      );
    }
    if (router !== undefined) {
      for (const name of FORWARDED_ROUTER) {
        this.#offs.push(router.on(name, (data) => {
          if (this.#routerClients > 0) {
            this.#publish(name, data as unknown as Record<string, unknown>);
          }
        }));
      }
    }
  }

  /** Connected clients. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * A new SSE response body for one client; it ends when the client goes or the hub closes.
   * With `lastEventId` (the `Last-Event-ID` header of a reconnect), the held events after it
   * are sent first.
   */
  open(
    filter: StreamFilter,
    signal: AbortSignal,
    lastEventId: string | null = null,
  ): ReadableStream<Uint8Array> {
    let client: Client;
    const matches = compileFilter(filter);
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = {
          controller,
          filter: matches,
          buffered: 0,
          router: (filter.events ?? []).some((e) => e.startsWith("message")),
        };
        if (client.router) this.#routerClients++;
        if (this.#closed) {
          controller.close();
          return;
        }
        this.#clients.add(client);
        // The first frame tells the client its subscription is live.
        controller.enqueue(
          encoder.encode(
            `retry: 1000\nevent: stream:open\ndata: {"pid":${Deno.pid},"run":"${this.run}"}\n\n`,
          ),
        );
        if (lastEventId !== null) this.#replay(client, lastEventId.trim());
        this.#armKeepalive();
        signal.addEventListener("abort", () => this.#drop(client), { once: true });
      },
      pull: () => {
        client.buffered = 0;
      },
      cancel: () => {
        this.#drop(client);
      },
    });
  }

  /** Ends every stream and stops listening. */
  close(): void {
    this.#closed = true;
    for (const off of this.#offs) off();
    this.#offs.length = 0;
    for (const client of [...this.#clients]) this.#drop(client);
    this.#disarmKeepalive();
  }

  #publish(event: string, data: Record<string, unknown>): void {
    const held: Held = { id: ++this.#seq, run: this.run, event, data, frame: null };
    // Message views carry payloads (up to 1 MiB): a large one is not kept.
    const tooLarge = event.startsWith("message:") && frameOf(held).byteLength > MAX_HELD_BYTES;
    this.#held[held.id % REPLAY_CAPACITY] = tooLarge
      ? { id: held.id, run: this.run, event, data: null, frame: null }
      : held;
    if (this.#clients.size === 0) return;
    for (const client of this.#clients) {
      if (!client.filter(event, data)) continue;
      this.#send(client, frameOf(held));
    }
  }

  #send(client: Client, frame: Uint8Array): void {
    if (
      ++client.buffered > MAX_BUFFERED || (client.controller.desiredSize ?? 0) < -MAX_BUFFERED
    ) {
      this.#drop(client);
      return;
    }
    client.controller.enqueue(frame);
  }

  /** Sends the held events after `lastEventId` that the client asks for, or says what is lost. */
  #replay(client: Client, lastEventId: string): void {
    const parts = /^([0-9a-z]+)-(\d+)$/.exec(lastEventId);
    const after = parts !== null && parts[1] === this.run ? Number(parts[2]) : Number.NaN;
    const gap = (lost: number | null, message: string) =>
      client.controller.enqueue(
        encoder.encode(
          `event: gap\ndata: ${JSON.stringify({ after: lastEventId, lost, message })}\n\n`,
        ),
      );
    if (!Number.isSafeInteger(after) || after > this.#seq) {
      gap(
        null,
        `event id ${JSON.stringify(lastEventId)} is not this runtime's (it restarted?): ` +
          "events since then are lost",
      );
      return;
    }
    const oldest = Math.max(1, this.#seq - REPLAY_CAPACITY + 1);
    if (after + 1 < oldest) {
      const lost = oldest - after - 1;
      gap(
        lost,
        `${lost} event(s) after ${lastEventId} are no longer held (the last ${REPLAY_CAPACITY} are); some may not have matched this stream`,
      );
    }
    for (let id = Math.max(after + 1, oldest); id <= this.#seq; id++) {
      const held = this.#held[id % REPLAY_CAPACITY];
      if (held === undefined || held.id !== id) continue;
      if (held.data === null) {
        gap(
          1,
          `event ${this.run}-${id} (${held.event}) was too large to keep (over ${MAX_HELD_BYTES} bytes)`,
        );
        continue;
      }
      if (!client.filter(held.event, held.data)) continue;
      this.#send(client, frameOf(held));
      if (!this.#clients.has(client)) return;
    }
  }

  #drop(client: Client): void {
    if (!this.#clients.delete(client)) return;
    if (client.router) this.#routerClients--;
    try {
      client.controller.close();
    } catch {
      // Already closed or errored.
    }
    if (this.#clients.size === 0) this.#disarmKeepalive();
  }

  #armKeepalive(): void {
    if (this.#keepalive !== undefined) return;
    this.#keepalive = setInterval(() => {
      const frame = encoder.encode(": keepalive\n\n");
      for (const client of this.#clients) {
        try {
          client.controller.enqueue(frame);
        } catch {
          this.#drop(client);
        }
      }
    }, KEEPALIVE_MS);
  }

  #disarmKeepalive(): void {
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }
}

/** A run id: 8 random base-36 digits. */
function runId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
}

function frameOf(held: Held): Uint8Array {
  return held.frame ??= encoder.encode(
    `id: ${held.run}-${held.id}\nevent: ${held.event}\ndata: ${JSON.stringify(held.data)}\n\n`,
  );
}

function compileFilter(
  filter: StreamFilter,
): (event: string, data: Record<string, unknown>) => boolean {
  const names = filter.events?.filter((e) => e !== "") ?? [];
  const ids = filter.jobs === undefined || filter.jobs.length === 0 ? null : new Set(filter.jobs);
  const nameOk = names.length === 0
    ? () => true
    : (event: string) =>
      names.some((n) => (n.endsWith("*") ? event.startsWith(n.slice(0, -1)) : event === n));
  return (event, data) => {
    if (!nameOk(event)) return false;
    // Router events only for those who name them.
    if (event.startsWith("message:") && names.length === 0) return false;
    if (ids !== null && event.startsWith("job:")) {
      return typeof data.id === "string" && ids.has(data.id);
    }
    return true;
  };
}
