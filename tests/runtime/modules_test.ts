/**
 * Job modules outside the checkout: `import … from "liminal"` resolves through the runtime's
 * import map, with no deno.json of the module's own; a bare name only the module's project
 * could map is refused with a hint saying how to import it.
 */
import assert from "node:assert/strict";
import { loadJobModules } from "../../src/runtime/modules.ts";
import { isLiminalError } from "../../src/shared/errors.ts";

const CHECKOUT = new URL("../../", import.meta.url).pathname;

Deno.test('a job module outside the checkout imports from "liminal" and loads', async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-module-" });
  try {
    assert.ok(!dir.startsWith(CHECKOUT));
    await Deno.writeTextFile(
      `${dir}/my_jobs.ts`,
      'import { defineJob, defineSchedule } from "liminal";\n' +
        'export const hello = defineJob({ kind: "hello", handler: () => ({ ok: true }) });\n' +
        'export const often = defineSchedule({ name: "often", every: "1h", job: { kind: "hello" } });\n',
    );
    const [loaded] = await loadJobModules([`${dir}/my_jobs.ts`]);
    assert.deepEqual(loaded?.kinds.map((k) => k.kind), ["hello"]);
    assert.deepEqual(loaded?.schedules.map((s) => s.name), ["often"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bare import the runtime cannot map: INVALID_JOB_MODULE with a hint to use a full specifier", async () => {
  const dir = await Deno.makeTempDir({ prefix: "liminal-module-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, '{ "imports": { "zod": "npm:zod@4" } }');
    await Deno.writeTextFile(
      `${dir}/zod_jobs.ts`,
      'import { defineJob } from "liminal";\nimport { z } from "zod";\n' +
        'export const j = defineJob({ kind: "z", handler: () => void z });\n',
    );
    await assert.rejects(
      loadJobModules([`${dir}/zod_jobs.ts`]),
      (e) =>
        isLiminalError(e, "INVALID_JOB_MODULE") &&
        /cannot load job module .*zod_jobs\.ts/.test(e.message) &&
        /not your project's deno\.json: import "zod" by full specifier \(npm:zod/.test(
          e.hint ?? "",
        ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
