export * from "./schedule.js";
export * from "./service.js";
