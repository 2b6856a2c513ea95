/**
 * liminal's version, from `deno.json`.
 *
 * @module
 */
import config from "../../deno.json" with { type: "json" };

/** The version of this liminal. */
export const VERSION: string = config.version;
