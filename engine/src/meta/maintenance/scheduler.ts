/**
 * Periodic chunk garbage collection inside the process that owns the metadata (`meta serve`, or
 * a mount running the embedded service).
 *
 * Runs never overlap: the next run is armed only after the previous one settled, and `runNow`
 * joins a run in flight instead of starting a second one (two concurrent runs would not be
 * unsafe — GC is idempotent — but they would double the listing cost and confuse the report).
 * `stop` disarms the timer, aborts a run in flight and waits for it, so a closing service never
 * has GC deleting behind its back. Safety against in-flight uploads is collectGarbage's grace
 * period (see gc/collect.ts); this module only decides *when*.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ObjectStore } from "../../object/types.js";
import { collectGarbage, type GcReport } from "../gc/collect.js";

/** Default period between GC runs: chunks of deleted files go within about a day at worst. */
export const DEFAULT_GC_INTERVAL_MS = 6 * 60 * 60_000;
/** Default grace: an upload must be committed within this long (see gc/collect.ts). */
export const DEFAULT_GC_GRACE_MS = 60 * 60_000;

export interface MaintenanceOptions {
  store: ObjectStore;
  /** Every chunk id still needed (live files, snapshots, open handles); e.g. `() => ns.chunkReferences()`. */
  referenced: () => Promise<Iterable<string>> | Iterable<string>;
  /** Time between the end of one run and the start of the next. Default 6 h. */
  intervalMs?: number;
  /** Delay before the first run (lets recovery traffic settle). Default: min(interval, 5 min). */
  firstRunDelayMs?: number;
  /** Unreferenced chunks younger than this are kept. Default 1 h. */
  graceMs?: number;
  /** Report only; delete nothing. */
  dryRun?: boolean;
  prefix?: string;
  /** Register `filespace_gc_*` metrics here (the service's registry). */
  registry?: Registry;
  log?: (line: string) => void;
  /** Called after every run (tests, status pages). */
  onReport?: (report: GcReport) => void;
}

export interface MaintenanceStats {
  runs: number;
  failures: number;
  /** Timer firings skipped because a run (started with runNow) was still going. */
  skipped: number;
  lastReport: GcReport | undefined;
  lastError: string | undefined;
}

export interface Maintenance {
  /** Run GC now (or join the run in flight). */
  runNow(): Promise<GcReport>;
  /** Disarm, abort a run in flight, wait for it. Idempotent. */
  stop(): Promise<void>;
  readonly stats: Readonly<MaintenanceStats>;
}

/** Positive safe integer milliseconds, or a clear error naming the option. */
function checkMs(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new RangeError(`${name}: expected a non-negative integer number of milliseconds, got ${value}`);
  }
}

export function startMaintenance(options: MaintenanceOptions): Maintenance {
  checkMs("intervalMs", options.intervalMs);
  checkMs("firstRunDelayMs", options.firstRunDelayMs);
  checkMs("graceMs", options.graceMs);
  const intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_GC_INTERVAL_MS);
  const graceMs = options.graceMs ?? DEFAULT_GC_GRACE_MS;
  const log = options.log ?? (() => undefined);
  const metrics = options.registry ? gcMetrics(options.registry) : undefined;
  const stats: MaintenanceStats = { runs: 0, failures: 0, skipped: 0, lastReport: undefined, lastError: undefined };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<GcReport> | undefined;
  let abort: AbortController | undefined;
  let stopped = false;

  const run = (): Promise<GcReport> => {
    if (running) return running;
    if (stopped) return Promise.reject(new Error("maintenance is stopped"));
    abort = new AbortController();
    const signal = abort.signal;
    running = (async () => {
      try {
        const report = await collectGarbage({
          store: options.store,
          referenced: options.referenced,
          graceMs,
          dryRun: options.dryRun ?? false,
          signal,
          ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
        });
        stats.runs++;
        stats.lastReport = report;
        stats.lastError = undefined;
        metrics?.observe(report);
        log(
          `gc: ${report.dryRun ? "would delete" : "deleted"} ${report.deleted} chunk(s) (${report.deletedBytes} B) of ` +
            `${report.scanned} scanned; ${report.live} live, ${report.young} young (grace ${graceMs} ms)` +
            `${report.errors.length ? `, ${report.errors.length} delete error(s)` : ""} in ${Math.round(report.durationMs)} ms`,
        );
        options.onReport?.(report);
        return report;
      } catch (err) {
        stats.failures++;
        stats.lastError = (err as Error)?.message ?? String(err);
        metrics?.failures.inc();
        if (!signal.aborted) log(`gc: run failed: ${stats.lastError}`);
        throw err;
      } finally {
        running = undefined;
        abort = undefined;
      }
    })();
    return running;
  };

  const arm = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (running) {
        stats.skipped++;
        void running.catch(() => undefined).then(() => arm(intervalMs));
        return;
      }
      // Failures are counted and logged in run(); the schedule goes on.
      void run()
        .catch(() => undefined)
        .then(() => arm(intervalMs));
    }, delayMs);
    timer.unref();
  };
  arm(options.firstRunDelayMs ?? Math.min(intervalMs, 5 * 60_000));

  return {
    runNow: run,
    stats,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      abort?.abort(new Error("maintenance stopped"));
      await running?.catch(() => undefined);
    },
  };
}

function gcMetrics(registry: Registry) {
  const runs = new Counter({ name: "filespace_gc_runs_total", help: "Finished GC runs", registers: [registry] });
  const failures = new Counter({ name: "filespace_gc_failures_total", help: "Failed GC runs", registers: [registry] });
  const deleted = new Counter({
    name: "filespace_gc_deleted_chunks_total",
    help: "Chunks deleted by GC",
    registers: [registry],
  });
  const deletedBytes = new Counter({
    name: "filespace_gc_deleted_bytes_total",
    help: "Stored bytes deleted by GC",
    registers: [registry],
  });
  const young = new Gauge({
    name: "filespace_gc_young_chunks",
    help: "Unreferenced chunks kept by the grace period in the last run",
    registers: [registry],
  });
  const lastRun = new Gauge({
    name: "filespace_gc_last_run_timestamp_seconds",
    help: "When the last GC run finished",
    registers: [registry],
  });
  const duration = new Gauge({
    name: "filespace_gc_last_duration_seconds",
    help: "Duration of the last GC run",
    registers: [registry],
  });
  return {
    failures,
    observe(r: GcReport) {
      runs.inc();
      if (!r.dryRun) {
        deleted.inc(r.deleted);
        deletedBytes.inc(r.deletedBytes);
      }
      young.set(r.young);
      lastRun.set(Date.now() / 1000);
      duration.set(r.durationMs / 1000);
    },
  };
}
