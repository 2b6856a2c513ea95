/**
 * The ordered shutdown.
 *
 * ```
 * 1 intake-closed   no new jobs (control answers 503); the scheduler stops firing
 * 2 drain           running jobs get the grace period to finish; queued jobs stay queued
 * 3 cancel          every running job's signal aborts; jobs still running after the hard
 *                   deadline are recorded as interrupted and queued again (at-least-once)
 * 4 router-closed   pending messages are delivered or dead-lettered
 * 5 control-closed  the control socket is removed
 * 6 store-closed    the store is flushed and closed
 * ```
 *
 * Each part registers its teardown steps for the phases it takes part in when it starts;
 * the shutdown runs the phases in order and, within a phase, the steps in the reverse order
 * of registration (the part started last stops first). Every step runs even when an earlier
 * one failed. Forcing (a second Ctrl-C) ends the drain at once and leaves no hard deadline.
 *
 * @module
 */
import { errorMessage } from "../shared/errors.ts";
import {
  SHUTDOWN_PHASES,
  type ShutdownPhase,
  type ShutdownPhaseEvent,
} from "../shared/snapshot.ts";

/** What a teardown step knows. */
export interface PhaseContext {
  /** Aborted when the shutdown is forced. */
  readonly forceSignal: AbortSignal;
  /** Whether the shutdown was forced (so far). */
  readonly forced: boolean;
}

/** A teardown step. It may return a short note for the phase's event. */
export type PhaseStep = (ctx: PhaseContext) => Promise<string | void> | string | void;

/** The teardown steps of each phase, registered by the parts as they start. */
export class ShutdownPlan {
  readonly #steps = new Map<ShutdownPhase, { name: string; step: PhaseStep }[]>();

  /** Registers a step of `phase`, run before the steps registered earlier. */
  add(phase: ShutdownPhase, name: string, step: PhaseStep): void {
    const steps = this.#steps.get(phase) ?? [];
    steps.unshift({ name, step });
    this.#steps.set(phase, steps);
  }

  /** Whether any step is registered for `phase`. */
  has(phase: ShutdownPhase): boolean {
    return (this.#steps.get(phase)?.length ?? 0) > 0;
  }

  /**
   * Runs every phase in order. Resolves with the errors of failed steps (the others ran).
   */
  async run(
    forceSignal: AbortSignal,
    onPhase: (event: ShutdownPhaseEvent) => void,
  ): Promise<string[]> {
    const errors: string[] = [];
    for (const [i, phase] of SHUTDOWN_PHASES.entries()) {
      const index = i + 1;
      const steps = this.#steps.get(phase) ?? [];
      if (steps.length === 0) {
        onPhase({ index, phase, status: "skipped", detail: "nothing to do" });
        continue;
      }
      onPhase({ index, phase, status: "started" });
      const started = performance.now();
      const notes: string[] = [];
      const failures: string[] = [];
      for (const { name, step } of steps) {
        try {
          const note = await step({ forceSignal, forced: forceSignal.aborted });
          if (note) notes.push(note);
        } catch (error) {
          failures.push(`${name}: ${errorMessage(error)}`);
        }
      }
      this.#steps.delete(phase);
      errors.push(...failures.map((f) => `${phase}: ${f}`));
      const event: ShutdownPhaseEvent = {
        index,
        phase,
        status: failures.length > 0 ? "failed" : "finished",
        durationMs: performance.now() - started,
      };
      const detail = [...notes, ...failures].join("; ");
      if (detail) event.detail = detail;
      onPhase(event);
    }
    return errors;
  }
}
