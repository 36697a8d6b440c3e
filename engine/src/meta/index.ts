export * from "./api.js";
export * from "./errors.js";
export type * from "./replication.js";
