import { readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  BlockFetcher,
  DataReader,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
  WriteBack,
  WriteBackFullError,
  type WriteBackKnobs,
} from "../../src/data/index.js";
import { logKeys, MemoryMeta, makeCodec, newChunkId, pattern, TestStore, tempDir } from "./helpers.js";

const knobs: WriteBackKnobs = {
  chunkBytes: 64 * 1024,
  segmentBytes: 256 * 1024,
  flushDelayMs: 60_000,
  uploadConcurrency: 4,
  maxBacklogBytes: 8 * 1024 * 1024,
  backlogFullWaitMs: 200,
  retryBaseMs: 5,
  retryMaxMs: 20,
};

function env() {
  const dir = tempDir("wb");
  const store = new TestStore();
  const codec = makeCodec();
  const meta = new MemoryMeta();
  const open = (k: Partial<WriteBackKnobs> = {}, s = store) =>
    WriteBack.open({ dir: dir.path, store: s, codec, sink: meta, newChunkId, logKeys }, { ...knobs, ...k });
  const reader = () =>
    new DataReader(
      meta,
      new BlockFetcher(
        new LocalRunSource(store, codec, 1 << 20),
        codec,
        new MemoryBlockCache(64 << 20),
        undefined,
        new RequestScheduler({ demand: 8, prefetch: 4 }),
        1 << 20,
      ),
      codec.blockSize,
    );
  /** The committed file as another client sees it. */
  const stored = (ino: number) => reader().read(ino, 0, meta.sizeOf(ino));
  return { dir, store, codec, meta, open, stored };
}

