export { extentsInRange, overlay, truncateExtents } from "./extents.js";
export { Namespace, REMEMBERED_REQUESTS } from "./machine.js";
export type { NsRecord } from "./records.js";
