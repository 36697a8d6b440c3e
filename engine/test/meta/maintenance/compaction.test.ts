/**
 * Compaction on the in-process service with a real in-memory store and the real ChunkCodec:
 * a file fragmented by many small overlapping writes keeps its exact content, loses most of its
 * extents, its old chunks become unreferenced and GC collects them; a write that lands while
 * compaction runs is never lost (ifContent CAS → EBUSY → retry).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ChunkCodec, newChunkId } from "../../../src/crypto/chunk.js";
import { Keyring } from "../../../src/crypto/keyring.js";
import type { CallContext } from "../../../src/meta/api.js";
import { collectGarbage } from "../../../src/meta/gc/index.js";
import { compactFile, compactTree, fragmentation } from "../../../src/meta/maintenance/index.js";
import { MemoryObjectStore } from "../../../src/object/memory.js";
import type { ObjectStore } from "../../../src/object/types.js";
import { inProcessFixture } from "../helpers/fixture.js";
import { sealName } from "../helpers/names.js";

const chunkKey = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
const CHUNK = 64 * 1024;
let n = 0;
/** Byte equality (vitest's deep equality is slow on 300 KB buffers). */
const same = (a: Buffer, b: Buffer) => a.length === b.length && a.equals(b);

/** A store whose first chunk put runs `hook` first (a concurrent writer racing compaction); records puts. */
function racingStore(inner: ObjectStore, hook: () => Promise<void>, puts: string[]): ObjectStore {
  let fired = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "put") {
        return async (key: string, body: Buffer, o?: object) => {
          puts.push(key);
          if (!fired && key.startsWith("chunks/")) {
            fired = true;
            await hook();
          }
          return target.put(key, body, o);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

async function setup(compress = false) {
  const f = inProcessFixture({ start: Date.now() });
  const store = new MemoryObjectStore(`compact-${process.pid}-${n++}`);
  const codec = new ChunkCodec(Keyring.generate(), { blockSize: 4096 });
  const token = f.issue({ client: "t", mode: "admin", subtreeRoot: 1 });
  const { sessionId } = await f.api.openSession({ token }, { requestId: randomUUID() });
  const ctx: CallContext = { token, sessionId };
  const model = new Map<number, Buffer>();
  /** Writes `data` at `offset` as one new chunk (what a write-back commit does) and mirrors it. */
  const write = async (ino: number, offset: number, data: Buffer) => {
    const id = newChunkId();
    await store.put(chunkKey(id), codec.seal(id, data, { compress }));
    await f.api.commitWrite(ctx, {
      requestId: randomUUID(),
      ino,
      extents: [{ offset, length: data.length, chunk: id, chunkOffset: 0 }],
      newSize: offset + data.length,
      mtime: 1_000,
    });
    const cur = model.get(ino) ?? Buffer.alloc(0);
    const next = Buffer.alloc(Math.max(cur.length, offset + data.length));
    cur.copy(next);
    data.copy(next, offset);
    model.set(ino, next);
  };
  const create = async (parent: number, name: string) =>
    (
      await f.api.create(ctx, {
        requestId: randomUUID(),
        parent,
        name: sealName(parent, name),
        mode: 0o644,
        uid: 0,
        gid: 0,
      })
    ).attr.ino;
  /** Reads a file back independently: whole chunks opened, extents copied, holes zero. */
  const read = async (ino: number) => {
    const { size, extents } = await f.api.getExtents(ctx, { ino });
    const out = Buffer.alloc(size);
    for (const e of extents) {
      const plain = codec.open(e.chunk, await store.get(chunkKey(e.chunk)));
      plain.copy(out, e.offset, e.chunkOffset, e.chunkOffset + e.length);
    }
    return out;
  };
  /** 40 appends of 5000 bytes, 20 small overwrites inside, then a hole and a tail. */
  const fragment = async (ino: number) => {
    for (let i = 0; i < 40; i++) await write(ino, i * 5000, randomBytes(5000));
    for (let i = 0; i < 20; i++) {
      await write(ino, Math.floor(Math.random() * 190_000), randomBytes(100 + Math.floor(Math.random() * 5000)));
    }
    await write(ino, 300_000, randomBytes(1000)); // leaves a hole before it
  };
  const deps = { api: f.api, ctx, store, codec, chunkSize: CHUNK };
  return { f, store, codec, ctx, deps, model, write, create, read, fragment };
}

describe("compaction", () => {
  it("rewrites a fragmented file: same bytes, fewer extents, old chunks collected by GC", async () => {
    const t = await setup();
    const ino = await t.create(1, "frag");
    await t.fragment(ino);
    expect(same(await t.read(ino), t.model.get(ino)!)).toBe(true);
    const before = await t.f.api.getExtents(t.ctx, { ino });
    expect(fragmentation(before.size, before.extents)).toMatch(/extents/);

    const r = await compactFile(t.deps, ino);
    expect(r.compacted).toBe(true);
    expect(r.extentsBefore).toBe(before.extents.length);
    // 200,000 bytes + a 1000-byte tail in 64 KiB chunks; the hole splits one run.
    expect(r.extentsAfter).toBeLessThanOrEqual(Math.ceil(r.bytesRewritten / CHUNK) + 1);
    expect(r.extentsAfter).toBeLessThan(before.extents.length / 5);
    expect(same(await t.read(ino), t.model.get(ino)!)).toBe(true);
    const attr = (await t.f.api.getattr(t.ctx, { inos: [ino] })).items[0]!.attr!;
    expect(attr).toMatchObject({ size: 301_000, mtime: 1_000 });

    const refs = new Set(t.f.service.ns.chunkReferences());
    for (const id of r.releasedChunks) expect(refs.has(id)).toBe(false);
    for (const id of r.newChunks) expect(refs.has(id)).toBe(true);
    const gc = await collectGarbage({ store: t.store, referenced: () => refs, graceMs: 0 });
    // Released chunks go (with chunks overwritten earlier, unreferenced already); new ones stay.
    for (const id of r.releasedChunks) expect(gc.deletedIds).toContain(id);
    for (const id of r.newChunks) expect(gc.deletedIds).not.toContain(id);
    expect(same(await t.read(ino), t.model.get(ino)!)).toBe(true);

    // Already compact: left alone.
    expect(await compactFile(t.deps, ino)).toMatchObject({ compacted: false, reason: "not fragmented" });
    await t.f.close();
  });

  it("keeps chunks a snapshot still needs and reads compressed chunks", async () => {
    const t = await setup(true);
    const ino = await t.create(1, "snap");
    await t.fragment(ino);
    await t.f.api.createSnapshot(t.ctx, { requestId: randomUUID(), name: "s" });
    const r = await compactFile(t.deps, ino);
    expect(r.compacted).toBe(true);
    expect(same(await t.read(ino), t.model.get(ino)!)).toBe(true);
    const refs = new Set(t.f.service.ns.chunkReferences());
    for (const id of r.releasedChunks) expect(refs.has(id)).toBe(true); // the snapshot holds them
    await t.f.close();
  });

  it("never loses a write that lands while it runs (EBUSY, then it starts over)", async () => {
    const t = await setup();
    const ino = await t.create(1, "busy");
    await t.fragment(ino);
    const late = randomBytes(3000);
    const puts: string[] = [];
    const deps = { ...t.deps, store: racingStore(t.store, () => t.write(ino, 10_000, late), puts) };
    const r = await compactFile(deps, ino);
    expect(r).toMatchObject({ compacted: true, conflicts: 1 });
    const content = await t.read(ino);
    expect(same(content.subarray(10_000, 13_000), late)).toBe(true);
    expect(same(content, t.model.get(ino)!)).toBe(true);
    // The losing attempt's uploads were removed; the winning attempt's are referenced.
    const losing = puts.map((k) => k.split("/")[2]!).filter((id) => !r.newChunks.includes(id));
    expect(losing.length).toBeGreaterThan(0);
    for (const id of losing) await expect(t.store.head(chunkKey(id))).rejects.toThrow(/not found/i);
    const refs = new Set(t.f.service.ns.chunkReferences());
    for (const id of r.newChunks) expect(refs.has(id)).toBe(true);
    await t.f.close();
  });

  it("gives up without committing when uploads outlast commitWithinMs (GC grace), leaving nothing behind", async () => {
    const t = await setup();
    const ino = await t.create(1, "slow");
    await t.fragment(ino);
    const before = await t.f.api.getExtents(t.ctx, { ino });
    const chunksBefore = (await t.store.list("chunks/")).objects.length;
    await expect(compactFile(t.deps, ino, { commitWithinMs: 0 })).rejects.toThrow(/past commitWithinMs/);
    expect(await t.f.api.getExtents(t.ctx, { ino })).toEqual(before);
    expect((await t.store.list("chunks/")).objects.length).toBe(chunksBefore);
    await t.f.close();
  });

  it("compactTree walks directories and compacts only fragmented files", async () => {
    const t = await setup();
    const dir = (
      await t.f.api.mkdir(t.ctx, {
        requestId: randomUUID(),
        parent: 1,
        name: sealName(1, "d"),
        mode: 0o755,
        uid: 0,
        gid: 0,
      })
    ).attr.ino;
    const fragged = await t.create(dir, "a");
    await t.fragment(fragged);
    const tidy = await t.create(1, "b");
    await t.write(tidy, 0, randomBytes(50_000));
    const r = await compactTree(t.deps, 1);
    expect(r.filesScanned).toBe(2);
    expect(r.failed).toEqual([]);
    expect(r.files.map((f) => f.ino)).toEqual([fragged]);
    expect(same(await t.read(fragged), t.model.get(fragged)!)).toBe(true);
    expect(same(await t.read(tidy), t.model.get(tidy)!)).toBe(true);
    await t.f.close();
  });
});
