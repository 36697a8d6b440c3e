/** fsck with the real ChunkCodec on a real in-memory store: a healthy filespace, then damage of every kind. */
import { describe, expect, it } from "vitest";
import { ChunkCodec, newChunkId } from "../../../src/crypto/chunk.js";
import { Keyring } from "../../../src/crypto/keyring.js";
import { checkChunks } from "../../../src/meta/fsck/index.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";

const key = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
const codec = new ChunkCodec(Keyring.generate(), { blockSize: 4096 });
const authenticate = (id: string, sealed: Buffer) => codec.open(id, sealed).length;
const later = () => Date.now() + 2 * 60 * 60_000;

async function filespace(name: string) {
  const store = new MemoryObjectStore(`${name}-${process.pid}`);
  const refs = [];
  for (let i = 0; i < 6; i++) {
    const id = newChunkId();
    await store.put(key(id), codec.seal(id, Buffer.alloc(10_000, i)));
    refs.push({
      chunkId: id,
      ranges: [
        { offset: 0, length: 5_000 },
        { offset: 5_000, length: 5_000 },
      ],
    });
  }
  return { store, refs };
}

describe("fsck", () => {
  it("finds nothing on a healthy filespace", async () => {
    const { store, refs } = await filespace("fsck-healthy");
    const report = await checkChunks({ store, references: refs, authenticate, now: later });
    expect(report).toMatchObject({ healthy: true, referencedChunks: 6, checkedChunks: 6, missing: [], corrupt: [] });
    expect(report.orphans).toEqual([]);
  });

  it("names missing, tampered, swapped and out-of-range chunks, and orphans (removed only with the flag)", async () => {
    const { store, refs } = await filespace("fsck-damaged");
    const [missing, tampered, swappedA, swappedB, short] = refs.map((r) => r.chunkId) as string[];
    await store.delete(key(missing!));
    const t = await store.get(key(tampered!));
    t[100]! ^= 0xff;
    await store.put(key(tampered!), t);
    // Swap two chunk objects: each is authentic, but not under that id.
    const a = await store.get(key(swappedA!));
    await store.put(key(swappedA!), await store.get(key(swappedB!)));
    await store.put(key(swappedB!), a);
    refs[4]!.ranges.push({ offset: 9_000, length: 2_000 });
    const orphan = newChunkId();
    await store.put(key(orphan), codec.seal(orphan, Buffer.alloc(100)));

    const report = await checkChunks({ store, references: refs, authenticate, now: later });
    expect(report.healthy).toBe(false);
    expect(report.missing).toEqual([missing]);
    expect(report.corrupt.map((c) => c.chunkId).sort()).toEqual([tampered, swappedA, swappedB].sort());
    expect(report.outOfRange).toEqual([{ chunkId: short, offset: 9_000, length: 2_000, chunkLength: 10_000 }]);
    expect(report.orphans.map((o) => o.chunkId)).toEqual([orphan]);
    expect(report.orphansRemoved).toBe(0);
    await expect(store.head(key(orphan))).resolves.toBeDefined();

    // A young orphan may be an upload about to be committed: reported as pending, never removed.
    const young = await checkChunks({ store, references: refs, authenticate, removeOrphans: true });
    expect(young).toMatchObject({ pending: 1, orphansRemoved: 0 });

    const fixed = await checkChunks({ store, references: refs, authenticate, removeOrphans: true, now: later });
    expect(fixed.orphansRemoved).toBe(1);
    await expect(store.head(key(orphan))).rejects.toThrow(/not found/);
  });
});
