/**
 * The queues the executor is compared with, each set up to run `size` no-op async jobs at
 * concurrency {@link CONCURRENCY}: a bare promise loop (the floor), fastq, p-queue,
 * @henrygd/queue, and liminal's `MaintenanceExecutor` over a `MemoryStore`.
 *
 * Each case is split into an untimed `prepare` (build the queue, start the executor), the
 * timed `run` (hand over every job, then wait until all have run) and an untimed `dispose`.
 *
 * @module
 */
import { newQueue } from "@henrygd/queue";
import fastq from "fastq";
import PQueue from "p-queue";
import { defineJob, type JobKind, type JobSpec, MaintenanceExecutor, MemoryStore } from "../mod.ts";
import { CONCURRENCY } from "./_config.ts";
import { openSqliteStore } from "./_stores.ts";

/** The no-op every queue runs: an async function that does nothing. */
export const noopTask = async (): Promise<void> => {};

/** liminal's no-op job kind. */
export const noopJob: JobKind = defineJob({ kind: "noop", handler: async () => {} }) as JobKind;

/** One prepared run. */
export interface PreparedRun {
  /** Hands over every job and resolves when all have run. The part that is timed. */
  run(): Promise<void>;
  /** Releases what `prepare` made. */
  dispose(): Promise<void>;
}

/** What a case is in a comparison. */
export type Role = "floor" | "library" | "ours";

/** One queue implementation. */
export interface QueueCase {
  /** Short id for the command line (`--impl`). */
  id: string;
  /** The name shown in reports; ours start with `liminal`. */
  name: string;
  role: Role;
  prepare(size: number): Promise<PreparedRun>;
}

const nothing = async (): Promise<void> => {};

const specsBySize = new Map<number, JobSpec[]>();

/** `size` distinct `{ kind: "noop" }` specs, built once per size (the caller's cost). */
export function noopSpecs(size: number): JobSpec[] {
  let specs = specsBySize.get(size);
  if (specs === undefined) {
    specs = Array.from({ length: size }, () => ({ kind: "noop" }));
    specsBySize.set(size, specs);
  }
  return specs;
}

/** Every case, floor first and ours last. */
export const QUEUES: readonly QueueCase[] = [
  {
    id: "floor",
    name: "bare promise loop (floor)",
    role: "floor",
    prepare(size) {
      return Promise.resolve({
        async run() {
          let next = 0;
          const loop = async () => {
            while (next < size) {
              next++;
              await noopTask();
            }
          };
          const loops = [];
          for (let i = 0; i < CONCURRENCY; i++) loops.push(loop());
          await Promise.all(loops);
        },
        dispose: nothing,
      });
    },
  },
  {
    id: "fastq",
    name: "fastq",
    role: "library",
    prepare(size) {
      const queue = fastq.promise(noopTask, CONCURRENCY);
      return Promise.resolve({
        async run() {
          for (let i = 0; i < size; i++) void queue.push(undefined);
          await queue.drained();
        },
        dispose: nothing,
      });
    },
  },
  {
    id: "p-queue",
    name: "p-queue",
    role: "library",
    prepare(size) {
      const queue = new PQueue({ concurrency: CONCURRENCY });
      return Promise.resolve({
        async run() {
          for (let i = 0; i < size; i++) void queue.add(noopTask);
          await queue.onIdle();
        },
        dispose: nothing,
      });
    },
  },
  {
    id: "henrygd",
    name: "@henrygd/queue",
    role: "library",
    prepare(size) {
      const queue = newQueue(CONCURRENCY);
      return Promise.resolve({
        async run() {
          for (let i = 0; i < size; i++) void queue.add(noopTask);
          await queue.done();
        },
        dispose: nothing,
      });
    },
  },
  {
    id: "liminal",
    name: "liminal executor (memory store)",
    role: "ours",
    async prepare(size) {
      const specs = noopSpecs(size);
      const store = new MemoryStore();
      await store.open();
      const executor = new MaintenanceExecutor({ store, kinds: [noopJob], workers: CONCURRENCY });
      await executor.start();
      return {
        async run() {
          await executor.enqueueMany(specs);
          await executor.onIdle();
        },
        async dispose() {
          await executor.stop();
          await store.close();
        },
      };
    },
  },
];

/**
 * The executor over the SQLite store (a new database file in a temporary directory per
 * round). Not in {@link QUEUES}: it runs only when the store exists, and needs
 * `--allow-write`.
 */
export const SQLITE_QUEUE: QueueCase = {
  id: "liminal-sqlite",
  name: "liminal executor (SQLite store)",
  role: "ours",
  async prepare(size) {
    const specs = noopSpecs(size);
    const dir = await Deno.makeTempDir({ prefix: "liminal-bench-" });
    const store = await openSqliteStore(dir);
    const executor = new MaintenanceExecutor({ store, kinds: [noopJob], workers: CONCURRENCY });
    await executor.start();
    return {
      async run() {
        await executor.enqueueMany(specs);
        await executor.onIdle();
      },
      async dispose() {
        await executor.stop();
        await store.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
};

/** The case with this id, or an error listing the ids. */
export function queueCase(id: string): QueueCase {
  const found = [...QUEUES, SQLITE_QUEUE].find((q) => q.id === id);
  if (found === undefined) {
    throw new Error(
      `unknown queue "${id}"; use one of: ${[...QUEUES, SQLITE_QUEUE].map((q) => q.id).join(", ")}`,
    );
  }
  return found;
}
