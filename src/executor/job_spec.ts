/**
 * Job specs: what a caller asks to run. They are shared vocabulary (the control API parses
 * them too), so they live in `src/shared/job_spec.ts`; this module keeps the executor's name.
 *
 * @module
 */
export {
  type EnqueueResult,
  type JobSpec,
  MAX_RESOURCE_LENGTH,
  parseJobSpec,
  parseLeaseList,
  parseResource,
  parseRunAt,
} from "../shared/job_spec.ts";
