import { describe, expect, it } from "vitest";
import { newChunkId } from "../../src/crypto/index.js";
import {
  BlockFetcher,
  blockKey,
  chunkObjectKey,
  DataReader,
  LocalRunSource,
  MemoryBlockCache,
  Prefetcher,
  RequestScheduler,
  type SequenceHint,
} from "../../src/data/index.js";
import { BLOCK, MemoryMeta, makeCodec, pattern, putFile, TestStore } from "./helpers.js";

const knobs = {
  prefetchInitialWindowBytes: 2 * BLOCK,
  prefetchMaxWindowBytes: 32 * BLOCK,
  prefetchMaxBytesInFlight: 256 * BLOCK,
  maxGetBytes: 8 * BLOCK,
  prefetchConcurrency: 8,
  sequenceDepth: 3,
  sequenceAheadBytes: 64 << 20,
  sequenceMaxFileBytes: 1 << 20,
};

function setup(latencyMs: number, hint?: SequenceHint) {
  const store = new TestStore(latencyMs);
  const codec = makeCodec();
  const meta = new MemoryMeta();
  const memory = new MemoryBlockCache(64 << 20);
  const fetcher = new BlockFetcher(
    new LocalRunSource(store, codec, knobs.maxGetBytes),
    codec,
    memory,
    undefined,
    new RequestScheduler({ demand: 8, prefetch: 8 }),
    knobs.maxGetBytes,
  );
  const reader = new DataReader(meta, fetcher, codec.blockSize);
  const prefetcher = new Prefetcher(reader, knobs, hint);
  return { store, codec, meta, memory, fetcher, reader, prefetcher };
}

