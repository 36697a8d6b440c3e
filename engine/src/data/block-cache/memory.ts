/**
 * RAM cache of opened (plaintext) blocks, bounded by bytes. Entries inserted by prefetch are
 * flagged so the prefetcher's accuracy can be measured: a flagged entry read by a demand read
 * counts as "used", one evicted unread counts as "wasted".
 */
import { LRUCache } from "lru-cache";
import type { PlainSlab } from "./plain-slab.js";

interface Entry {
  data: Buffer;
  prefetched: boolean;
}

export interface PrefetchAccuracy {
  /** Blocks brought in by prefetch. */
  prefetched: number;
  /** Prefetched blocks a demand read later used. */
  used: number;
  /** Prefetched blocks evicted without ever being read. */
  wasted: number;
  /** Of `used`: a demand read came while the prefetch was still in flight (prefetch was late). */
  late: number;
}

export class MemoryBlockCache {
  private readonly lru: LRUCache<string, Entry>;
  readonly accuracy: PrefetchAccuracy = { prefetched: 0, used: 0, wasted: 0, late: 0 };
  hits = 0;
  misses = 0;

  /** `slab`: blocks that live in it are counted while cached and given back when they leave. */
  constructor(maxBytes: number, slab?: PlainSlab) {
    this.lru = new LRUCache<string, Entry>({
      maxSize: maxBytes,
      sizeCalculation: (e) => Math.max(1, e.data.length),
      dispose: (e, _k, reason) => {
        if (e.prefetched && reason !== "set") this.accuracy.wasted++;
        const slot = slab?.slotOf(e.data);
        if (slot !== undefined) slab!.release(slot);
      },
    });
  }

  /** A demand lookup: counts hits and prefetch usefulness. */
  get(key: string): Buffer | undefined {
    const e = this.lru.get(key);
    if (!e) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (e.prefetched) {
      e.prefetched = false;
      this.accuracy.used++;
    }
    return e.data;
  }

  /** Presence check that neither counts nor refreshes recency (used by prefetch). */
  has(key: string): boolean {
    return this.lru.has(key);
  }

  set(key: string, data: Buffer, prefetched: boolean): void {
    const old = this.lru.peek(key);
    // A demand read's copy is never demoted to "prefetched".
    const flag = prefetched && (old ? old.prefetched : true);
    if (flag && !old) this.accuracy.prefetched++;
    this.lru.set(key, { data, prefetched: flag });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }

  get size(): number {
    return this.lru.size;
  }
}
