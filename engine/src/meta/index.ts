export * from "./access/index.js";
export * from "./api.js";
export * from "./errors.js";
export * from "./namespace/index.js";
export type * from "./replication.js";
export * from "./service/index.js";
