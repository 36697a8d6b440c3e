export * from "./core.js";
export * from "./schedule.js";
export * from "./service.js";
