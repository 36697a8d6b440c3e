/**
 * Garbage collection of chunks: delete chunk objects that nothing references and that are
 * older than a grace period.
 *
 * Why it never deletes an in-flight upload: writers upload a chunk first and commit its extent
 * afterwards, so for a while a chunk exists that no file references. GC
 *   1. lists `chunks/` first (what exists, and since when — the store's lastModified),
 *   2. only then asks for the referenced set (live files, snapshots, open handles),
 *   3. deletes a listed chunk only if it is unreferenced *and* older than `graceMs`.
 * A chunk committed before step 2 is in the set; one committed after step 2 was uploaded within
 * the grace period unless its writer held it uncommitted longer than `graceMs`. That is the
 * contract writers must keep: an upload not committed within the grace period (minus clock skew
 * between the store and this host) must be re-uploaded under a new id, never committed late.
 */
import type { ObjectStore } from "../../object/types.js";
import { forEachLimit, listChunks } from "./chunks.js";

export interface GcOptions {
  store: ObjectStore;
  /** Every chunk id still needed. Called after the listing (see above). */
  referenced: () => Promise<Iterable<string>> | Iterable<string>;
  /** Unreferenced chunks younger than this are kept (uploads not yet committed). Default 1 hour. */
  graceMs?: number;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Filespace prefix in the store ("" when the store is already scoped). */
  prefix?: string;
  /** Parallel deletes. Default 8. */
  concurrency?: number;
  now?: () => number;
  signal?: AbortSignal;
}

export interface GcReport {
  dryRun: boolean;
  /** Chunk objects listed. */
  scanned: number;
  scannedBytes: number;
  /** Listed and referenced. */
  live: number;
  /** Unreferenced but younger than the grace period (kept). */
  young: number;
  youngBytes: number;
  /** Deleted (or, in a dry run, would be). */
  deleted: number;
  deletedBytes: number;
  deletedIds: string[];
  /** Objects under chunks/ not following the layout (kept, reported). */
  foreign: string[];
  /** Deletes that failed (the next run retries them). */
  errors: { id: string; error: string }[];
  durationMs: number;
}

export async function collectGarbage(options: GcOptions): Promise<GcReport> {
  const started = performance.now();
  const now = (options.now ?? Date.now)();
  const graceMs = options.graceMs ?? 60 * 60_000;
  const { chunks, foreign } = await listChunks(options.store, {
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const referenced = new Set(await options.referenced());
  const report: GcReport = {
    dryRun: options.dryRun ?? false,
    scanned: chunks.length,
    scannedBytes: 0,
    live: 0,
    young: 0,
    youngBytes: 0,
    deleted: 0,
    deletedBytes: 0,
    deletedIds: [],
    foreign: foreign.map((o) => o.key),
    errors: [],
    durationMs: 0,
  };
  const doomed = [];
  for (const c of chunks) {
    report.scannedBytes += c.size;
    if (referenced.has(c.id)) report.live++;
    else if (now - c.lastModified.getTime() < graceMs) {
      report.young++;
      report.youngBytes += c.size;
    } else doomed.push(c);
  }
  await forEachLimit(doomed, options.concurrency ?? 8, async (c) => {
    try {
      if (!report.dryRun) await options.store.delete(c.key, options.signal ? { signal: options.signal } : {});
      report.deleted++;
      report.deletedBytes += c.size;
      report.deletedIds.push(c.id);
    } catch (err) {
      report.errors.push({ id: c.id, error: (err as Error)?.message ?? String(err) });
    }
  });
  report.deletedIds.sort();
  report.durationMs = performance.now() - started;
  return report;
}
