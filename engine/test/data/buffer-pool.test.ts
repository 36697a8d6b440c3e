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
    const pool = new BufferPool(1024, 2);
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
