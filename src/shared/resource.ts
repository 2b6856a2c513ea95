/**
 * Territory resource names (`db/orders`, `files/uploads/*`) and when two overlap.
 *
 * @module
 */

/**
 * Whether two resource names overlap: equal, or one ends in `/*` and the other lies under it
 * (`files/uploads/*` overlaps `files/uploads/a.png`, and the reverse).
 */
export function overlaps(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.endsWith("/*") && b.startsWith(a.slice(0, -1))) return true;
  if (b.endsWith("/*") && a.startsWith(b.slice(0, -1))) return true;
  return false;
}
