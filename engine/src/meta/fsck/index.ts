export * from "./check.js";
export * from "./meta.js";
