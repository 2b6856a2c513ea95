/**
 * Progress and log lines of the Postgres store, group-committed: the batch
 * (`../_side_writes.ts`) is written in one transaction within 100 ms, and always before the
 * next write of this store. A failed batch is logged and dropped (no caller waits on it).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { errorMessage } from "../../shared/errors.ts";
import { type JobLogLine, type JobProgress, MAX_LOG_LINES } from "../../shared/job.ts";
import { SideWrites } from "../_side_writes.ts";
import { appendLogLines, trimLogs, writeProgress } from "./_queries.ts";
import { type PendingSideWrites, type PostgresState, roundMs, type Tx } from "./_state.ts";

const log = getLogger(["liminal", "store"]);

/** The batch of progress and log writes of one Postgres store. */
export class BatchedSideWrites implements PendingSideWrites {
  readonly #state: PostgresState;
  readonly #batch: SideWrites;
  #flushing: Promise<void> | null = null;

  constructor(state: PostgresState) {
    this.#state = state;
    this.#batch = new SideWrites(() => void this.flush(), state.timers);
  }

  /** Whether writes wait, or a flush is under way. */
  get pending(): boolean {
    return this.#batch.pending || this.#flushing !== null;
  }

  /** Records a running job's progress (ignored while the store is not open). */
  progress(id: string, progress: JobProgress): void {
    if (this.#state.sql !== null) this.#batch.progress(id, progress);
  }

  /** Appends a log line (ignored while the store is not open). */
  log(id: string, line: JobLogLine): void {
    if (this.#state.sql !== null) this.#batch.log(id, line);
  }

  /** Writes pending progress and log lines in one transaction; failures are logged. */
  flush(): Promise<void> {
    this.#batch.disarm();
    if (this.#flushing !== null) return this.#flushing.then(() => this.flush());
    if (!this.#batch.pending) return Promise.resolve();
    const sql = this.#state.sql;
    if (sql === null) return Promise.resolve();
    const batch = this.#batch.take();
    const progress = [...batch.progress].map(([id, p]) => ({ id, p }));
    const logs = batch.logs.map(({ id, line }, i) => ({
      i,
      id,
      at: roundMs(line.at),
      message: line.message,
    }));
    const logged = [...new Set(logs.map((l) => l.id))];
    this.#flushing = (async () => {
      try {
        await sql.begin(async (transaction) => {
          const tx = transaction as unknown as Tx;
          if (progress.length > 0) await writeProgress(tx, progress);
          if (logs.length > 0) {
            await appendLogLines(tx, logs);
            await trimLogs(tx, logged, MAX_LOG_LINES);
          }
        });
      } catch (error) {
        log.warn("{count} progress/log write(s) dropped: {error}", {
          count: progress.length + logs.length,
          error: errorMessage(error),
        });
      } finally {
        this.#flushing = null;
      }
    })();
    return this.#flushing;
  }

  /** Stops the timer (at close, after the last flush). */
  disarm(): void {
    this.#batch.disarm();
  }
}
