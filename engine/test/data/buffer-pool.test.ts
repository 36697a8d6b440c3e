import { describe, expect, it } from "vitest";
import { BufferPool } from "../../src/data/buffer-pool.js";
import {
  BlockFetcher,
  DiskBlockCache,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
} from "../../src/data/index.js";
import { UploadBuffers } from "../../src/data/writeback/upload.js";
import { BLOCK, MemoryMeta, makeCodec, pattern, putFile, TestStore, tempDir } from "./helpers.js";

describe("BufferPool", () => {
  it("reuses released buffers, keeps at most maxFree idle, gives one-offs for oversize requests", () => {
    const pool = new BufferPool(1024, { maxFree: 2 });
    const a = pool.acquire(100);
    const b = pool.acquire(1024);
    const c = pool.acquire(10);
    expect(pool.allocated).toBe(3);
    for (const x of [a, b, c]) pool.release(x);
    expect(pool.idle).toBe(2);
    expect(pool.acquire(1000)).toBe(b);
    const big = pool.acquire(4096);
    expect(big.length).toBe(4096);
    pool.release(big); // not pooled: wrong size
    expect(pool.idle).toBe(1);
    expect(pool.inUse).toBe(1);
  });

  it("cuts buffers from one allocation when asked: contiguous, aligned slices, handed out in order", async () => {
    const { DIRECT_ALIGN, readFileRange } = await import("../../src/data/direct-io.js");
    const size = 3 * DIRECT_ALIGN;
    const pool = new BufferPool(size, { perAllocation: 4 });
    const a = pool.acquire(size);
    const b = pool.acquire(10);
    expect(pool.allocated).toBe(4);
    expect(pool.idle).toBe(2);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + size);
    expect(pool.acquire(1).byteOffset).toBe(a.byteOffset + 2 * size);
    pool.release(a);
    expect(pool.acquire(size)).toBe(a);
    expect(() => new BufferPool(1000, { perAllocation: 2 })).toThrow(/multiple of 4096/);
    // a direct read needing more room than its slice never spills into the neighbour
    const dir = tempDir("slices");
    try {
      const file = `${dir.path}/f`;
      (await import("node:fs")).writeFileSync(file, pattern(4 * DIRECT_ALIGN, 7));
      b.fill(0xee);
      const got = await readFileRange(file, 100, a.subarray(0, size), size); // aligned span: size + 4096
      expect(got.equals(pattern(4 * DIRECT_ALIGN, 7).subarray(100, 100 + size))).toBe(true);
      expect(b.every((x) => x === 0xee)).toBe(true);
    } finally {
      dir.cleanup();
    }
  });

  it("trimAfterIdleMs: idle buffers go once none has been in use that long; a GET in between keeps them", async () => {
    const pool = new BufferPool(1024, { trimAfterIdleMs: 30 });
    const a = pool.acquire(1024);
    pool.release(a);
    await new Promise((r) => setTimeout(r, 15));
    expect(pool.acquire(1)).toBe(a); // in use again before the idle time: the timer is off
    await new Promise((r) => setTimeout(r, 60));
    expect(pool.idle).toBe(0); // still in use: nothing to trim, nothing trimmed
    pool.release(a);
    expect(pool.idle).toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(pool.idle).toBe(0);
    expect(pool.acquire(1)).not.toBe(a);
  });

  it("upload buffers are reused while uploads run and dropped once they have been idle a while", async () => {
    const codec = makeCodec();
    const buffers = new UploadBuffers(codec, 64 * 1024, 2, 30);
    const first = [buffers.take(64 * 1024, codec.sealedSize(64 * 1024)), buffers.take(1000, 2000)];
    expect(buffers.held).toBe(4);
    buffers.give(first[0]!);
    await new Promise((r) => setTimeout(r, 60)); // one still in use: nothing is dropped
    expect(buffers.held).toBe(4);
    buffers.give(first[1]!);
    const again = buffers.take(5, 50); // a new upload before the idle time: same memory
    expect(again.plain).toBe(first[1]!.plain);
    buffers.give(again);
    expect(buffers.held).toBe(4);
    await new Promise((r) => setTimeout(r, 60));
    expect(buffers.held).toBe(0);
  });

  it("the fetcher returns every GET buffer once its blocks are opened and cached on disk", async () => {
    const d = tempDir("pool");
    try {
      const store = new TestStore(2);
      const codec = makeCodec();
      const meta = new MemoryMeta();
      const data = pattern(16 * BLOCK, 3);
      const id = await putFile(store, codec, meta, 1, data);
      const disk = await DiskBlockCache.open(d.path, 1 << 30);
      const fetcher = new BlockFetcher(
        new LocalRunSource(store, codec, 4 * BLOCK),
        codec,
        new MemoryBlockCache(1 << 24),
        disk,
        new RequestScheduler({ demand: 4, prefetch: 2 }),
        4 * BLOCK,
      );
      const blocks = await Promise.all([fetcher.getBlocks(id, 0, 8, "demand"), fetcher.getBlocks(id, 8, 8, "demand")]);
      expect(Buffer.concat(blocks.flat()).equals(data)).toBe(true);
      await disk.close();
      await new Promise((r) => setImmediate(r));
      expect(fetcher.source.bufferStats().inUse).toBe(0);
      expect(fetcher.source.bufferStats().allocated).toBeLessThanOrEqual(4);
      expect(disk.getStats()).toMatchObject({ blocks: 16, runs: 4 });
    } finally {
      d.cleanup();
    }
  });
});
