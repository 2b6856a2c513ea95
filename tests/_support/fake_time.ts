/**
 * Fake time for tests: `Date`, `performance` and timers under one clock (microtasks and
 * promises stay real, so async code runs between ticks).
 *
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";

/** A fake clock installed on the global timers. */
export type FakeClock = ReturnType<typeof FakeTimers.install>;

/** The fake clock's start: 2026-01-01T00:00:00Z. */
export const EPOCH = Date.UTC(2026, 0, 1);

/** Installs fake timers; uninstall with `clock.uninstall()` (or `using`). */
export function installFakeTime(now: number = EPOCH): FakeClock & Disposable {
  const clock = FakeTimers.install({
    now,
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"],
    shouldClearNativeTimers: true,
  });
  return Object.assign(clock, { [Symbol.dispose]: () => clock.uninstall() });
}

/** Lets pending promise callbacks run without moving the clock. */
export async function settle(clock: FakeClock, rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await clock.tickAsync(0);
}
