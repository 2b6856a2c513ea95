/**
 * Waiting for the event instead of sleeping and hoping: `until` polls a condition (every
 * 10 ms) and fails, naming what it waited for, if it does not hold within the time allowed.
 *
 * @module
 */

/** Resolves once `condition` holds; throws naming `what` after `ms` milliseconds. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 5_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether process `pid` ignores signal number `signal` (Linux: the SigIgn mask in /proc). */
export async function ignoresSignal(pid: number, signal: number): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) >> BigInt(signal - 1) & 1n) === 1n;
  } catch {
    return false;
  }
}
