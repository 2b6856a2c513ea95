/**
 * Job modules: user files given with `--jobs` whose exports are job kinds made with
 * `defineJob` and schedules made with `defineSchedule` (named exports, a default export, or
 * arrays of them).
 *
 * @module
 */
import { isJobKind, type JobKind } from "../executor/job_kind.ts";
import { isSchedule, type ScheduleDefinition } from "../scheduler/schedule.ts";
import { type EndpointDefinition, isEndpointDefinition } from "../router/definition.ts";
import { errorMessage, LiminalError } from "../shared/errors.ts";
import { withEndpointOutput, withJobOutput } from "./module_output.ts";

/** What a job module contributes. */
export interface LoadedModule {
  /** The module's URL. */
  url: string;
  kinds: JobKind[];
  schedules: ScheduleDefinition[];
  endpoints: EndpointDefinition[];
}

/** Resolves a module path given by a user (relative to the working directory) to a URL. */
export function moduleUrl(specifier: string): string {
  if (/^(file|https?|npm|jsr):/.test(specifier)) return specifier;
  const path = specifier.startsWith("/") ? specifier : `${Deno.cwd()}/${specifier}`;
  return new URL(`file://${path.split("/").map(encodeURIComponent).join("/")}`).href;
}

/**
 * Why a module did not load, in one line: a syntax error says where, `file:line:column: what`
 * (Deno puts the place on a later line of the message, after a snippet of the source).
 */
export function loadFailure(message: string, url: string, specifier: string): string {
  const first = message.split("\n")[0]!;
  const at = /\n\s+at ((?:file|https?):\/\/\S+?):(\d+):(\d+)\s*(?:\n|$)/.exec(message);
  if (at === null) return first;
  const [, where, line, column] = at;
  let file = where!;
  if (where === url) file = specifier;
  else if (where!.startsWith("file:")) {
    try {
      file = decodeURIComponent(new URL(where!).pathname);
    } catch {
      // keep the URL
    }
  }
  return `${file}:${line}:${column}: ${first}`;
}

/**
 * A bare import a job module's own project maps (in its `deno.json`) does not resolve at run
 * time: the runtime's process has one import map, liminal's own. Says so, and what works.
 */
function unmappedImportHint(message: string): { hint?: string } {
  const bare = /Import "([^"]+)" not a dependency/.exec(message)?.[1] ??
    /Relative import path "([^"]+)" not prefixed/.exec(message)?.[1];
  if (bare === undefined) return {};
  return {
    hint:
      `a job module's imports resolve through liminal's import map, not your project's deno.json: import "${bare}" by full specifier (npm:${bare}, jsr:…) or relative path; "liminal" itself always resolves`,
  };
}

/**
 * Imports job modules and collects the job kinds they export. A missing file, a module that
 * fails to load or one that exports no job kind: `INVALID_JOB_MODULE`. The kinds and
 * endpoints returned run their handlers where a captured console (`captureConsole()`) knows
 * which job or endpoint prints.
 */
export async function loadJobModules(specifiers: readonly string[]): Promise<LoadedModule[]> {
  const loaded: LoadedModule[] = [];
  for (const specifier of specifiers) {
    const url = moduleUrl(specifier);
    if (url.startsWith("file:")) {
      try {
        const info = await Deno.stat(new URL(url));
        if (!info.isFile) throw new Error("not a file");
      } catch (error) {
        const reason = error instanceof Deno.errors.NotFound ? "no such file" : errorMessage(error);
        throw new LiminalError(
          "INVALID_JOB_MODULE",
          `cannot load job module ${specifier}: ${reason}`,
        );
      }
    }
    let exports: Record<string, unknown>;
    try {
      exports = await import(url);
    } catch (error) {
      throw new LiminalError(
        "INVALID_JOB_MODULE",
        `cannot load job module ${specifier}: ${loadFailure(errorMessage(error), url, specifier)}`,
        { cause: error, ...unmappedImportHint(errorMessage(error)) },
      );
    }
    const kinds: JobKind[] = [];
    const schedules: ScheduleDefinition[] = [];
    const endpoints: EndpointDefinition[] = [];
    const seen = new Set<unknown>();
    const collect = (value: unknown) => {
      if (seen.has(value)) return;
      seen.add(value);
      if (isJobKind(value)) kinds.push(withJobOutput(value));
      else if (isSchedule(value)) schedules.push(value);
      else if (isEndpointDefinition(value)) endpoints.push(withEndpointOutput(value));
      else if (Array.isArray(value)) value.forEach(collect);
    };
    for (const value of Object.values(exports)) collect(value);
    if (kinds.length === 0 && schedules.length === 0 && endpoints.length === 0) {
      throw new LiminalError(
        "INVALID_JOB_MODULE",
        `job module ${specifier} exports no job kinds, schedules or endpoints`,
        {
          hint:
            'export the kinds made with defineJob: export const cleanup = defineJob({ kind: "cleanup", handler })',
        },
      );
    }
    loaded.push({ url, kinds, schedules, endpoints });
  }
  return loaded;
}
