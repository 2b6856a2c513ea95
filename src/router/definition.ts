/**
 * Endpoints declared in a `--jobs` module with {@link defineEndpoint}: the runtime registers
 * them on its router when it starts, so maintenance workflows can be built out of messages.
 *
 * @module
 */
import { LiminalError } from "../shared/errors.ts";
import type { MessageHandler } from "./message.ts";
import type { MailboxLimitOptions } from "./options.ts";
import type { Priority } from "../shared/priority.ts";

const ENDPOINT = Symbol.for("liminal.endpoint");

/** Options of {@link defineEndpoint}. */
export interface EndpointDefinitionOptions {
  /** The endpoint's name: messages sent to it reach the handler. */
  name: string;
  /** Receives each message (acknowledge with `message.ack()` when sent with `ack`). */
  handler: MessageHandler;
  /** Topic patterns the same handler subscribes to (`jobs.*`, `jobs.dead`). @default none */
  topics?: string[];
  /** Messages handled at once. @default 1 */
  concurrency?: number;
  /** Mailbox bounds per priority. @default the router's */
  mailbox?: Partial<Record<Priority, MailboxLimitOptions>>;
}

/** A checked endpoint definition. */
export interface EndpointDefinition extends Readonly<EndpointDefinitionOptions> {
  /** @internal The brand that tells this kind of definition apart. */
  readonly [ENDPOINT]: true;
}

/**
 * Declares a router endpoint in a `--jobs` module.
 *
 * @example
 * ```ts
 * export const alerts = defineEndpoint({
 *   name: "alerts",
 *   topics: ["jobs.dead"],
 *   handler: (message) => console.error(`dead job: ${JSON.stringify(message.payload)}`),
 * });
 * ```
 */
export function defineEndpoint(options: EndpointDefinitionOptions): EndpointDefinition {
  if (typeof options !== "object" || options === null || typeof options.handler !== "function") {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      "defineEndpoint needs a name and a handler function",
    );
  }
  if (typeof options.name !== "string" || options.name === "") {
    throw new LiminalError("INVALID_ARGUMENT", "defineEndpoint needs a name");
  }
  if (
    options.topics !== undefined &&
    (!Array.isArray(options.topics) || !options.topics.every((t) => typeof t === "string"))
  ) {
    throw new LiminalError(
      "INVALID_ARGUMENT",
      `endpoint "${options.name}": topics must be an array of patterns`,
    );
  }
  return Object.freeze({ ...options, [ENDPOINT]: true as const });
}

/** Whether `value` is an endpoint made by {@link defineEndpoint}. */
export function isEndpointDefinition(value: unknown): value is EndpointDefinition {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[ENDPOINT] === true;
}
