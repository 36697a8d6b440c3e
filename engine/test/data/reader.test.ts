import { afterEach, describe, expect, it } from "vitest";
import {
  BlockFetcher,
  BlockReadError,
  CachedExtentSource,
  chunkObjectKey,
  DataReader,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
} from "../../src/data/index.js";
import { BLOCK, MemoryMeta, makeCodec, pattern, putFile, TestStore } from "./helpers.js";

function setup(latencyMs = 0, limits = { demand: 16, prefetch: 4 }, maxGetBytes = 8 * 1024 * 1024) {
  const store = new TestStore(latencyMs);
  const codec = makeCodec();
  const meta = new MemoryMeta();
  const memory = new MemoryBlockCache(64 * 1024 * 1024);
  const scheduler = new RequestScheduler(limits);
  const fetcher = new BlockFetcher(
    new LocalRunSource(store, codec, maxGetBytes),
    codec,
    memory,
    undefined,
    scheduler,
    maxGetBytes,
  );
  const reader = new DataReader(meta, fetcher, codec.blockSize);
  return { store, codec, meta, memory, scheduler, fetcher, reader };
}

describe("DataReader", () => {
  let cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup) c();
    cleanup = [];
  });

  it("reads across blocks and extents, zero-fills holes", async () => {
    const t = setup();
    const a = pattern(3 * BLOCK + 100, 1);
    await putFile(t.store, t.codec, t.meta, 1, a);
    expect((await t.reader.read(1, 0, a.length)).equals(a)).toBe(true);
    expect((await t.reader.read(1, BLOCK - 7, 20)).equals(a.subarray(BLOCK - 7, BLOCK + 13))).toBe(true);
    // a hole past the extents reads as zeros
    const tail = await t.reader.read(1, a.length - 10, 30);
    expect(tail.subarray(0, 10).equals(a.subarray(a.length - 10))).toBe(true);
    expect(tail.subarray(10).every((b) => b === 0)).toBe(true);
  });

  it("single-flight: 20 concurrent readers of the same range cause one GET", async () => {
    const t = setup(20);
    const a = pattern(4 * BLOCK, 2);
    await putFile(t.store, t.codec, t.meta, 1, a);
    t.store.gets = [];
    const reads = await Promise.all(Array.from({ length: 20 }, () => t.reader.read(1, 0, a.length)));
    for (const r of reads) expect(r.equals(a)).toBe(true);
    expect(t.store.gets.length).toBe(1);
    expect(t.fetcher.stats.joined).toBeGreaterThanOrEqual(19 * 4);
  });

  it("coalesces contiguous missing blocks of a chunk into one ranged GET, split at maxGetBytes", async () => {
    const t = setup(0, { demand: 16, prefetch: 4 }, 4 * BLOCK);
    const a = pattern(10 * BLOCK, 3);
    await putFile(t.store, t.codec, t.meta, 1, a);
    t.store.gets = [];
    await t.reader.read(1, 0, BLOCK); // block 0 cached
    await t.reader.read(1, 0, a.length); // blocks 1..9 missing: runs of 4,4,1
    expect(t.store.gets.map((g) => g.length)).toEqual([
      t.codec.sealedRange(0, BLOCK).length,
      t.codec.sealedRange(0, 4 * BLOCK).length,
      t.codec.sealedRange(0, 4 * BLOCK).length,
      t.codec.sealedRange(0, BLOCK).length,
    ]);
  });

  it("a tampered block is an error, never data, and is not cached", async () => {
    const t = setup();
    const a = pattern(2 * BLOCK, 4);
    const id = await putFile(t.store, t.codec, t.meta, 1, a);
    const sealed = await t.store.inner.get(chunkObjectKey(id));
    sealed[t.codec.sealedRange(BLOCK, 1).offset + 40]! ^= 1;
    await t.store.inner.put(chunkObjectKey(id), sealed);
    await expect(t.reader.read(1, BLOCK, 10)).rejects.toBeInstanceOf(BlockReadError);
    expect((await t.reader.read(1, 0, 10)).equals(a.subarray(0, 10))).toBe(true);
    await expect(t.reader.read(1, BLOCK, 10)).rejects.toBeInstanceOf(BlockReadError);
  });

  it("a demand read does not wait behind prefetch; a queued prefetch it needs is promoted", async () => {
    const t = setup(100, { demand: 4, prefetch: 1 });
    const files = [1, 2, 3, 4, 5, 6].map((ino) => ({ ino, data: pattern(BLOCK, ino) }));
    for (const f of files) await putFile(t.store, t.codec, t.meta, f.ino, f.data);
    // saturate the prefetch pool: 1 running, 4 queued (≈ 500 ms of prefetch work)
    for (const f of files.slice(0, 5)) void t.reader.prefetch(f.ino, 0, BLOCK);
    await new Promise((r) => setImmediate(r));
    expect(t.scheduler.queued.prefetch).toBe(4);
    const start = performance.now();
    const [other, queued] = await Promise.all([
      t.reader.read(6, 0, BLOCK), // not prefetched at all
      t.reader.read(5, 0, BLOCK), // last in the prefetch queue: promoted
    ]);
    const took = performance.now() - start;
    expect(other.equals(files[5]!.data)).toBe(true);
    expect(queued.equals(files[4]!.data)).toBe(true);
    expect(t.scheduler.queued.prefetch).toBeLessThanOrEqual(3);
    // one store round trip (100 ms), not the prefetch queue (≥ 500 ms); slack for a busy machine
    expect(took).toBeLessThan(350);
  });
});

describe("CachedExtentSource", () => {
  it("asks the metadata service once per window and re-asks after invalidation", async () => {
    const t = setup();
    const a = pattern(6 * BLOCK, 9);
    await putFile(t.store, t.codec, t.meta, 1, a);
    const cached = new CachedExtentSource(t.meta, 4 * BLOCK);
    const reader = new DataReader(cached, t.fetcher, t.codec.blockSize);
    t.meta.extentCalls = 0;
    for (let pos = 0; pos < a.length; pos += 1000) {
      const n = Math.min(3000, a.length - pos);
      expect((await reader.read(1, pos, n)).equals(a.subarray(pos, pos + n))).toBe(true);
    }
    expect(t.meta.extentCalls).toBe(2);
    const b = pattern(BLOCK, 10);
    await putFile(t.store, t.codec, t.meta, 1, b);
    cached.invalidate(1);
    expect((await reader.read(1, 0, BLOCK)).equals(b)).toBe(true);
  });
});

describe("metadata service unreachable", () => {
  it("files already cached stay readable", async () => {
    const t = setup();
    const a = pattern(3 * BLOCK, 11);
    await putFile(t.store, t.codec, t.meta, 1, a);
    const cached = new CachedExtentSource(t.meta);
    const reader = new DataReader(cached, t.fetcher, t.codec.blockSize);
    await reader.read(1, 0, a.length);
    t.meta.getExtents = async () => {
      throw new Error("metadata service unreachable");
    };
    t.store.latencyMs = 0;
    t.store.gets = [];
    expect((await reader.read(1, 100, 2 * BLOCK)).equals(a.subarray(100, 100 + 2 * BLOCK))).toBe(true);
    expect(t.store.gets).toHaveLength(0);
    await expect(reader.read(2, 0, 10)).rejects.toThrow(/unreachable/);
  });
});
