/** The exit statuses of the error codes: one rule for conflicts, one for unreachability. */
import assert from "node:assert/strict";
import { ERROR_CODES } from "../../src/shared/errors.ts";

Deno.test("every conflict (HTTP 409) exits 4", () => {
  const conflicts = Object.entries(ERROR_CODES).filter(([, c]) => c.status === 409);
  assert.ok(conflicts.length >= 6);
  for (const [code, { exit }] of conflicts) assert.equal(exit, 4, code);
  for (
    const code of [
      "INVALID_JOB_STATE",
      "SCHEDULE_EXISTS",
      "LEASE_HELD",
      "LEASE_NOT_HELD",
      "ENDPOINT_EXISTS",
      "CONFLICT",
    ] as const
  ) {
    assert.equal(ERROR_CODES[code].exit, 4, code);
  }
});

Deno.test("an unreachable runtime and an unreachable store exit alike: 3", () => {
  assert.equal(ERROR_CODES.RUNTIME_UNREACHABLE.exit, 3);
  assert.equal(ERROR_CODES.STORE_UNREACHABLE.exit, 3);
  assert.equal(ERROR_CODES.STORE_UNREACHABLE.status, ERROR_CODES.RUNTIME_UNREACHABLE.status);
});
