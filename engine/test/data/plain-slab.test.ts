import { describe, expect, it } from "vitest";
import {
  BlockFetcher,
  DataReader,
  LocalRunSource,
  MemoryBlockCache,
  PlainSlab,
  RequestScheduler,
} from "../../src/data/index.js";
import { BLOCK, MemoryMeta, makeCodec, pattern, putFile, TestStore } from "./helpers.js";

function setup(memoryBytes: number, slabBytes: number) {
  const store = new TestStore(0);
  const codec = makeCodec();
  const meta = new MemoryMeta();
  const slab = new PlainSlab(codec.blockSize, slabBytes);
  const memory = new MemoryBlockCache(memoryBytes, slab);
  const fetcher = new BlockFetcher(
    new LocalRunSource(store, codec, 8 * BLOCK),
    codec,
    memory,
    undefined,
    new RequestScheduler({ demand: 4, prefetch: 4 }),
    8 * BLOCK,
    slab,
  );
  const reader = new DataReader(meta, fetcher, codec.blockSize);
  return { store, codec, meta, slab, memory, reader };
}

describe("PlainSlab", () => {
  it("counts slots: take, retain, release; LIFO reuse; exhaustion is reported, not fatal", () => {
    const slab = new PlainSlab(BLOCK, 8 * 1024 * 1024); // one arena
    const perArena = (8 * 1024 * 1024) / BLOCK;
    const [a, b] = slab.take(2);
    expect(slab.stats()).toMatchObject({ slots: perArena, inUse: 2 });
    slab.retain(a!);
    slab.release(a!);
    expect(slab.stats().inUse).toBe(2);
    slab.release(a!);
    expect(slab.take(1)).toEqual([a]); // the warm slot comes back first
    expect(() => {
      slab.release(b!);
      slab.release(b!);
    }).toThrow(/released more often/);
    const rest = slab.take(perArena + 5);
    expect(rest.length).toBe(perArena - 1);
    expect(slab.stats().exhausted).toBe(6);
  });

  it("a block whose opener used its own buffer is not adopted, and its slot goes back", () => {
    const slab = new PlainSlab(BLOCK, BLOCK);
    const [s] = slab.take(1);
    const own = Buffer.alloc(10);
    expect(slab.adopt(s!, own)).toBe(own);
    expect(slab.slotOf(own)).toBeUndefined();
    expect(slab.stats().inUse).toBe(0);
  });

  it("a leased block keeps its bytes while evictions reuse slots; released leases free them", async () => {
    // memory cache of 8 blocks, so reading 64 more evicts everything many times over
    const t = setup(8 * BLOCK, 64 * 1024 * 1024);
    const data = pattern(128 * BLOCK, 5);
    await putFile(t.store, t.codec, t.meta, 1, data);
    const held = await t.reader.readv(1, 0, 4 * BLOCK);
    const copy = Buffer.concat(held);
    expect(copy.equals(data.subarray(0, 4 * BLOCK))).toBe(true);
    for (let pos = 4 * BLOCK; pos < 128 * BLOCK; pos += 4 * BLOCK) {
      const parts = await t.reader.readv(1, pos, 4 * BLOCK);
      expect(Buffer.concat(parts).equals(data.subarray(pos, pos + 4 * BLOCK))).toBe(true);
      parts.release();
    }
    // The held views still show the first blocks: their slots were not reused.
    expect(Buffer.concat(held).equals(copy)).toBe(true);
    // Slots in use: the cache's 8 blocks and the 4 held.
    expect(t.slab.stats().inUse).toBe(8 + 4);
    held.release();
    held.release(); // idempotent
    expect(t.slab.stats().inUse).toBe(8);
    // Only a few slots were ever needed for 128 blocks streamed through.
    expect(t.slab.stats().slots).toBe((8 * 1024 * 1024) / BLOCK);
  });

  it("with every slot taken, reads fall back to ordinary buffers and stay correct", async () => {
    const t = setup(64 * BLOCK, 8 * BLOCK); // slab smaller than one arena → one arena
    const data = pattern(64 * BLOCK, 6);
    await putFile(t.store, t.codec, t.meta, 1, data);
    const perArena = t.slab.stats().slots || (8 * 1024 * 1024) / BLOCK;
    const hog = t.slab.take(perArena); // someone holds every slot
    const parts = await t.reader.readv(1, 0, 64 * BLOCK);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(t.slab.stats().exhausted).toBeGreaterThan(0);
    parts.release();
    for (const s of hog) t.slab.release(s);
  });
});
