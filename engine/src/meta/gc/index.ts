export * from "./chunks.js";
export * from "./collect.js";
