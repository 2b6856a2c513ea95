/**
 * Migration 3: a job that failed and will not run again is `dead`. Older versions left a job
 * whose handler threw `PermanentJobError` in a `failed` state; it moves to `dead`, where
 * `jobs --state dead`, `retry` and the retention find it (`failed` is now only an attempt's
 * outcome). Nothing else about the job changes.
 *
 * @module
 */

/** The SQL of migration 3. */
export const sql = `
UPDATE jobs SET state = 'dead' WHERE state = 'failed';
`;
