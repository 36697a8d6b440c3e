/** Prometheus metrics of a metadata service process (one registry per process). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { MetaMethod } from "../grpc/proto.js";

export interface MetaMetrics {
  registry: Registry;
  /** Hook for MetaGrpcServer `onCall`. */
  onCall(method: MetaMethod, code: string, seconds: number): void;
  /** Set from the service after recovery and on each commit where cheap. */
  version: Gauge;
  epoch: Gauge;
  recoverySeconds: Gauge;
}

export function createMetaMetrics(options: { defaultMetrics?: boolean } = {}): MetaMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "filespace_meta_process_" });
  const calls = new Counter({
    name: "filespace_meta_rpc_total",
    help: "Finished metadata RPCs by method and gRPC status",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "filespace_meta_rpc_seconds",
    help: "Metadata RPC latency by method",
    labelNames: ["method"],
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const version = new Gauge({
    name: "filespace_meta_version",
    help: "Last committed metadata version",
    registers: [registry],
  });
  const epoch = new Gauge({
    name: "filespace_meta_epoch",
    help: "Service epoch (bumps on restart)",
    registers: [registry],
  });
  const recoverySeconds = new Gauge({
    name: "filespace_meta_recovery_seconds",
    help: "Time the last start spent in recovery (checkpoint + journal replay)",
    registers: [registry],
  });
  return {
    registry,
    onCall(method, code, seconds) {
      calls.inc({ method, code });
      latency.observe({ method }, seconds);
    },
    version,
    epoch,
    recoverySeconds,
  };
}
