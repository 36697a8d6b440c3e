export { OpsServer, type OpsServerOptions, type ProbeState } from "./http.js";
export { createMetaMetrics, type MetaMetrics } from "./metrics.js";
