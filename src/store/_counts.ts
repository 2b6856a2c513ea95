/**
 * Jobs per state × priority level, and the {@link JobCounts} the stores report from it,
 * written once. The embedded stores keep a table up to date as jobs move; the Postgres
 * store fills one from a `GROUP BY state, priority`.
 *
 * @module
 */
import { FINAL_STATES, JOB_STATES, type JobState, storedJobState } from "../shared/job.ts";
import { PRIORITIES, type Priority } from "../shared/priority.ts";
import type { JobCounts } from "./types.ts";

const STATE_INDEX: Readonly<Record<JobState, number>> = Object.fromEntries(
  JOB_STATES.map((state, i) => [state, i]),
) as Record<JobState, number>;

/** A table of job counts: one cell per state and priority level. */
export class StateCounts {
  /** cells[state][level] */
  #cells: number[][] = JOB_STATES.map(() => PRIORITIES.map(() => 0));

  /** A table filled from `(state, priority level, count)` rows, as stored (`failed` = dead). */
  static fromRows(
    rows: Iterable<{ state: unknown; priority: unknown; n: unknown }>,
  ): StateCounts {
    const counts = new StateCounts();
    for (const row of rows) {
      const state = storedJobState(String(row.state));
      if (state in STATE_INDEX) counts.add(state, Number(row.priority), Number(row.n));
    }
    return counts;
  }

  /** Adds `delta` jobs of priority `level` in `state`. */
  add(state: JobState, level: number, delta: number): void {
    this.#cells[STATE_INDEX[state]]![level]! += delta;
  }

  /** One job of priority `level` moved from `from` to `to`. */
  move(from: JobState, to: JobState, level: number): void {
    this.add(from, level, -1);
    this.add(to, level, 1);
  }

  /** Jobs in `state`, every priority. */
  inState(state: JobState): number {
    return this.#cells[STATE_INDEX[state]]!.reduce((a, b) => a + b, 0);
  }

  /** Jobs in a final state (succeeded, dead, cancelled). */
  finished(): number {
    let n = 0;
    for (const state of FINAL_STATES) n += this.inState(state);
    return n;
  }

  /** Empties the table. */
  clear(): void {
    this.#cells = JOB_STATES.map(() => PRIORITIES.map(() => 0));
  }

  /** The counts as stores report them (a fresh object). */
  toJobCounts(): JobCounts {
    const byState = {} as Record<JobState, number>;
    for (const state of JOB_STATES) byState[state] = this.inState(state);
    const per = (state: JobState) =>
      Object.fromEntries(
        PRIORITIES.map((p, level) => [p, this.#cells[STATE_INDEX[state]]![level]!]),
      ) as Record<Priority, number>;
    return { byState, queuedByPriority: per("queued"), scheduledByPriority: per("scheduled") };
  }
}
