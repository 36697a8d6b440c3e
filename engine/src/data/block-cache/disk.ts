/**
 * Persistent, size-bounded LRU of SEALED blocks (so the cache is encrypted at rest for free;
 * a hit costs one AEAD open in the reader).
 *
 * Layout: `<dir>/blocks/<first 2 chars of chunk id>/<chunkId>.<block>.<sealedBytes>`, one file per
 * block, written to `<dir>/tmp/` and renamed into place. Why one file per block rather than packed
 * slab files:
 * - Eviction and resize are an unlink each: no compaction, no slab fragmentation to manage.
 * - The index is rebuilt at start from directory listings alone: the name carries the key and the
 *   size, so no stat and no file read per block (measured in docs/benchmarks.md).
 * - Crash safety needs no journal: a rename is atomic; a file torn by a power loss keeps its name,
 *   but its content fails AEAD in the reader (or its size differs from the name), and it is dropped.
 * The price is one inode per block (64 KiB blocks: 80k files per 5 GiB, 16M per TiB); slabs would
 * win beyond a few million blocks and are the next step if startup listing gets slow.
 *
 * Recency is an insertion-ordered Map (touch = delete + set). After a restart the order is the
 * listing order (recency is not persisted; every block starts equally old). Pinned chunks' blocks
 * live in a separate map that eviction never looks at; pins persist in `<dir>/pins.json`.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blockKey } from "../types.js";

const NAME = /^([A-Za-z0-9_-]+)\.(\d+)\.(\d+)$/;
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

interface Entry {
  chunkId: string;
  block: number;
  size: number;
}

export interface DiskCacheStats {
  bytes: number;
  blocks: number;
  pinnedBytes: number;
  pinnedBlocks: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Blocks dropped because their content was torn or failed authentication. */
  dropped: number;
}

export class DiskBlockCache {
  private readonly lru = new Map<string, Entry>();
  private readonly pinned = new Map<string, Entry>();
  private readonly pinnedChunks = new Set<string>();
  private readonly shards = new Set<string>();
  private lruBytes = 0;
  private pinnedBytes = 0;
  private stats = { hits: 0, misses: 0, evictions: 0, dropped: 0 };
  private readonly writes = new Set<Promise<void>>();

  private constructor(
    readonly dir: string,
    private maxBytes: number,
  ) {}

  /** Open (or create) a cache directory and rebuild its index from the listing. */
  static async open(dir: string, maxBytes: number): Promise<DiskBlockCache> {
    const cache = new DiskBlockCache(dir, maxBytes);
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
      cache.shards.add(shard);
      for (const name of names) {
        const m = NAME.exec(name);
        if (!m) continue;
        cache.insert({ chunkId: m[1]!, block: Number(m[2]), size: Number(m[3]) });
      }
    }
    cache.evict();
    return cache;
  }

  private fileOf(e: Entry): string {
    return join(this.dir, "blocks", e.chunkId.slice(0, 2), `${e.chunkId}.${e.block}.${e.size}`);
  }

  private insert(e: Entry): void {
    const key = blockKey(e.chunkId, e.block);
    if (this.pinnedChunks.has(e.chunkId)) {
      this.pinned.set(key, e);
      this.pinnedBytes += e.size;
    } else {
      this.lru.set(key, e);
      this.lruBytes += e.size;
    }
  }

  private remove(key: string): Entry | undefined {
    const e = this.lru.get(key) ?? this.pinned.get(key);
    if (!e) return undefined;
    if (this.lru.delete(key)) this.lruBytes -= e.size;
    else if (this.pinned.delete(key)) this.pinnedBytes -= e.size;
    return e;
  }

  has(chunkId: string, block: number): boolean {
    const key = blockKey(chunkId, block);
    return this.lru.has(key) || this.pinned.has(key);
  }

  /** The sealed block, or undefined on a miss (a missing or torn file is a miss and is dropped). */
  async get(chunkId: string, block: number): Promise<Buffer | undefined> {
    const key = blockKey(chunkId, block);
    const e = this.lru.get(key) ?? this.pinned.get(key);
    if (!e) {
      this.stats.misses++;
      return undefined;
    }
    if (this.lru.delete(key)) this.lru.set(key, e);
    let data: Buffer;
    try {
      data = await readFile(this.fileOf(e));
    } catch {
      this.drop(chunkId, block);
      this.stats.misses++;
      return undefined;
    }
    if (data.length !== e.size) {
      this.drop(chunkId, block);
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    return data;
  }

  /** Store a sealed block. Errors (disk full, ...) only lose the cache entry, never fail a read. */
  put(chunkId: string, block: number, sealed: Buffer): Promise<void> {
    const write = this.write(chunkId, block, sealed);
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  /** Wait for block writes in progress (unmount). */
  async close(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
  }

  private async write(chunkId: string, block: number, sealed: Buffer): Promise<void> {
    if (!SAFE_ID.test(chunkId) || this.has(chunkId, block)) return;
    const e: Entry = { chunkId, block, size: sealed.length };
    const shard = chunkId.slice(0, 2);
    try {
      if (!this.shards.has(shard)) {
        await mkdir(join(this.dir, "blocks", shard), { recursive: true });
        this.shards.add(shard);
      }
      const tmp = join(this.dir, "tmp", randomBytes(8).toString("hex"));
      await writeFile(tmp, sealed);
      await rename(tmp, this.fileOf(e));
    } catch {
      return;
    }
    if (this.has(chunkId, block)) return;
    this.insert(e);
    this.evict();
  }

  /** Forget a block whose content failed authentication (torn by a crash, or tampered with). */
  drop(chunkId: string, block: number): void {
    const e = this.remove(blockKey(chunkId, block));
    if (!e) return;
    this.stats.dropped++;
    unlink(this.fileOf(e)).catch(() => {});
  }

  /** Change the bound while mounted; shrinking evicts at once. */
  resize(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  private evict(): void {
    for (const [key, e] of this.lru) {
      if (this.lruBytes + this.pinnedBytes <= this.maxBytes) break;
      this.lru.delete(key);
      this.lruBytes -= e.size;
      this.stats.evictions++;
      unlink(this.fileOf(e)).catch(() => {});
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
    for (const [key, e] of [...this.lru, ...this.pinned]) {
      const want = this.pinnedChunks.has(e.chunkId);
      if (want === this.pinned.has(key)) continue;
      this.remove(key);
      this.insert(e);
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
      blocks: this.lru.size + this.pinned.size,
      pinnedBytes: this.pinnedBytes,
      pinnedBlocks: this.pinned.size,
      maxBytes: this.maxBytes,
      ...this.stats,
    };
  }
}
