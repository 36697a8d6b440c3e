/**
 * The disk cache's in-memory index: which run file holds each cached block, the LRU order of
 * runs, and the byte accounting that eviction works from. No I/O here; the cache unlinks what
 * this index gives up.
 *
 * Recency is an insertion-ordered Map of runs (touch = delete + set); after a restart the order
 * is the listing order. Pinned chunks' runs live in a separate map that eviction never looks at,
 * but their bytes count against the bound.
 * A block already cached in another run may be written again (concurrent fetches); the block map
 * points at the newest run, and removing the older run leaves the newer pointer alone.
 */
import { blockKey } from "../types.js";
import type { Run } from "./run-name.js";

export class RunIndex {
  private readonly lru = new Map<string, Run>();
  private readonly pinned = new Map<string, Run>();
  /** blockKey → the run holding it (the newest, if several do). */
  private readonly blocks = new Map<string, Run>();
  private readonly pinnedChunks = new Set<string>();
  private lruBytes = 0;
  private pinnedBytes = 0;
  private pinnedBlocks = 0;

  /** Mark chunks pinned (or not); runs already indexed move between the LRU and the pinned map. */
  setPinned(chunkIds: Iterable<string>, pinned: boolean): void {
    for (const id of chunkIds) {
      if (pinned) this.pinnedChunks.add(id);
      else this.pinnedChunks.delete(id);
    }
    this.rebalance();
  }

  isPinned(chunkId: string): boolean {
    return this.pinnedChunks.has(chunkId);
  }

  pinnedChunkIds(): string[] {
    return [...this.pinnedChunks];
  }

  insert(r: Run): void {
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

  /** Forget a run; false when it was not indexed. */
  remove(r: Run): boolean {
    if (this.lru.delete(r.name)) this.lruBytes -= r.size;
    else if (this.pinned.delete(r.name)) {
      this.pinnedBytes -= r.size;
      this.pinnedBlocks -= r.count;
    } else return false;
    for (let b = r.first; b < r.first + r.count; b++) {
      const key = blockKey(r.chunkId, b);
      if (this.blocks.get(key) === r) this.blocks.delete(key);
    }
    return true;
  }

  /** Whether a run of this name is indexed. */
  holds(name: string): boolean {
    return this.lru.has(name) || this.pinned.has(name);
  }

  /** The run holding a block, if any. */
  runOf(chunkId: string, block: number): Run | undefined {
    return this.blocks.get(blockKey(chunkId, block));
  }

  /** Make a run the most recently used (pinned runs have no order). */
  touch(r: Run): void {
    if (this.lru.delete(r.name)) this.lru.set(r.name, r);
  }

  /** Remove least recently used runs until the total fits `maxBytes`; returns those removed. */
  evict(maxBytes: number): Run[] {
    const out: Run[] = [];
    for (const r of this.lru.values()) {
      if (this.lruBytes + this.pinnedBytes <= maxBytes) break;
      this.remove(r);
      out.push(r);
    }
    return out;
  }

  private rebalance(): void {
    for (const r of [...this.lru.values(), ...this.pinned.values()]) {
      const want = this.pinnedChunks.has(r.chunkId);
      if (want === this.pinned.has(r.name)) continue;
      this.remove(r);
      this.insert(r);
    }
  }

  totals(): { bytes: number; blocks: number; runs: number; pinnedBytes: number; pinnedBlocks: number } {
    return {
      bytes: this.lruBytes + this.pinnedBytes,
      blocks: this.blocks.size,
      runs: this.lru.size + this.pinned.size,
      pinnedBytes: this.pinnedBytes,
      pinnedBlocks: this.pinnedBlocks,
    };
  }
}
