/**
 * Persistent, size-bounded LRU of SEALED blocks (so the cache is encrypted at rest for free;
 * a hit costs one AEAD open in the reader).
 *
 * Layout: one file per RUN of consecutive sealed blocks of one chunk, as they arrived in one
 * range GET: `<dir>/blocks/<first 2 chars of chunk id>/<chunkId>.<first>.<count>x<stride>.<bytes>`
 * (block `first + i` lies at byte `i * stride`; only the last block may be shorter). Written to
 * `<dir>/tmp/` and renamed into place. Files named `<chunkId>.<block>.<bytes>` (one block, the
 * previous layout) are still read.
 * Why runs rather than a file per block: a cold stream writes one file per GET (4 MiB) instead of
 * 64, straight from the response buffer: no per-block copy, 64× fewer open/rename calls (a
 * quarter of the mount's CPU during a cold read went there; docs/benchmarks.md).
 * - Eviction and resize are an unlink per run: no compaction, no slab fragmentation.
 * - The index is rebuilt at start from directory listings alone: the name carries the key and the
 *   sizes, so no stat and no file read per file.
 * - Crash safety needs no journal: a rename is atomic; a file torn by a power loss keeps its name,
 *   but a block of it fails AEAD in the reader (or the file is shorter than its name says), and
 *   the whole run is dropped.
 * - A block already cached in another run may be written again (concurrent fetches); the index
 *   points at the newest run, and evicting the older run leaves the newer pointer alone.
 *
 * Writes are off the critical path and bounded: at most `maxPendingWriteBytes` are being written
 * at once; beyond that a run is not cached (counted in `skipped`) rather than holding memory or
 * slowing the stream. Recency is an insertion-ordered Map of runs (touch = delete + set); after a
 * restart the order is the listing order. Pinned chunks' runs live in a separate map that
 * eviction never looks at; pins persist in `<dir>/pins.json`.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { allocAligned, directCapacity, readFileRange, writeWholeFile } from "../direct-io.js";
import type { CachedRead } from "../run-source.js";
import { blockKey } from "../types.js";
import { isSafeChunkId, type Run, runName, runOf } from "./run-name.js";

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
  private readonly lru = new Map<string, Run>();
  private readonly pinned = new Map<string, Run>();
  /** blockKey → the run holding it (the newest, if several do). */
  private readonly blocks = new Map<string, Run>();
  private readonly pinnedChunks = new Set<string>();
  private readonly shards = new Map<string, Promise<void>>();
  private lruBytes = 0;
  private pinnedBytes = 0;
  private pinnedBlocks = 0;
  private pendingWriteBytes = 0;
  private stats = { hits: 0, misses: 0, evictions: 0, dropped: 0, skipped: 0 };
  private readonly writes = new Set<Promise<unknown>>();
  private readonly maxPendingWriteBytes: number;

  private constructor(
    readonly dir: string,
    private maxBytes: number,
    options: DiskCacheOptions,
  ) {
    this.maxPendingWriteBytes = options.maxPendingWriteBytes ?? 64 * 1024 * 1024;
  }

  /** Open (or create) a cache directory and rebuild its index from the listing. */
  static async open(dir: string, maxBytes: number, options: DiskCacheOptions = {}): Promise<DiskBlockCache> {
    const cache = new DiskBlockCache(dir, maxBytes, options);
    await rm(join(dir, "tmp"), { recursive: true, force: true });
    await mkdir(join(dir, "tmp"), { recursive: true });
    await mkdir(join(dir, "blocks"), { recursive: true });
    try {
      const pins = JSON.parse(await readFile(join(dir, "pins.json"), "utf8")) as unknown;
      if (Array.isArray(pins)) for (const id of pins) if (typeof id === "string") cache.pinnedChunks.add(id);
    } catch {
      // no pins yet, or a torn pins file: start unpinned rather than refuse to mount
    }
    const shardNames = await readdir(join(dir, "blocks"));
    const listings = await Promise.all(
      shardNames.map((s) =>
        readdir(join(dir, "blocks", s)).then(
          (n) => [s, n] as const,
          () => undefined, // a stray file where a shard directory belongs
        ),
      ),
    );
    for (const listing of listings) {
      if (!listing) continue;
      const [shard, names] = listing;
      cache.shards.set(shard, Promise.resolve());
      for (const name of names) {
        const run = runOf(name);
        if (run) cache.insert(run);
      }
    }
    cache.evict();
    return cache;
  }

  private fileOf(r: Run): string {
    return join(this.dir, "blocks", r.chunkId.slice(0, 2), r.name);
  }

  private insert(r: Run): void {
    if (this.pinnedChunks.has(r.chunkId)) {
      this.pinned.set(r.name, r);
      this.pinnedBytes += r.size;
      this.pinnedBlocks += r.count;
    } else {
      this.lru.set(r.name, r);
      this.lruBytes += r.size;
    }
    for (let b = r.first; b < r.first + r.count; b++) this.blocks.set(blockKey(r.chunkId, b), r);
  }

  /** Forget a run (the caller unlinks its file). */
  private remove(r: Run): void {
    if (this.lru.delete(r.name)) this.lruBytes -= r.size;
    else if (this.pinned.delete(r.name)) {
      this.pinnedBytes -= r.size;
      this.pinnedBlocks -= r.count;
    } else return;
    for (let b = r.first; b < r.first + r.count; b++) {
      const key = blockKey(r.chunkId, b);
      if (this.blocks.get(key) === r) this.blocks.delete(key);
    }
  }

  has(chunkId: string, block: number): boolean {
    return this.blocks.has(blockKey(chunkId, block));
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
      const r = this.blocks.get(blockKey(chunkId, b));
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
      if (this.lru.delete(r.name)) this.lru.set(r.name, r);
      const offset = (b - r.first) * r.stride;
      out.push({
        run: r,
        file: this.fileOf(r),
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
    const shard = run.chunkId.slice(0, 2);
    try {
      let ready = this.shards.get(shard);
      if (!ready) {
        ready = mkdir(join(this.dir, "blocks", shard), { recursive: true }).then(() => {});
        this.shards.set(shard, ready);
        ready.catch(() => this.shards.delete(shard));
      }
      await ready;
      const tmp = join(this.dir, "tmp", randomBytes(8).toString("hex"));
      // Straight from the GET buffer, around the page cache when the buffer allows (direct-io.ts).
      await writeWholeFile(tmp, sealed);
      await rename(tmp, this.fileOf(run));
    } catch {
      return false;
    }
    if (this.lru.has(run.name) || this.pinned.has(run.name)) return true;
    this.insert(run);
    this.evict();
    return true;
  }

  /** Forget a block whose content failed authentication (torn by a crash, or tampered with). */
  drop(chunkId: string, block: number): void {
    const r = this.blocks.get(blockKey(chunkId, block));
    if (r) this.dropRun(r);
  }

  private dropRun(r: Run): void {
    if (!this.lru.has(r.name) && !this.pinned.has(r.name)) return;
    this.remove(r);
    this.stats.dropped++;
    unlink(this.fileOf(r)).catch(() => {});
  }

  /** Change the bound while mounted; shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  private evict(): void {
    for (const r of this.lru.values()) {
      if (this.lruBytes + this.pinnedBytes <= this.maxBytes) break;
      this.remove(r);
      this.stats.evictions++;
      unlink(this.fileOf(r)).catch(() => {});
    }
  }

  /** Keep these chunks' blocks whatever the pressure (pinned paths, resolved to chunks by the VFS). */
  async pin(chunkIds: Iterable<string>): Promise<void> {
    for (const id of chunkIds) this.pinnedChunks.add(id);
    this.rebalance();
    await this.savePins();
  }

  async unpin(chunkIds: Iterable<string>): Promise<void> {
    for (const id of chunkIds) this.pinnedChunks.delete(id);
    this.rebalance();
    this.evict();
    await this.savePins();
  }

  isPinned(chunkId: string): boolean {
    return this.pinnedChunks.has(chunkId);
  }

  private rebalance(): void {
    for (const r of [...this.lru.values(), ...this.pinned.values()]) {
      const want = this.pinnedChunks.has(r.chunkId);
      if (want === this.pinned.has(r.name)) continue;
      this.remove(r);
      this.insert(r);
    }
  }

  private async savePins(): Promise<void> {
    const tmp = join(this.dir, "tmp", `pins-${randomBytes(6).toString("hex")}`);
    await writeFile(tmp, JSON.stringify([...this.pinnedChunks]));
    await rename(tmp, join(this.dir, "pins.json"));
  }

  getStats(): DiskCacheStats {
    return {
      bytes: this.lruBytes + this.pinnedBytes,
      blocks: this.blocks.size,
      runs: this.lru.size + this.pinned.size,
      pinnedBytes: this.pinnedBytes,
      pinnedBlocks: this.pinnedBlocks,
      maxBytes: this.maxBytes,
      pendingWriteBytes: this.pendingWriteBytes,
      ...this.stats,
    };
  }
}
