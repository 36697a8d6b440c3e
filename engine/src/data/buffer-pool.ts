/**
 * Reusable response buffers for range GETs.
 *
 * Why: on small VMs a fresh multi-MiB allocation costs milliseconds of page faults per MiB
 * (measured here: 2–10 ms/MiB for 4 MiB buffers, 0.04 ms/MiB to reuse one; docs/benchmarks.md,
 * "Read path over WAN"), which alone caps a cold stream well below the link. A GET body is needed
 * only until its blocks are opened and written to the disk cache, so a handful of buffers of the
 * largest GET serve every request.
 *
 * Buffers are aligned for O_DIRECT (direct-io.ts): a GET body is written to the disk cache
 * straight from its buffer, and cache files are read into these buffers.
 *
 * Bounded: at most `maxFree` idle buffers are kept; buffers in use are bounded by the request
 * pools and the disk cache's write bound. Requests larger than `bufferBytes` get a one-off buffer.
 */
import { allocAligned, DIRECT_ALIGN } from "./direct-io.js";

export interface BufferPoolOptions {
  /** Idle buffers kept (default 8). */
  maxFree?: number;
  /** Back buffers with SharedArrayBuffers (a fetch worker lends GET bodies to the main thread). */
  shared?: boolean;
  /**
   * Buffers cut from one allocation. Huge pages are 2 MiB: a 4.01 MiB GET buffer of its own
   * touches three of them (6 MiB zeroed by the kernel), side by side with others ~4.01. Fresh
   * memory is what costs on small VMs (session 13: half of a fetch worker's CPU on a fresh
   * mount was page faults, two thirds of them in GET buffers). `bufferBytes` must then be a
   * multiple of DIRECT_ALIGN, so every slice stays aligned for O_DIRECT.
   */
  perAllocation?: number;
  /**
   * Drop the idle buffers once none has been in use for this long. One engine serves many
   * mounts: a mount that stopped reading or writing should not sit on a pool of chunk-sized
   * buffers (40 GET buffers of 8 MiB chunks are 320 MiB). Unset: kept.
   */
  trimAfterIdleMs?: number;
}

export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Buffers handed out and not yet returned (for tests and stats). */
  inUse = 0;
  allocated = 0;
  private readonly maxFree: number;
  private readonly shared: boolean;
  private readonly perAllocation: number;
  private readonly trimAfterIdleMs: number | undefined;
  private trimTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly bufferBytes: number,
    options: BufferPoolOptions = {},
  ) {
    this.maxFree = options.maxFree ?? 8;
    this.shared = options.shared ?? false;
    this.perAllocation = options.perAllocation ?? 1;
    this.trimAfterIdleMs = options.trimAfterIdleMs;
    if (this.perAllocation > 1 && bufferBytes % DIRECT_ALIGN !== 0)
      throw new Error(`BufferPool: ${bufferBytes} bytes per buffer is not a multiple of ${DIRECT_ALIGN}`);
  }

  /** A buffer of at least `bytes` (its content is garbage). Return it with `release`. */
  acquire(bytes: number): Buffer {
    this.inUse++;
    if (this.trimTimer) {
      clearTimeout(this.trimTimer);
      this.trimTimer = undefined;
    }
    if (bytes > this.bufferBytes) return this.allocate(bytes);
    const reused = this.free.pop();
    if (reused) return reused;
    const n = this.perAllocation;
    const block = this.allocate(n * this.bufferBytes);
    const slice = (i: number) => block.subarray(i * this.bufferBytes, (i + 1) * this.bufferBytes);
    for (let i = n - 1; i >= 1; i--) this.free.push(slice(i)); // next out: the neighbour
    this.allocated += n;
    return slice(0);
  }

  private allocate(bytes: number): Buffer {
    return allocAligned(bytes, this.shared);
  }

  /** Give a buffer back; nothing may use it (or a view of it) afterwards. */
  release(buf: Buffer): void {
    this.inUse--;
    if (buf.length === this.bufferBytes && this.free.length < this.maxFree) this.free.push(buf);
    if (this.inUse === 0 && this.trimAfterIdleMs !== undefined && !this.trimTimer) {
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined;
        this.trim();
      }, this.trimAfterIdleMs);
      this.trimTimer.unref();
    }
  }

  get idle(): number {
    return this.free.length;
  }

  /** Drops the idle buffers (their memory goes back once collected). */
  trim(): void {
    this.free.length = 0;
  }
}
