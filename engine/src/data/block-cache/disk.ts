/**
 * Persistent, size-bounded LRU of SEALED blocks (so the cache is encrypted at rest for free;
 * a hit costs one AEAD open in the reader).
 *
 * One file per RUN of consecutive sealed blocks, as they arrived in one range GET (layout and
 * crash safety: cache-dir.ts; index, recency and pinning: run-index.ts).
 * Why runs rather than a file per block: a cold stream writes one file per GET (4 MiB) instead of
 * 64, straight from the response buffer: no per-block copy, 64× fewer open/rename calls (a
 * quarter of the mount's CPU during a cold read went there; docs/benchmarks.md).
 * Eviction and resize are an unlink per run: no compaction, no slab fragmentation.
 *
 * Writes are off the critical path and bounded: at most `maxPendingWriteBytes` are being written
 * at once; beyond that a run is not cached (counted in `skipped`) rather than holding memory or
 * slowing the stream.
 */
import { unlink } from "node:fs/promises";
import { allocAligned, directCapacity, readFileRange } from "../direct-io.js";
import type { CachedRead } from "../run-source.js";
import { CacheDir } from "./cache-dir.js";
import { RunIndex } from "./run-index.js";
import { isSafeChunkId, type Run, runName } from "./run-name.js";

/** A located range of cached blocks (see `CachedRead`), and the run file it lies in. */
export interface CachedRange extends CachedRead {
  run: Run;
}

export interface DiskCacheStats {
  bytes: number;
  blocks: number;
  /** Run files (one per cached GET). */
  runs: number;
  pinnedBytes: number;
  pinnedBlocks: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Runs dropped because a block of theirs was torn or failed authentication. */
  dropped: number;
  /** Runs not cached because too many bytes were already being written. */
  skipped: number;
  pendingWriteBytes: number;
}

export interface DiskCacheOptions {
  /**
   * Bytes being written at once before further runs are skipped (default 64 MiB: a second of a
   * slow disk at a fast link's rate; each pending run also holds its GET buffer).
   */
  maxPendingWriteBytes?: number;
}

export class DiskBlockCache {
  private readonly index = new RunIndex();
  private pendingWriteBytes = 0;
  private stats = { hits: 0, misses: 0, evictions: 0, dropped: 0, skipped: 0 };
  private readonly writes = new Set<Promise<unknown>>();
  private readonly maxPendingWriteBytes: number;

  private constructor(
    private readonly files: CacheDir,
    private maxBytes: number,
    options: DiskCacheOptions,
  ) {
    this.maxPendingWriteBytes = options.maxPendingWriteBytes ?? 64 * 1024 * 1024;
  }

  get dir(): string {
    return this.files.dir;
  }

  /** Open (or create) a cache directory and rebuild its index from the listing. */
  static async open(dir: string, maxBytes: number, options: DiskCacheOptions = {}): Promise<DiskBlockCache> {
    const files = await CacheDir.prepare(dir);
    const cache = new DiskBlockCache(files, maxBytes, options);
    cache.index.setPinned(await files.loadPins(), true);
    for (const run of await files.listRuns()) cache.index.insert(run);
    cache.evict();
    return cache;
  }

  has(chunkId: string, block: number): boolean {
    return this.index.runOf(chunkId, block) !== undefined;
  }

  /** The sealed block, or undefined on a miss (a missing or torn file is a miss and is dropped). */
  async get(chunkId: string, block: number): Promise<Buffer | undefined> {
    return (await this.getMany(chunkId, [block]))[0];
  }

  /**
   * Sealed blocks of one chunk, in the order asked (undefined = miss). Consecutive blocks that
   * live in the same run file are read with one open and one read (a warm re-read of a 4 MiB
   * run is one read, not 64).
   */
  async getMany(chunkId: string, blocks: readonly number[]): Promise<Array<Buffer | undefined>> {
    const out = new Array<Buffer | undefined>(blocks.length).fill(undefined);
    const at = new Map(blocks.map((b, i) => [b, i]));
    await Promise.all(
      this.locate(chunkId, blocks).map(async (r) => {
        const data = await readFileRange(r.file, r.offset, allocAligned(directCapacity(r.length)), r.length).catch(
          () => undefined,
        );
        const ok = data?.length === r.length;
        this.readDone(r, ok);
        if (!data || !ok) return;
        for (let k = 0; k < r.count; k++)
          out[at.get(r.first + k)!] = data.subarray(k * r.stride, Math.min(r.length, (k + 1) * r.stride));
      }),
    );
    return out;
  }

