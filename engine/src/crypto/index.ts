export * from "./atrest.js";
export * from "./errors.js";
