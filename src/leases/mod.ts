/**
 * Territory leases: exclusive, expiring claims on named resources.
 *
 * @module
 */
export {
  type LeaseEventMap,
  type LeaseRequest,
  overlaps,
  TerritoryLeases,
  type TerritoryLeasesOptions,
} from "./territory_leases.ts";
