/**
 * The `Runtime`: liminal's composition root, its options, events and ordered shutdown.
 *
 * @module
 */
export { formatReport, Runtime, type ShutdownOptions } from "./runtime.ts";
export type { RuntimeEventMap } from "./events.ts";
export type { RuntimeOptions } from "./options.ts";
export { type LoadedModule, loadJobModules, moduleUrl } from "./modules.ts";
export { pruneInBatches, type RetentionOptions, RetentionSweeper } from "./retention.ts";
