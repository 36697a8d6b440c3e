export * from "./atrest.js";
export * from "./chunk.js";
export * from "./errors.js";
export * from "./keyring.js";
export * from "./names.js";
export * from "./slots.js";
export * from "./writeback-log-key.js";
