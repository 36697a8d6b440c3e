import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BlockFetcher,
  DataReader,
  DiskBlockCache,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
} from "../../src/data/index.js";
import { BLOCK, MemoryMeta, makeCodec, pattern, putFile, TestStore, tempDir } from "./helpers.js";

const sealedBlock = makeCodec().sealedRange(0, BLOCK).length;

describe("DiskBlockCache", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function dir() {
    const d = tempDir("disk");
    cleanups.push(d.cleanup);
    return d.path;
  }

  it("evicts least recently used blocks beyond its bound, and shrinks live", async () => {
    const cache = await DiskBlockCache.open(dir(), 4 * 100);
    for (let b = 0; b < 4; b++) await cache.put("chunkA", b, Buffer.alloc(100, b));
    await cache.get("chunkA", 0); // 0 is now the most recent
    await cache.put("chunkA", 4, Buffer.alloc(100, 4)); // evicts 1
    expect(cache.has("chunkA", 1)).toBe(false);
    expect(cache.has("chunkA", 0)).toBe(true);
    cache.resize(200);
    expect(cache.getStats()).toMatchObject({ blocks: 2, bytes: 200, maxBytes: 200 });
    expect(cache.has("chunkA", 0)).toBe(true);
    expect(cache.has("chunkA", 4)).toBe(true);
    await cache.close();
  });

  it("pinned chunks survive any pressure and restarts", async () => {
    const d = dir();
    const cache = await DiskBlockCache.open(d, 300);
    await cache.pin(["pinned1"]);
    for (let b = 0; b < 3; b++) await cache.put("pinned1", b, Buffer.alloc(100));
    for (let b = 0; b < 5; b++) await cache.put("other", b, Buffer.alloc(100));
    expect([0, 1, 2].every((b) => cache.has("pinned1", b))).toBe(true);
    expect(cache.getStats().pinnedBlocks).toBe(3);
    const again = await DiskBlockCache.open(d, 300);
    expect(again.isPinned("pinned1")).toBe(true);
    expect([0, 1, 2].every((b) => again.has("pinned1", b))).toBe(true);
    await again.unpin(["pinned1"]);
    expect(again.getStats().pinnedBlocks).toBe(0);
    await cache.close();
  });

  it("a restarted mount is warm: reads come from disk, not the store", async () => {
    const d = dir();
    const store = new TestStore();
    const codec = makeCodec();
    const meta = new MemoryMeta();
    const a = pattern(8 * BLOCK, 5);
    await putFile(store, codec, meta, 1, a);
    const mount = async () => {
      const disk = await DiskBlockCache.open(d, 1 << 30);
      const fetcher = new BlockFetcher(
        new LocalRunSource(store, codec, 1 << 20),
        codec,
        new MemoryBlockCache(1 << 24),
        disk,
        new RequestScheduler({ demand: 4, prefetch: 2 }),
        1 << 20,
      );
      return { disk, fetcher, reader: new DataReader(meta, fetcher, codec.blockSize) };
    };
    const m1 = await mount();
    expect((await m1.reader.read(1, 0, a.length)).equals(a)).toBe(true);
    await m1.disk.close();
    expect(m1.disk.getStats().blocks).toBe(8);
    store.gets = [];
    const m2 = await mount();
    expect(m2.disk.getStats().blocks).toBe(8);
    expect((await m2.reader.read(1, 0, a.length)).equals(a)).toBe(true);
    expect(store.gets).toHaveLength(0);
    expect(m2.fetcher.stats.blocksFromDisk).toBe(8);
    // blocks are sealed at rest: no plaintext run of the file appears in any cache file
    const files = readdirSync(join(d, "blocks"), { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
    // one GET of 8 blocks → one run file, named by its first block, count and stride
    expect(files).toHaveLength(1);
    expect(files[0]!.name).toMatch(new RegExp(`\\.0\\.8x${sealedBlock}\\.${8 * sealedBlock}$`));
    for (const f of files) {
      expect(readFileSync(join(f.parentPath, f.name)).includes(a.subarray(BLOCK, BLOCK + 64))).toBe(false);
    }
  });

  it("a torn or tampered run file is detected, dropped and refetched, never served", async () => {
    const d = dir();
    const store = new TestStore();
    const codec = makeCodec();
    const meta = new MemoryMeta();
    const a = pattern(2 * BLOCK, 6);
    const id = await putFile(store, codec, meta, 1, a);
    const mount = async () => {
      const disk = await DiskBlockCache.open(d, 1 << 30);
      const fetcher = new BlockFetcher(
        new LocalRunSource(store, codec, 1 << 20),
        codec,
        new MemoryBlockCache(1 << 24),
        disk,
        new RequestScheduler({ demand: 4, prefetch: 2 }),
        1 << 20,
      );
      return { disk, reader: new DataReader(meta, fetcher, codec.blockSize) };
    };
    const shard = join(d, "blocks", id.slice(0, 2));
    const m1 = await mount();
    await m1.reader.read(1, 0, a.length);
    await m1.disk.close();
    // block 1 of the run: same size, flipped content (a torn write that kept its length)
    const [f0] = readdirSync(shard);
    const torn = readFileSync(join(shard, f0!));
    torn.fill(7, sealedBlock);
    writeFileSync(join(shard, f0!), torn);
    store.gets = [];
    const m2 = await mount();
    expect((await m2.reader.read(1, 0, a.length)).equals(a)).toBe(true);
    expect(store.gets.length).toBe(1);
    expect(m2.disk.getStats().dropped).toBe(1);
    await m2.disk.close();
    // a short file (torn by a crash): a miss, dropped, refetched
    const [f1] = readdirSync(shard);
    writeFileSync(join(shard, f1!), Buffer.alloc(10));
    store.gets = [];
    const m3 = await mount();
    expect((await m3.reader.read(1, 0, a.length)).equals(a)).toBe(true);
    expect(store.gets.length).toBe(1);
    expect(m3.disk.getStats().dropped).toBe(1);
    await m3.disk.close();
  });

  it("serves single blocks out of run files; evicts a run as a unit; reads legacy one-block files", async () => {
    const d = dir();
    const stride = 100;
    const run = Buffer.concat([Buffer.alloc(stride, 1), Buffer.alloc(stride, 2), Buffer.alloc(40, 3)]);
    const cache = await DiskBlockCache.open(d, 1000);
    expect(await cache.putRun("chunkR", 5, 3, stride, run)).toBe(true);
    expect(await cache.putRun("chunkR", 5, 3, stride, run)).toBe(false); // already cached
    expect((await cache.get("chunkR", 6))!.equals(Buffer.alloc(stride, 2))).toBe(true);
    expect((await cache.get("chunkR", 7))!.equals(Buffer.alloc(40, 3))).toBe(true);
    expect(await cache.get("chunkR", 8)).toBeUndefined();
    expect(cache.getStats()).toMatchObject({ blocks: 3, runs: 1, bytes: 240 });
    // a run whose shape contradicts its stride is refused, not cached
    expect(await cache.putRun("chunkR", 20, 2, stride, Buffer.alloc(50))).toBe(false);
    // a file of the previous layout (one block per file) is picked up at open
    const shard = join(d, "blocks", "ch");
    writeFileSync(join(shard, "chunkL.3.77"), Buffer.alloc(77, 9));
    await cache.close();
    const again = await DiskBlockCache.open(d, 1000);
    expect(again.getStats()).toMatchObject({ blocks: 4, runs: 2, bytes: 317 });
    expect((await again.get("chunkL", 3))!.equals(Buffer.alloc(77, 9))).toBe(true);
    again.resize(100); // the LRU run goes as a whole: all three blocks of chunkR
    expect([5, 6, 7].some((b) => again.has("chunkR", b))).toBe(false);
    expect(again.has("chunkL", 3)).toBe(true);
    await vi.waitFor(() => expect(readdirSync(shard)).toEqual(["chunkL.3.77"])); // unlink is in the background
  });

  it("getMany reads consecutive blocks of one run together and reports misses in place", async () => {
    const d = dir();
    const stride = 100;
    const cache = await DiskBlockCache.open(d, 1 << 20);
    await cache.putRun("chunkM", 0, 3, stride, Buffer.concat([0, 1, 2].map((i) => Buffer.alloc(stride, i))));
    await cache.putRun("chunkM", 4, 1, stride, Buffer.alloc(stride, 4));
    const got = await cache.getMany("chunkM", [0, 1, 2, 3, 4]);
    expect(got.map((b) => b?.[0])).toEqual([0, 1, 2, undefined, 4]);
    expect(got.map((b) => b?.length)).toEqual([stride, stride, stride, undefined, stride]);
    expect(cache.getStats()).toMatchObject({ hits: 4, misses: 1 });
    // a run file cut short: every block asked from it is a miss, and the run is dropped
    const shard = join(d, "blocks", "ch");
    const runFile = readdirSync(shard).find((n) => n.includes("x100"))!;
    writeFileSync(join(shard, runFile), Buffer.alloc(150));
    expect(await cache.getMany("chunkM", [1, 2])).toEqual([undefined, undefined]);
    expect(cache.has("chunkM", 0)).toBe(false);
    expect(cache.getStats().dropped).toBe(1);
  });

  it("bounds the bytes being written: beyond the bound a run is skipped, not queued", async () => {
    const cache = await DiskBlockCache.open(dir(), 1 << 30, { maxPendingWriteBytes: 250 });
    const writes = [0, 1, 2].map((i) => cache.putRun(`c${i}x`, 0, 1, 100, Buffer.alloc(100, i)));
    expect(cache.getStats()).toMatchObject({ skipped: 1, pendingWriteBytes: 200 });
    expect(await Promise.all(writes)).toEqual([true, true, false]);
    expect(cache.getStats()).toMatchObject({ skipped: 1, pendingWriteBytes: 0, blocks: 2 });
    await cache.close();
  });
});
