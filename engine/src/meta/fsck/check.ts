/**
 * `filespace fsck` for chunk data: every referenced chunk exists and authenticates, every
 * extent range lies inside its chunk, and nothing unreferenced lingers (orphans; removed only
 * with `removeOrphans`, and never while younger than the grace period — it may be an upload
 * whose commit is still coming, see gc/collect.ts).
 *
 * Authentication is a callback so this module needs no data key: the caller (who holds the
 * keyring) passes `ChunkCodec.open`, returning the plaintext length.
 */
import type { ObjectStore } from "../../object/types.js";
import { forEachLimit, type ListedChunk, listChunks } from "../gc/chunks.js";

export interface ChunkReference {
  chunkId: string;
  /** Plaintext ranges of the chunk that extents use (offset in chunk, length). */
  ranges: { offset: number; length: number }[];
}

export interface FsckOptions {
  store: ObjectStore;
  /** Every chunk referenced by the live tree, snapshots and open handles, with the ranges used. */
  references: Iterable<ChunkReference> | AsyncIterable<ChunkReference>;
  /**
   * Open a whole sealed chunk; throw if it does not authenticate. Returning the plaintext length
   * lets fsck check extent ranges. Omit to check existence and size only (no download).
   */
  authenticate?: (chunkId: string, sealed: Buffer) => Promise<number | undefined> | number | undefined;
  /** Delete orphans older than the grace period. */
  removeOrphans?: boolean;
  /** Default 1 hour. */
  graceMs?: number;
  prefix?: string;
  /** Parallel downloads. Default 4. */
  concurrency?: number;
  now?: () => number;
}

export interface FsckReport {
  referencedChunks: number;
  checkedChunks: number;
  checkedBytes: number;
  /** Referenced but absent from the store. */
  missing: string[];
  /** Present but failing authentication (tampered, truncated, wrong key). */
  corrupt: { chunkId: string; error: string }[];
  /** An extent range past the end of its chunk's plaintext. */
  outOfRange: { chunkId: string; offset: number; length: number; chunkLength: number }[];
  /** Present, unreferenced, older than the grace period. */
  orphans: { chunkId: string; key: string; size: number }[];
  orphanBytes: number;
  orphansRemoved: number;
  /** Unreferenced but young: probably uploads about to be committed. */
  pending: number;
  /** Objects under chunks/ not following the layout. */
  foreign: string[];
  /** No missing, corrupt or out-of-range chunk (orphans are waste, not damage). */
  healthy: boolean;
}

export async function checkChunks(options: FsckOptions): Promise<FsckReport> {
  const now = (options.now ?? Date.now)();
  const graceMs = options.graceMs ?? 60 * 60_000;
  const { chunks, foreign } = await listChunks(options.store, {
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
  });
  const present = new Map<string, ListedChunk>(chunks.map((c) => [c.id, c]));
  const refs = new Map<string, ChunkReference["ranges"]>();
  for await (const r of options.references) {
    const ranges = refs.get(r.chunkId);
    if (ranges) ranges.push(...r.ranges);
    else refs.set(r.chunkId, [...r.ranges]);
  }
  const report: FsckReport = {
    referencedChunks: refs.size,
    checkedChunks: 0,
    checkedBytes: 0,
    missing: [],
    corrupt: [],
    outOfRange: [],
    orphans: [],
    orphanBytes: 0,
    orphansRemoved: 0,
    pending: 0,
    foreign: foreign.map((o) => o.key),
    healthy: true,
  };

  const toCheck = [...refs].flatMap(([id, ranges]) => {
    const listed = present.get(id);
    if (!listed) report.missing.push(id);
    return listed ? [{ listed, ranges }] : [];
  });
  await forEachLimit(toCheck, options.concurrency ?? 4, async ({ listed, ranges }) => {
    report.checkedChunks++;
    report.checkedBytes += listed.size;
    if (!options.authenticate) return;
    let length: number | undefined;
    try {
      length = (await options.authenticate(listed.id, await options.store.get(listed.key))) ?? undefined;
    } catch (err) {
      report.corrupt.push({ chunkId: listed.id, error: (err as Error)?.message ?? String(err) });
      return;
    }
    if (length === undefined) return;
    for (const r of ranges) {
      if (r.offset < 0 || r.length < 0 || r.offset + r.length > length) {
        report.outOfRange.push({ chunkId: listed.id, offset: r.offset, length: r.length, chunkLength: length });
      }
    }
  });

  for (const c of chunks) {
    if (refs.has(c.id)) continue;
    if (now - c.lastModified.getTime() < graceMs) {
      report.pending++;
      continue;
    }
    report.orphans.push({ chunkId: c.id, key: c.key, size: c.size });
    report.orphanBytes += c.size;
  }
  if (options.removeOrphans) {
    await forEachLimit(report.orphans, options.concurrency ?? 4, async (o) => {
      await options.store.delete(o.key);
      report.orphansRemoved++;
    });
  }
  report.missing.sort();
  report.corrupt.sort((a, b) => a.chunkId.localeCompare(b.chunkId));
  report.orphans.sort((a, b) => a.chunkId.localeCompare(b.chunkId));
  report.healthy = report.missing.length === 0 && report.corrupt.length === 0 && report.outOfRange.length === 0;
  return report;
}