  /**
   * Where consecutive cached blocks of one chunk lie, for a reader that reads and opens them
   * itself (a fetch worker): one range per run file, blocks in the order asked; blocks not
   * found are counted as misses and left out. Report each range's outcome with `readDone`.
   */
  locate(chunkId: string, blocks: readonly number[]): CachedRange[] {
    const out: CachedRange[] = [];
    for (const b of blocks) {
      const r = this.index.runOf(chunkId, b);
      if (!r) {
        this.stats.misses++;
        continue;
      }
      const last = out[out.length - 1];
      if (last && last.run === r && last.first + last.count === b) {
        last.count++;
        last.length = Math.min(r.size, (b - r.first + 1) * r.stride) - last.offset;
        continue;
      }
      this.index.touch(r);
      const offset = (b - r.first) * r.stride;
      out.push({
        run: r,
        file: this.files.fileOf(r),
        offset,
        length: Math.min(r.size, offset + r.stride) - offset,
        stride: r.stride,
        first: b,
        count: 1,
      });
    }
    return out;
  }

  /** A located range was read whole (hits) or could not be (the run is dropped: misses). */
  readDone(range: CachedRange, ok: boolean): void {
    if (ok) this.stats.hits += range.count;
    else {
      this.dropRun(range.run);
      this.stats.misses += range.count;
    }
  }

  /** Store one sealed block. Errors (disk full, ...) only lose the cache entry, never fail a read. */
  put(chunkId: string, block: number, sealed: Buffer): Promise<boolean> {
    return this.putRun(chunkId, block, 1, sealed.length, sealed);
  }

  /**
   * Store `count` consecutive sealed blocks from `first`, laid out every `stride` bytes in
   * `sealed` (a view of a GET response). Resolves true when written, false when skipped or
   * failed; the caller may reuse `sealed` once it resolves.
   */
  putRun(chunkId: string, first: number, count: number, stride: number, sealed: Buffer): Promise<boolean> {
    const shapeOk = count >= 1 && sealed.length > (count - 1) * stride && sealed.length <= count * stride;
    if (!isSafeChunkId(chunkId) || !shapeOk) return Promise.resolve(false);
    let cached = 0;
    for (let b = first; b < first + count; b++) if (this.has(chunkId, b)) cached++;
    if (cached === count) return Promise.resolve(false);
    if (this.pendingWriteBytes + sealed.length > this.maxPendingWriteBytes) {
      this.stats.skipped++;
      return Promise.resolve(false);
    }
    this.pendingWriteBytes += sealed.length;
    const run: Run = {
      chunkId,
      first,
      count,
      stride,
      size: sealed.length,
      name: runName(chunkId, first, count, stride, sealed.length),
    };
    const write = this.write(run, sealed).finally(() => {
      this.pendingWriteBytes -= sealed.length;
      this.writes.delete(write);
    });
    this.writes.add(write);
    return write;
  }

  /** Wait for block writes in progress (unmount). */
  async close(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }

  private async write(run: Run, sealed: Buffer): Promise<boolean> {
    try {
      await this.files.writeRun(run, sealed);
    } catch {
      return false;
    }
    if (this.index.holds(run.name)) return true;
    this.index.insert(run);
    this.evict();
    return true;
  }

  /** Forget a block whose content failed authentication (torn by a crash, or tampered with). */
  drop(chunkId: string, block: number): void {
    const r = this.index.runOf(chunkId, block);
    if (r) this.dropRun(r);
  }

  private dropRun(r: Run): void {
    if (!this.index.remove(r)) return;
    this.stats.dropped++;
    unlink(this.files.fileOf(r)).catch(() => {});
  }

  /** Change the bound while mounted; shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  private evict(): void {
    for (const r of this.index.evict(this.maxBytes)) {
      this.stats.evictions++;
      unlink(this.files.fileOf(r)).catch(() => {});
    }
  }

  /** Keep these chunks' blocks whatever the pressure (pinned paths, resolved to chunks by the VFS). */
  async pin(chunkIds: Iterable<string>): Promise<void> {
    this.index.setPinned(chunkIds, true);
    await this.files.savePins(this.index.pinnedChunkIds());
  }

  async unpin(chunkIds: Iterable<string>): Promise<void> {
    this.index.setPinned(chunkIds, false);
    this.evict();
    await this.files.savePins(this.index.pinnedChunkIds());
  }

  isPinned(chunkId: string): boolean {
    return this.index.isPinned(chunkId);
  }

  getStats(): DiskCacheStats {
    return {
      ...this.index.totals(),
      maxBytes: this.maxBytes,
      pendingWriteBytes: this.pendingWriteBytes,
      ...this.stats,
    };
  }
}
