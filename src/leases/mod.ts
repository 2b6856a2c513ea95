/**
 * Territory leases: exclusive, expiring claims on named resources.
 *
 * @module
 */
export {
  type LeaseEventMap,
  LeaseManager,
  type LeaseManagerOptions,
  type LeaseRequest,
  overlaps,
} from "./lease_manager.ts";
