/**
 * Small checks shared by the built-in kinds' payload validators.
 *
 * @module
 */
import type { JsonValue } from "../shared/json.ts";

/** The payload as an object with only the allowed fields, or a throw naming the problem. */
export function objectPayload(
  payload: JsonValue,
  allowed: readonly string[],
  example: string,
): Record<string, JsonValue> {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new Error(`expected an object such as ${example}`);
  }
  for (const key of Object.keys(payload)) {
    if (!allowed.includes(key)) {
      throw new Error(`unknown field "${key}" (fields: ${allowed.join(", ")})`);
    }
  }
  return payload;
}
