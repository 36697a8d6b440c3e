/**
 * Where a run of sealed blocks comes from: one range GET, its blocks opened (verified and
 * decrypted) in order as their bytes arrive. The BlockFetcher decides which runs to fetch and
 * when (single-flight, coalescing, priorities); a RunSource only does the fetching and opening,
 * so the same code runs on the mount's main thread (`LocalRunSource`) or in worker threads
 * (fetch-pool/), where HTTP and AES-GCM do not compete with FUSE for the main thread.
 */
import type { ObjectStore } from "../object/types.js";
import { BufferPool } from "./buffer-pool.js";
import { directCapacity, readFileRange } from "./direct-io.js";
import { type BlockCodec, chunkObjectKey } from "./types.js";

export interface RunRequest {
  chunkId: string;
  /** First block of the run and how many consecutive blocks. */
  first: number;
  count: number;
}

/**
 * Told about each block of the run exactly once, in order: its plaintext, or why it failed to
 * open (a tampered block fails alone; the others still open).
 */
export type OnBlock = (index: number, plain: Buffer | undefined, error?: unknown) => void;
// `targets` (both methods): where block i is decrypted to, when given (slots of the plaintext
// slab, data/block-cache/plain-slab.ts); `plain` is then a view of the start of targets[i].

export interface FetchedRun {
  /** The sealed bytes as received (block `first + i` at `i * stride`), for the disk cache. */
  body: Buffer;
  /** Give the body's memory back; nothing may use `body` afterwards. */
  release(): void;
}

/** Counts of the reusable GET buffers (`filespace stats`). */
export interface BufferStats {
  allocated: number;
  inUse: number;
  idle: number;
}

/** Consecutive sealed blocks `first …` in a disk-cache file: bytes [offset, offset+length), one every `stride`. */
export interface CachedRead {
  file: string;
  offset: number;
  length: number;
  stride: number;
  first: number;
  count: number;
}

export interface RunSource {
  /**
   * GET the run and open its blocks, calling `onBlock` for every block before resolving. On a
   * failed GET it rejects; blocks not yet reported are the caller's to fail.
   */
  fetch(run: RunRequest, onBlock: OnBlock, targets?: Buffer[]): Promise<FetchedRun>;
  /**
   * Read disk-cached sealed blocks and open them, calling `onBlock` for each (a block that fails
   * to open fails alone). Rejects when the file cannot be read whole (gone, torn).
   */
  openCached(chunkId: string, read: CachedRead, onBlock: OnBlock, targets?: Buffer[]): Promise<void>;
  /**
   * A stream is about to keep `gets` GETs in flight: open store connections for them now, so
   * none of those GETs waits for a connect (ObjectStore.preconnect `connections`). Advice only.
   */
  warmConnections(gets: number): void;
  bufferStats(): BufferStats;
  close(): Promise<void>;
}

/**
 * Idle GET buffers kept for reuse: the request pools (16 demand + 16 prefetch) plus some of the
 * runs the disk cache is still writing (its pending-write bound, 16 GETs' worth). Split
 * between the fetch workers when there are several (`share`).
 */
export const POOLED_BUFFERS = 40;

/** GET buffers cut from one allocation (buffer-pool.ts): 4 × 4.01 MiB share their huge pages. */
const BUFFERS_PER_ALLOCATION = 4;

/** An idle mount gives its GET buffers back after this long without a GET or cache read. */
const GET_BUFFERS_IDLE_MS = 30_000;

/** Fetches and opens runs on the calling thread. */
export class LocalRunSource implements RunSource {
  readonly buffers: BufferPool;

  constructor(
    private readonly store: ObjectStore,
    private readonly codec: BlockCodec,
    /** The largest GET the pooled buffers hold; a larger one gets a buffer of its own. */
    maxGetBytes: number,
    options: { shared?: boolean; pooledBuffers?: number } = {},
  ) {
    const largestGet = codec.sealedRange(0, Math.max(codec.blockSize, maxGetBytes)).length;
    // Room for a cache file's aligned range around a run too (O_DIRECT reads, direct-io.ts).
    this.buffers = new BufferPool(directCapacity(largestGet), {
      maxFree: options.pooledBuffers ?? POOLED_BUFFERS,
      shared: options.shared ?? false,
      perAllocation: BUFFERS_PER_ALLOCATION,
      trimAfterIdleMs: GET_BUFFERS_IDLE_MS,
    });
  }

  async fetch({ chunkId, first, count }: RunRequest, onBlock: OnBlock, targets?: Buffer[]): Promise<FetchedRun> {
    const bs = this.codec.blockSize;
    const range = this.codec.sealedRange(first * bs, count * bs);
    const stride = this.codec.sealedRange(0, bs).length;
    let opened = 0; // blocks reported so far, in order
    const openNext = (from: Buffer) => {
      const i = opened++;
      const sealed = from.subarray(i * stride, (i + 1) * stride);
      if (sealed.length === 0) return onBlock(i, undefined, new Error("block lies beyond the end of the chunk"));
      let plain: Buffer;
      try {
        plain = this.open(chunkId, sealed, first + i, targets?.[i]);
      } catch (err) {
        return onBlock(i, undefined, err);
      }
      onBlock(i, plain);
    };
    // The body lands in a pooled buffer (see buffer-pool.ts), taken when the GET starts and given
    // back by `release`. Blocks are opened as their bytes arrive (streaming decode), so a reader
    // waiting for the first block of a 4 MiB GET does not wait for its last byte.
    const into = this.buffers.acquire(range.length);
    let body: Buffer;
    try {
      body = await this.store.get(chunkObjectKey(chunkId), {
        range: { offset: range.offset, length: range.length },
        into,
        onProgress: (bytes) => {
          // full blocks only: a short last block is checked against the whole body below
          while (opened < count && (opened + 1) * stride <= bytes) openNext(into);
        },
      });
    } catch (err) {
      this.buffers.release(into);
      throw err;
    }
    while (opened < count) openNext(body);
    let released = false;
    return {
      body,
      release: () => {
        if (!released) this.buffers.release(into);
        released = true;
      },
    };
  }

  async openCached(chunkId: string, read: CachedRead, onBlock: OnBlock, targets?: Buffer[]): Promise<void> {
    const { file, offset, length, stride, first, count } = read;
    // a pooled buffer: opened blocks are fresh buffers of their own, so it is free again after
    const buf = this.buffers.acquire(directCapacity(length));
    try {
      const data = await readFileRange(file, offset, buf, length);
      if (data.length !== length) throw new Error(`disk cache file ${file} is shorter than its name says`);
      for (let i = 0; i < count; i++) {
        const sealed = data.subarray(i * stride, Math.min(length, (i + 1) * stride));
        let plain: Buffer;
        try {
          plain = this.open(chunkId, sealed, first + i, targets?.[i]);
        } catch (err) {
          onBlock(i, undefined, err);
          continue;
        }
        onBlock(i, plain);
      }
    } finally {
      this.buffers.release(buf);
    }
  }

  /** One sealed block opened into `target` when given (no allocation), else into a new buffer. */
  private open(chunkId: string, sealed: Buffer, index: number, target: Buffer | undefined): Buffer {
    if (!target) return this.codec.openRange(chunkId, sealed, index);
    return target.subarray(0, this.codec.openBlockInto(chunkId, sealed, index, target));
  }

  warmConnections(gets: number): void {
    void this.store.preconnect?.({ connections: gets, here: true });
  }

  bufferStats(): BufferStats {
    return { allocated: this.buffers.allocated, inUse: this.buffers.inUse, idle: this.buffers.idle };
  }

  async close(): Promise<void> {}
}
