/**
 * Built-in job kinds: `sleep`, `command`, `fail`.
 *
 * @module
 */
import type { JobKind } from "../executor/job_kind.ts";
import { commandJob } from "./command.ts";
import { failJob } from "./fail.ts";
import { sleepJob } from "./sleep.ts";

export { commandJob, type CommandPayload, type CommandResult } from "./command.ts";
export { failJob } from "./fail.ts";
export { sleepJob } from "./sleep.ts";

/** Every built-in kind, registered by every runtime. */
export function builtinJobs(): JobKind[] {
  return [sleepJob, commandJob, failJob] as JobKind[];
}
