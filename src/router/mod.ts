/**
 * The `UnifiedMessageRouter`: endpoints and topic subscriptions, bounded priority mailboxes
 * with aging, per-sender token buckets, acknowledgements with redelivery, dead letters.
 *
 * @example
 * ```ts
 * import { UnifiedMessageRouter } from "./mod.ts";
 *
 * await using router = new UnifiedMessageRouter();
 * const inbox = router.register("compactor");
 * router.start();
 * await router.send("compactor", "compact", { table: "events" }, { ack: true });
 * for await (const message of inbox) {
 *   message.ack();
 *   break; // closes the endpoint
 * }
 * ```
 *
 * @module
 */
export {
  type CloseOptions,
  type DeadLetterQuery,
  DEFAULT_SENDER,
  type RouterCloseReport,
  UnifiedMessageRouter,
} from "./router.ts";
export type { Endpoint, EndpointOptions, SubscribeOptions, Subscription } from "./endpoint.ts";
export {
  defineEndpoint,
  type EndpointDefinition,
  type EndpointDefinitionOptions,
  isEndpointDefinition,
} from "./definition.ts";
export type { RouterEventMap } from "./events.ts";
export type {
  AckOptions,
  DeliveryContext,
  Message,
  MessageHandler,
  SendOptions,
  SendReceipt,
} from "./message.ts";
export {
  type AgingOptions,
  DEFAULT_ACK_TIMEOUT,
  DEFAULT_MAILBOX,
  DEFAULT_TOKEN_COSTS,
  type MailboxFullPolicy,
  type MailboxLimitOptions,
  type RouterOptions,
  type TokenBucketOptions,
} from "./options.ts";
export {
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  type DeadLetterView,
  type FinalMessageState,
  isDeadLetterReason,
  isFinalMessageState,
  type MailboxSnapshot,
  MESSAGE_STATES,
  type MessageState,
  type MessageView,
  type ReceiveMode,
  type RouterRate,
  type RouterSnapshot,
  type RouterState,
  type RouterTotals,
  type SenderSnapshot,
} from "../shared/router_snapshot.ts";
// The shared vocabulary the router's types use.
export type { Duration } from "../shared/duration.ts";
export type { EventSource, Listener } from "../shared/emitter.ts";
export type { ErrorCode } from "../shared/errors.ts";
export type { JsonValue } from "../shared/json.ts";
export type { Priority } from "../shared/priority.ts";
export type { LatencySummary } from "../shared/snapshot.ts";
