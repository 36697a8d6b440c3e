export * from "./offline.js";
export * from "./scheduler.js";
