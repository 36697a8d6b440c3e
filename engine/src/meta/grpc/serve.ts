/**
 * One metadata service process, wired: object store → lease + recovery (durable layer) →
 * MetaService → gRPC server (+ optional ops HTTP endpoint). Used by `filespace meta serve`
 * and by bench/meta.mjs.
 *
 * Start-up refuses while another live service holds the filespace (ServiceAlreadyRunningError).
 * With `takeover`, an *expired* lease (its holder crashed) is taken; a lease that is fresh is
 * waited on for up to `takeoverWaitMs` — a crashed holder's lease runs out, a live holder keeps
 * renewing it and we refuse. That is what a restarted pod needs after a SIGKILL.
 *
 * Stop (SIGTERM): readiness goes false, gRPC drains (clients retry against the successor), the
 * service and journal close (checkpoint on close), the lease is released so the next start needs
 * no takeover.
 */
import { AtRestCipher } from "../../crypto/atrest.js";
import { hkdf } from "../../crypto/keyring.js";
import type { ObjectStore } from "../../object/types.js";
import { ServiceAlreadyRunningError } from "../durable/errors.js";
import type { JournalOptions } from "../durable/journal.js";
import { type DurableMeta, openDurableMeta } from "../durable/open.js";
import { type Maintenance, type MaintenanceOptions, startMaintenance } from "../maintenance/scheduler.js";
import { Namespace } from "../namespace/machine.js";
import type { NsRecord } from "../namespace/records.js";
import { OpsServer } from "../ops/http.js";
import { createMetaMetrics, type MetaMetrics } from "../ops/metrics.js";
import type { SchedulePolicy } from "../service/schedule.js";
import { MetaService } from "../service/service.js";
import { MetaGrpcServer, type TlsFiles } from "./server.js";

/** The key that signs access tokens, derived one-way from the service's at-rest key. */
export function deriveAccessTokenKey(metaKey: Buffer): Buffer {
  return hkdf(metaKey, Buffer.alloc(0), "filespaces meta access-token key v1");
}

export interface MetaServerProcessOptions {
  store: ObjectStore;
  /** The service's 32-byte at-rest key (`filespace key meta-key`). */
  metaKey: Buffer;
  /** gRPC "host:port". */
  listen: string;
  /** Ops HTTP "host:port" (/healthz /readyz /metrics); omit for none. */
  http?: string;
  tls?: TlsFiles;
  prefix?: string;
  /** Local cache directory for journal/checkpoint objects (only a cache). */
  cacheDir?: string;
  /** Take over an expired lease (waiting up to `takeoverWaitMs` for a fresh one to expire). */
  takeover?: boolean;
  takeoverWaitMs?: number;
  leaseTtlMs?: number;
  journal?: JournalOptions;
  schedule?: readonly SchedulePolicy[];
  /** Chunk GC on a schedule (default on: every 6 h, 1 h grace); `false` turns it off. */
  gc?: Pick<MaintenanceOptions, "intervalMs" | "firstRunDelayMs" | "graceMs" | "dryRun"> | false;
  log?: (line: string) => void;
}

export interface RunningMetaServer {
  service: MetaService;
  grpc: MetaGrpcServer;
  ops: OpsServer | undefined;
  metrics: MetaMetrics;
  durable: DurableMeta<Namespace, NsRecord>;
  /** The GC scheduler (undefined when `gc: false`). */
  maintenance: Maintenance | undefined;
  /** Milliseconds spent from lease to serving (recovery). */
  startupMs: number;
  /** Settles when the journal fails for good (fenced, store failure): the process should exit. */
  failed: Promise<Error>;
  /** Drain and release the lease. */
  stop(graceMs?: number): Promise<void>;
}

async function openWithTakeover(options: MetaServerProcessOptions, onFailure: (err: Error) => void) {
  const ttlMs = options.leaseTtlMs ?? 30_000;
  const giveUpAt = Date.now() + (options.takeoverWaitMs ?? 2 * ttlMs + 1000);
  for (;;) {
    try {
      return await openDurableMeta<NsRecord, Namespace>({
        store: options.store,
        cipher: new AtRestCipher(options.metaKey),
        restore: (image) => (image ? Namespace.importImage(image) : new Namespace()),
        prefix: options.prefix ?? "",
        ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
        lease: { ttlMs, takeover: options.takeover ?? false },
        onFailure,
        ...options.journal,
      });
    } catch (err) {
      const waitable = err instanceof ServiceAlreadyRunningError && !err.expired && options.takeover;
      if (!waitable || Date.now() > giveUpAt) throw err;
      options.log?.(`lease held by ${err.holder.host} pid ${err.holder.pid}; waiting for it to expire`);
      await new Promise((r) => setTimeout(r, Math.min(1000, ttlMs / 3)));
    }
  }
}

export async function startMetaServer(options: MetaServerProcessOptions): Promise<RunningMetaServer> {
  const t0 = performance.now();
  let reportFailure!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  let failure: Error | undefined;
  const onFailure = (err: Error) => {
    failure ??= err;
    reportFailure(err);
  };
  const durable = await openWithTakeover(options, onFailure);
  const startupMs = performance.now() - t0;
  const service = new MetaService({
    journal: durable.journal,
    tokenKey: deriveAccessTokenKey(options.metaKey),
    namespace: durable.machine,
    epoch: durable.epoch,
    timers: true,
    ...(options.schedule ? { schedule: options.schedule } : {}),
  });
  const metrics = createMetaMetrics();
  metrics.epoch.set(durable.epoch);
  metrics.recoverySeconds.set(startupMs / 1000);
  metrics.version.set(durable.machine.version);
  let serving = false;
  let grpc: MetaGrpcServer;
  try {
    grpc = await MetaGrpcServer.start({
      api: service,
      listen: options.listen,
      ...(options.tls ? { tls: options.tls } : {}),
      onCall: (method, code, seconds) => {
        metrics.onCall(method, code, seconds);
        metrics.version.set(durable.machine.version);
      },
    });
  } catch (err) {
    await service.close();
    await durable.journal.close().catch(() => undefined);
    await durable.lease.release().catch(() => undefined);
    throw err;
  }
  serving = true;
  const ops = options.http
    ? await OpsServer.start({
        listen: options.http,
        registry: metrics.registry,
        health: () => (failure ? { ok: false, reason: failure.message } : { ok: true }),
        ready: () =>
          failure
            ? { ok: false, reason: failure.message }
            : serving
              ? { ok: true }
              : { ok: false, reason: "not serving (starting or draining)" },
      })
    : undefined;
  const maintenance =
    options.gc === false
      ? undefined
      : startMaintenance({
          ...options.gc,
          store: options.store,
          prefix: options.prefix ?? "",
          // A fenced (zombie) instance must not collect with its stale view: check the lease first.
          referenced: async () => {
            await durable.lease.verify();
            return durable.machine.chunkReferences();
          },
          registry: metrics.registry,
          ...(options.log ? { log: options.log } : {}),
        });
  void failed.then(() => maintenance?.stop());
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000): Promise<void> => {
    stopping ??= (async () => {
      serving = false;
      await maintenance?.stop();
      await grpc.drain(graceMs);
      await service.close();
      if (!failure) {
        await durable.journal.close();
        await durable.lease.release();
      } else {
        durable.lease.stopRenewing();
      }
      await ops?.close();
    })();
    return stopping;
  };
  return { service, grpc, ops, metrics, durable, maintenance, startupMs, failed, stop };
}
