export * from "./errors.js";
export {
  type Fault,
  type FaultRule,
  FaultyObjectStore,
  type FaultyOptions,
  faulty,
  type InjectedFault,
  mulberry32,
} from "./faulty.js";
export { FileObjectStore, type FileObjectStoreOptions } from "./fs.js";
export { mapStoreError } from "./http-errors.js";
export { assertValidKey, compareKeys } from "./keys.js";
export { LatencyObjectStore, type LatencyOptions, SimulatedLink, withLatency } from "./latency.js";
export { MemoryObjectStore } from "./memory.js";
export {
  MeteredObjectStore,
  type MeterSnapshot,
  metered,
  OBJECT_OPS,
  type ObjectOp,
  type OpCounters,
} from "./metered.js";
export {
  type OpenObjectStoreOptions,
  registeredSchemes,
  registerObjectStoreScheme,
  type SchemeOpener,
} from "./registry.js";
export { backoffDelay, type RetryEvent, RetryingObjectStore, type RetryOptions, withRetry } from "./retry.js";
export type * from "./types.js";
export { openObjectStore } from "./url.js";
