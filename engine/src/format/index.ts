export * from "./errors.js";
export * from "./filespace.js";
export * from "./header.js";
