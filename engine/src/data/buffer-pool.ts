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
import { allocAligned } from "./direct-io.js";

export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Buffers handed out and not yet returned (for tests and stats). */
  inUse = 0;
  allocated = 0;

  constructor(
    readonly bufferBytes: number,
    private readonly maxFree = 8,
    /** Back buffers with SharedArrayBuffers (a fetch worker lends GET bodies to the main thread). */
    private readonly shared = false,
  ) {}

  /** A buffer of at least `bytes` (its content is garbage). Return it with `release`. */
  acquire(bytes: number): Buffer {
    this.inUse++;
    if (bytes > this.bufferBytes) return this.allocate(bytes);
    const reused = this.free.pop();
    if (reused) return reused;
    this.allocated++;
    return this.allocate(this.bufferBytes);
  }

  private allocate(bytes: number): Buffer {
    return allocAligned(bytes, this.shared);
  }

  /** Give a buffer back; nothing may use it (or a view of it) afterwards. */
  release(buf: Buffer): void {
    this.inUse--;
    if (buf.length === this.bufferBytes && this.free.length < this.maxFree) this.free.push(buf);
  }

  get idle(): number {
    return this.free.length;
  }

  /** Drops the idle buffers (their memory goes back once collected). */
  trim(): void {
    this.free.length = 0;
  }
}
