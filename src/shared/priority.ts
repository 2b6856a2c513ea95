/**
 * Priorities shared by jobs and router messages, lowest to highest.
 *
 * Aging raises a waiting item one level per interval, never above `critical`;
 * `override` is only ever set explicitly.
 *
 * @module
 */
import { LiminalError } from "./errors.ts";

/** The five priorities, lowest first. The index of a priority is its level. */
export const PRIORITIES = ["info", "coordinate", "blocking", "critical", "override"] as const;

/** A priority name. */
export type Priority = typeof PRIORITIES[number];

/** The level of `critical`, the highest level aging can reach. */
export const CRITICAL_LEVEL = 3;
/** The level of `override`. */
export const OVERRIDE_LEVEL = 4;

const LEVELS: Readonly<Record<Priority, number>> = {
  info: 0,
  coordinate: 1,
  blocking: 2,
  critical: 3,
  override: 4,
};

/** Whether `value` names a priority. */
export function isPriority(value: unknown): value is Priority {
  return typeof value === "string" && Object.hasOwn(LEVELS, value);
}

/** The numeric level of a priority: `info` is 0, `override` is 4. */
export function priorityLevel(priority: Priority): number {
  return LEVELS[priority];
}

/** The priority at a numeric level (0 to 4). */
export function priorityAt(level: number): Priority {
  const priority = PRIORITIES[level];
  if (priority === undefined) throw new RangeError(`no priority at level ${level}`);
  return priority;
}

/**
 * Parses a priority name given by a user, with an error that quotes the bad value and lists
 * the accepted ones.
 */
export function parsePriority(input: unknown, what = "priority"): Priority {
  if (isPriority(input)) return input;
  const shown = typeof input === "string" ? `"${input}"` : JSON.stringify(input) ?? String(input);
  throw new LiminalError(
    "INVALID_PRIORITY",
    `invalid ${what} ${shown}; use one of: ${PRIORITIES.join(", ")}`,
  );
}
