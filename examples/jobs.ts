/**
 * An example job module: `liminal start --jobs examples/jobs.ts`.
 *
 * @module
 */
import { defineJob, PermanentJobError } from "liminal";

/** Counts the files under a directory, reporting progress as it goes. */
export const countFiles = defineJob({
  kind: "count-files",
  description: 'counts the files under a directory: { "dir": "." }',
  defaults: { priority: "info", timeout: "1m", attempts: 2 },
  validate(payload) {
    if (
      typeof payload !== "object" || payload === null || Array.isArray(payload) ||
      typeof payload.dir !== "string"
    ) {
      throw new Error('expected { "dir": "<path>" }');
    }
    return { dir: payload.dir };
  },
  async handler({ payload, signal, progress, log }) {
    let files = 0;
    const walk = async (dir: string): Promise<void> => {
      for await (const entry of Deno.readDir(dir)) {
        signal.throwIfAborted();
        if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
        else if (entry.isFile && ++files % 100 === 0) progress(files);
      }
    };
    try {
      await walk(payload.dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new PermanentJobError(`no directory ${payload.dir}`);
      }
      throw error;
    }
    log(`${files} files under ${payload.dir}`);
    return { files };
  },
});