describe("WriteBack", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("uploads in parallel chunks and commits extents; reads see pending writes before that", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    e.store.latencyMs = 10;
    const wb = await e.open({ segmentBytes: 1024 * 1024 });
    const a = pattern(300 * 1024, 1);
    await wb.write(7, 0, a, 0);
    await wb.write(7, 1000, Buffer.from("overwritten"), a.length);
    const expected = Buffer.from(a);
    Buffer.from("overwritten").copy(expected, 1000);
    // read-your-writes before any upload
    const view = wb.view(7, 0, a.length);
    expect(view.covered).toBe(true);
    expect(wb.pendingSize(7)).toBe(a.length);
    await wb.flush();
    expect(e.store.puts).toBe(Math.ceil(a.length / knobs.chunkBytes));
    expect(e.store.maxInFlight).toBeGreaterThan(1);
    expect((await e.stored(7)).equals(expected)).toBe(true);
    expect(wb.pendingSize(7)).toBeUndefined();
    expect(wb.stats().backlogBytes).toBe(0);
    expect(readdirSync(e.dir.path).filter((n) => n.endsWith(".log"))).toHaveLength(1); // only the new active segment
    // a second, larger round reuses the chunk buffers: two per upload slot at most
    const b = pattern(40 * knobs.chunkBytes + 123, 2);
    await wb.write(8, 5, b, b.length + 5);
    await wb.flush();
    expect((await e.stored(8)).subarray(5).equals(b)).toBe(true);
    expect(wb.stats().uploadedChunks).toBe(Math.ceil(a.length / knobs.chunkBytes) + 41);
    expect(wb.stats().uploadBuffers).toBeLessThanOrEqual(2 * knobs.uploadConcurrency);
    await wb.drain();
    await wb.drain(); // idempotent
    expect(readdirSync(e.dir.path)).toEqual([]); // unmounted clean: nothing to replay
    await expect(wb.write(7, 0, Buffer.from("late"), 0)).rejects.toThrow(/closed/);
  });

  it("a sequential writer's cells are whole objects: segments are cut on the chunk grid", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    const wb = await e.open({ segmentBytes: 4 * knobs.chunkBytes });
    // a small file first: counting its bytes and the record headers, every segment would
    // otherwise fill up in the middle of one of the big file's cells
    await wb.write(1, 0, pattern(5000, 3), 0);
    const big = pattern(10 * knobs.chunkBytes, 4);
    for (let at = 0; at < big.length; at += 16 * 1024) await wb.write(2, at, big.subarray(at, at + 16 * 1024), at);
    await wb.flush();
    expect(e.store.puts).toBe(11); // ten cells and the small file
    const extents = await e.meta.getExtents(2, 0, big.length);
    expect(extents.map((x) => [x.offset, x.length, x.chunkOffset])).toEqual(
      Array.from({ length: 10 }, (_, i) => [i * knobs.chunkBytes, knobs.chunkBytes, 0]),
    );
    expect((await e.stored(2)).equals(big)).toBe(true);
    await wb.drain();
  });

  it("truncate then write: the metadata service sees the cut, and the overlay zeroes stored data meanwhile", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    const wb = await e.open();
    await wb.write(1, 0, pattern(100_000, 2), 0);
    await wb.flush();
    await wb.truncate(1, 10);
    await wb.write(1, 50, Buffer.from("xy"), 10);
    const view = wb.view(1, 0, 52);
    expect(view.floor).toBe(10);
    expect(wb.pendingSize(1)).toBe(52);
    await wb.flush();
    const expected = Buffer.alloc(52);
    pattern(10, 2).copy(expected);
    expected.write("xy", 50);
    expect(e.meta.sizeOf(1)).toBe(52);
    expect((await e.stored(1)).equals(expected)).toBe(true);
    await wb.drain();
  });

  it("crash mid-upload: reopening the log uploads and commits everything fsynced, nothing torn", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    const first = await e.open({ segmentBytes: 64 * 1024 });
    const model = Buffer.alloc(400_000);
    let size = 0;
    for (let i = 0; i < 40; i++) {
      const off = (i * 7919) % 300_000;
      const data = pattern(10_000, i);
      await first.write(3, off, data, size);
      data.copy(model, off);
      size = Math.max(size, off + data.length);
      if (i === 20) e.store.hangPuts = true; // the process "dies" with uploads in flight
    }
    first.fsync();
    // a write after the fsync that gets torn by the crash
    await first.write(3, 0, pattern(5000, 99), size);
    const logs = readdirSync(e.dir.path)
      .filter((n) => n.endsWith(".log"))
      .sort();
    const last = join(e.dir.path, logs[logs.length - 1]!);
    truncateSync(last, readFileSync(last).length - 100);
    // abandon `first` (no drain, no abort); a new process opens the same directory
    const store2 = new TestStore(0, e.store.inner);
    const second = await e.open({}, store2);
    await second.flush();
    expect(e.meta.sizeOf(3)).toBe(size);
    expect((await e.stored(3)).equals(model.subarray(0, size))).toBe(true);
    expect(second.stats().backlogBytes).toBe(0);
    await second.drain();
  });

  it("a batch committed but not recorded locally is deduplicated by its commit id", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    const wb = await e.open();
    await wb.write(4, 0, Buffer.from("hello"), 0);
    // simulate the crash window: the commit lands, the `.done` line is never written
    const realCommit = e.meta.commitWrite.bind(e.meta);
    let crashed = false;
    e.meta.commitWrite = async (...args) => {
      await realCommit(...args);
      crashed = true;
      return new Promise<void>(() => {}); // never acknowledged
    };
    void wb.flush();
    while (!crashed) await new Promise((r) => setTimeout(r, 5));
    e.meta.commitWrite = realCommit;
    const wb2 = await e.open();
    await wb2.flush();
    expect(e.meta.commits).toBe(1);
    expect(e.meta.duplicateCommits).toBe(1);
    expect((await e.stored(4)).toString()).toBe("hello");
    await wb2.drain();
  });

  it("while the service is unreachable, writes queue up to the bound, then fail clearly; abort leaves them queued", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    e.meta.failCommits = true;
    const wb = await e.open({ maxBacklogBytes: 1024 * 1024, segmentBytes: 128 * 1024 });
    let size = 0;
    let error: unknown;
    try {
      for (let i = 0; i < 100; i++) {
        await wb.write(5, size, pattern(64 * 1024, i), size);
        size += 64 * 1024;
      }
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(WriteBackFullError);
    expect((error as Error).message).toMatch(/metadata service unreachable/);
    expect(size).toBeGreaterThan(512 * 1024);
    // reads still see the queued data
    expect(wb.pendingSize(5)).toBe(size);
    const { pendingSegments, pendingBytes } = await wb.abort();
    expect(pendingSegments).toBeGreaterThan(0);
    expect(pendingBytes).toBeGreaterThanOrEqual(size);
    // next mount, service back: everything lands
    e.meta.failCommits = false;
    const wb2 = await e.open();
    await wb2.flush();
    expect(e.meta.sizeOf(5)).toBe(size);
    const all = await e.stored(5);
    for (let i = 0; i < size / (64 * 1024); i++) {
      expect(all.subarray(i * 65536, (i + 1) * 65536).equals(pattern(65536, i))).toBe(true);
    }
    await wb2.drain();
  });

  it("commit ids never repeat, even when a wiped log directory restarts segment numbers", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    for (let round = 0; round < 3; round++) {
      const wb = await e.open();
      await wb.write(8, round, Buffer.from([round + 1]), round);
      await wb.drain();
      for (const n of readdirSync(e.dir.path)) rmSync(join(e.dir.path, n));
    }
    expect(e.meta.duplicateCommits).toBe(0);
    expect((await e.stored(8)).equals(Buffer.from([1, 2, 3]))).toBe(true);
  });

  it("a log directory written by garbage is cut at the first bad record", async () => {
    const e = env();
    cleanups.push(e.dir.cleanup);
    const wb = await e.open();
    await wb.write(9, 0, Buffer.from("kept"), 0);
    wb.fsync();
    const log = readdirSync(e.dir.path).find((n) => n.endsWith(".log"))!;
    writeFileSync(join(e.dir.path, log), Buffer.concat([readFileSync(join(e.dir.path, log)), Buffer.from("garbage!")]));
    const wb2 = await e.open();
    await wb2.flush();
    expect((await e.stored(9)).toString()).toBe("kept");
    await wb2.drain();
  });
});
