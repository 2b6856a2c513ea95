/**
 * The dashboard's job detail masks the values of a payload's `env` (always: the dashboard
 * has no reveal key; `liminal jobs show --reveal` shows them).
 */
import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { JobDetail } from "../../src/tui/JobDetail.tsx";
import { job } from "./_fixtures.ts";

Deno.test("JobDetail: env values of the payload are masked, the rest is shown", () => {
  const instance = render(
    <JobDetail
      job={job("j1", {
        kind: "command",
        payload: { cmd: ["pg_dump", "app"], env: { PGPASSWORD: "s3cret-value" } },
      })}
      rows={30}
    />,
  );
  const out = instance.lastFrame() ?? "";
  instance.unmount();
  assert.match(out, /"cmd":\["pg_dump","app"\]/);
  assert.match(out, /"env":\{"PGPASSWORD":"\*\*\*"\}/);
  assert.doesNotMatch(out, /s3cret/);
});
