export * from "./compaction.js";
export * from "./offline.js";
export * from "./scheduler.js";
