export * from "./crypto/index.js";
export * from "./object/index.js";