const settle = () => new Promise((r) => setTimeout(r, 60));
/** Poll until `cond` holds (a busy CI machine can be slow to run background prefetch). */
async function waitFor(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

describe("Prefetcher", () => {
  it("grows the window on sequential reads, resets on a random read, and reads ahead in parallel", async () => {
    const t = setup(20);
    const size = 256 * BLOCK;
    await putFile(t.store, t.codec, t.meta, 1, pattern(size, 1));
    const windows: number[] = [];
    let pos = 0;
    for (let i = 0; i < 6; i++) {
      await t.reader.read(1, pos, BLOCK);
      t.prefetcher.onRead(7, 1, pos, BLOCK, size);
      windows.push(t.prefetcher.windowOf(7)!);
      pos += BLOCK;
    }
    expect(windows).toEqual([2, 4, 8, 16, 32, 32].map((n) => n * BLOCK));
    await waitFor(() => t.store.maxInFlight > 1);
    expect(t.store.maxInFlight).toBeGreaterThan(1);
    // random read: window back to the start
    t.prefetcher.onRead(7, 1, 200 * BLOCK, BLOCK, size);
    expect(t.prefetcher.windowOf(7)).toBe(2 * BLOCK);
  });

  it("drop-behind: a stream's consumed blocks leave the memory cache, read-ahead and random reads stay", async () => {
    const t = setup(5);
    const size = 64 * BLOCK;
    const data = pattern(size, 3);
    const chunk = await putFile(t.store, t.codec, t.meta, 1, data);
    // As DataPath.readv does it: ask whether the read continues a stream, then record it.
    const read = async (handle: number, pos: number, n: number) => {
      const drop = t.prefetcher.continuesStream(handle, 1, pos, n);
      const parts = await t.reader.readv(1, pos, n, drop);
      t.prefetcher.onRead(handle, 1, pos, n, size);
      expect(Buffer.concat(parts).equals(data.subarray(pos, pos + n))).toBe(true);
      return drop;
    };
    const drops: boolean[] = [];
    for (let pos = 0; pos < 32 * BLOCK; pos += 2 * BLOCK) drops.push(await read(1, pos, 2 * BLOCK));
    await waitFor(() => t.prefetcher.stats.bytesInFlight === 0);
    // The first read is not a stream yet; from the second on (it went on from offset 0) a read
    // drops what it consumed.
    expect(drops[0]).toBe(false);
    expect(drops.slice(1).every(Boolean)).toBe(true);
    for (let b = 2; b < 32; b++) expect(t.memory.has(blockKey(chunk, b))).toBe(false);
    // What was read ahead and not yet consumed is still there, and was not counted as wasted.
    expect(t.memory.bytes).toBeGreaterThan(0);
    expect(t.memory.accuracy.wasted).toBe(0);
    // A random reader's block stays cached (a second read of it is a memory hit).
    await read(2, 60 * BLOCK, BLOCK);
    await read(2, 10 * BLOCK, BLOCK);
    const storeGets = t.store.gets.length;
    await read(2, 60 * BLOCK, BLOCK);
    await read(2, 10 * BLOCK, BLOCK);
    expect(t.store.gets.length).toBe(storeGets);
    expect(t.memory.has(blockKey(chunk, 60))).toBe(true);
    expect(t.memory.has(blockKey(chunk, 10))).toBe(true);
  });

  it("sequential reads after warm-up are served from memory (prefetch used, not wasted)", async () => {
    const t = setup(5);
    const size = 64 * BLOCK;
    const data = pattern(size, 2);
    await putFile(t.store, t.codec, t.meta, 1, data);
    for (let pos = 0; pos < size; pos += BLOCK) {
      const got = await t.reader.read(1, pos, BLOCK);
      expect(got.equals(data.subarray(pos, pos + BLOCK))).toBe(true);
      t.prefetcher.onRead(1, 1, pos, BLOCK, size);
      if (pos === 2 * BLOCK) await waitFor(() => t.prefetcher.stats.bytesInFlight === 0);
    }
    expect(t.memory.accuracy.used).toBeGreaterThan(56);
    expect(t.memory.accuracy.wasted).toBe(0);
    // misses are the first blocks plus blocks whose prefetch was still in flight ("late")
    expect(t.memory.misses - t.memory.accuracy.late).toBeLessThan(8);
  });

  it("sequence prediction: reading frame 1 prefetches the next frames named by the VFS hint", async () => {
    const frames = [11, 12, 13, 14, 15];
    const hint: SequenceHint = async (ino, count) => {
      const i = frames.indexOf(ino);
      return frames.slice(i + 1, i + 1 + count).map((f) => ({ ino: f, size: 4 * BLOCK }));
    };
    const t = setup(5, hint);
    for (const f of frames) await putFile(t.store, t.codec, t.meta, f, pattern(4 * BLOCK, f));
    await t.reader.read(11, 0, 4 * BLOCK);
    t.prefetcher.onRead(1, 11, 0, 4 * BLOCK, 4 * BLOCK);
    await waitFor(() => t.prefetcher.stats.sequencePredictions === 3 && t.prefetcher.stats.bytesInFlight === 0);
    expect(t.prefetcher.stats.sequencePredictions).toBe(3);
    // each predicted frame whole in one GET (not cut in quarters: several frames are in flight anyway)
    expect(t.store.gets).toHaveLength(1 + 3);
    t.store.gets = [];
    for (const f of [12, 13, 14]) {
      expect((await t.reader.read(f, 0, 4 * BLOCK)).equals(pattern(4 * BLOCK, f))).toBe(true);
    }
    expect(t.store.gets).toHaveLength(0);
    expect(t.memory.accuracy.used).toBe(12);
    // A predicted frame read from its start is a stream from its first read (drop-behind), a
    // file nobody predicted is not.
    expect(t.prefetcher.continuesStream(9, 14, 0, BLOCK)).toBe(true);
    expect(t.prefetcher.continuesStream(9, 11, 0, BLOCK)).toBe(false);
    expect(t.prefetcher.continuesStream(9, 14, BLOCK, BLOCK)).toBe(false);
  });

  it("sequence prediction keeps sequenceAheadBytes of next files requested: the horizon moves one file per file", async () => {
    const frames = [21, 22, 23, 24, 25, 26];
    const hint: SequenceHint = async (ino, count) => {
      const i = frames.indexOf(ino);
      return frames.slice(i + 1, i + 1 + count).map((f) => ({ ino: f, size: 4 * BLOCK }));
    };
    const t = setup(5, hint);
    const p = new Prefetcher(t.reader, { ...knobs, sequenceAheadBytes: 8 * BLOCK }, hint);
    for (const f of frames) await putFile(t.store, t.codec, t.meta, f, pattern(4 * BLOCK, f));
    const predicted = () => new Set(t.store.gets.map((g) => g.key)).size;
    p.onRead(1, 21, 0, BLOCK, 4 * BLOCK);
    await waitFor(() => p.stats.sequencePredictions === 2 && p.stats.bytesInFlight === 0);
    await settle();
    expect(p.stats.sequencePredictions).toBe(2); // 22 and 23: 8 blocks
    expect(predicted()).toBe(3); // the rest of 21, then 22 and 23
    p.onRead(2, 22, 0, BLOCK, 4 * BLOCK);
    await waitFor(() => p.stats.sequencePredictions === 3 && p.stats.bytesInFlight === 0);
    await settle();
    expect(p.stats.sequencePredictions).toBe(3); // 24 joins; 23 was asked for already
    expect(predicted()).toBe(4);
  });

  it("cuts read-ahead on the chunk grid: one whole-chunk GET per chunk once the window is full", async () => {
    const t = setup(5);
    const chunk = knobs.maxGetBytes; // a window of 32 blocks makes 8-block pieces: one per chunk
    const chunks = 16;
    const data = pattern(chunks * chunk, 5);
    const extents = [];
    for (let i = 0; i < chunks; i++) {
      const id = newChunkId();
      await t.store.put(chunkObjectKey(id), t.codec.seal(id, data.subarray(i * chunk, (i + 1) * chunk)));
      extents.push({ offset: i * chunk, length: chunk, chunkId: id, chunkOffset: 0 });
    }
    await t.meta.commitWrite(1, extents, data.length, new Date(), { commitId: "grid" });
    const read = 3 * BLOCK; // reads that never fall on the grid themselves
    for (let pos = 0; pos < data.length; pos += read) {
      const len = Math.min(read, data.length - pos);
      expect((await t.reader.read(1, pos, len)).equals(data.subarray(pos, pos + len))).toBe(true);
      t.prefetcher.onRead(9, 1, pos, len, data.length);
    }
    await waitFor(() => t.prefetcher.stats.bytesInFlight === 0);
    const whole = t.codec.sealedRange(0, chunk);
    // From the fifth chunk on the window is at its maximum (the first ones are read while it grows).
    for (const e of extents.slice(4)) {
      const gets = t.store.gets.filter((g) => g.key === chunkObjectKey(e.chunkId));
      expect(gets).toEqual([{ key: chunkObjectKey(e.chunkId), offset: whole.offset, length: whole.length }]);
    }
  });

  it("once the window is full, refills a piece at a time: what is requested ahead never sags to half a window", async () => {
    const t = setup(5);
    const size = 256 * BLOCK;
    await putFile(t.store, t.codec, t.meta, 1, pattern(size, 6));
    const piece = knobs.maxGetBytes; // a full window (32 blocks) is cut into 8-block pieces
    const aheadAfter: number[] = [];
    for (let pos = 0; pos < 160 * BLOCK; pos += BLOCK) {
      t.prefetcher.onRead(4, 1, pos, BLOCK, size);
      if (pos >= 8 * BLOCK) aheadAfter.push(t.prefetcher.aheadOf(4)!); // the window is full from here
    }
    expect(Math.min(...aheadAfter)).toBeGreaterThan(knobs.prefetchMaxWindowBytes - piece);
    expect(Math.max(...aheadAfter)).toBeLessThanOrEqual(knobs.prefetchMaxWindowBytes);
    await waitFor(() => t.prefetcher.stats.bytesInFlight === 0);
  });

  it("asks for store connections as a stream's window grows, one per GET it will keep in flight", async () => {
    const t = setup(5);
    const asked: number[] = [];
    const p = new Prefetcher(t.reader, { ...knobs, prefetchConcurrency: 3 }, undefined, (gets) => asked.push(gets));
    const size = 256 * BLOCK;
    await putFile(t.store, t.codec, t.meta, 1, pattern(size, 7));
    p.onRead(1, 1, 100 * BLOCK, BLOCK, size); // one random read: no stream, nothing asked
    expect(asked).toEqual([]);
    for (let pos = 0; pos < 8 * BLOCK; pos += BLOCK) p.onRead(2, 1, pos, BLOCK, size);
    // windows 4, 8, 16, 32 blocks = 1, 1, 2, 4 GETs of 8 blocks; capped at prefetchConcurrency
    expect(asked).toEqual([2, 3]);
    await waitFor(() => p.stats.bytesInFlight === 0);
  });

  it("caps bytes in flight", async () => {
    const t = setup(30);
    const size = 1024 * BLOCK;
    await putFile(t.store, t.codec, t.meta, 1, pattern(size, 3));
    const capped = new Prefetcher(t.reader, {
      ...knobs,
      prefetchMaxWindowBytes: 512 * BLOCK,
      prefetchMaxBytesInFlight: 16 * BLOCK,
    });
    let peak = 0;
    for (let i = 0; i < 12; i++) {
      capped.onRead(1, 1, i * BLOCK, BLOCK, size);
      peak = Math.max(peak, capped.stats.bytesInFlight);
    }
    expect(peak).toBeLessThanOrEqual(16 * BLOCK);
    expect(capped.stats.throttled).toBeGreaterThan(0);
    await waitFor(() => capped.stats.bytesInFlight === 0);
    expect(capped.stats.bytesInFlight).toBe(0);
  });
});

describe("Prefetcher with kernel-style parallel readahead", () => {
  it("reads arriving slightly out of order still count as sequential", async () => {
    const t = setup(0);
    const size = 512 * BLOCK;
    await putFile(t.store, t.codec, t.meta, 1, pattern(size, 4));
    const R = 8 * BLOCK; // 128 KiB reads, pairs swapped
    const order = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8];
    for (const i of order) t.prefetcher.onRead(3, 1, i * R, R, size);
    expect(t.prefetcher.windowOf(3)).toBe(knobs.prefetchMaxWindowBytes);
    await settle();
  });
});
