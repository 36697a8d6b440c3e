/**
 * The fetch worker pool with real worker threads (the built worker in engine/dist) over a real
 * file:// store: runs arrive opened, in order, per block; a tampered block fails alone; store
 * errors and unopenable stores surface with their names; lent GET buffers come back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChunkCodec, Keyring, newChunkId } from "../../src/crypto/index.js";
import { chunkObjectKey, FetchPool } from "../../src/data/index.js";
import { openObjectStore } from "../../src/object/index.js";
import type { ObjectStore } from "../../src/object/types.js";
import { pattern } from "./helpers.js";

const BLOCK = 64 * 1024;
const BLOCKS = 16;

describe("fetch worker pool", () => {
  let dir: string;
  let url: string;
  let store: ObjectStore;
  const keyring = Keyring.generate();
  const codec = new ChunkCodec(keyring, { blockSize: BLOCK });
  const data = pattern(BLOCKS * BLOCK - 1000, 7); // short last block
  const good = newChunkId();
  const tampered = newChunkId();
  let pool: FetchPool;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fetch-pool-"));
    url = pathToFileURL(dir).href;
    store = await openObjectStore(url);
    await store.put(chunkObjectKey(good), codec.seal(good, data));
    const bad = codec.seal(tampered, data);
    const stride = codec.sealedRange(0, BLOCK).length;
    bad[3 * stride + 100]! ^= 0x40;
    await store.put(chunkObjectKey(tampered), bad);
    pool = await FetchPool.open({ storeUrl: url, keyring, blockSize: BLOCK, maxGetBytes: 4 << 20, workers: 2 });
  });
  afterAll(async () => {
    await pool?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Fetches a run and collects what the pool reported for each block. */
  async function fetchRun(chunkId: string, first: number, count: number) {
    const reported: Array<{ index: number; plain?: Buffer; error?: Error }> = [];
    const run = await pool.fetch({ chunkId, first, count }, (index, plain, error) =>
      reported.push({ index, ...(plain ? { plain } : {}), ...(error ? { error: error as Error } : {}) }),
    );
    return { run, reported };
  }

  it("delivers every block of a run opened, in order, and lends the sealed body", async () => {
    const { run, reported } = await fetchRun(good, 2, BLOCKS - 2);
    expect(reported.map((r) => r.index)).toEqual([...Array(BLOCKS - 2).keys()]);
    const joined = Buffer.concat(reported.map((r) => r.plain!));
    expect(joined.equals(data.subarray(2 * BLOCK))).toBe(true);
    const sealed = codec.sealedRange(2 * BLOCK, (BLOCKS - 2) * BLOCK);
    const whole = await store.get(chunkObjectKey(good));
    expect(run.body.equals(whole.subarray(sealed.offset, sealed.offset + run.body.length))).toBe(true);
    expect(pool.bufferStats().inUse).toBeGreaterThan(0);
    run.release();
  });

  it("spreads concurrent runs over the workers and reuses released buffers", async () => {
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => fetchRun(good, i, 4)));
    for (const [i, { reported }] of runs.entries()) {
      const want = data.subarray(i * BLOCK, Math.min(data.length, (i + 4) * BLOCK));
      expect(Buffer.concat(reported.map((r) => r.plain!)).equals(want)).toBe(true);
    }
    for (const { run } of runs) run.release();
    // Runs sent in one turn count for their worker as they are picked: 6 each, in buffers cut
    // 4 to an allocation (8 each). All 12 on one worker would have cut 12.
    const allocated = pool.bufferStats().allocated;
    expect(allocated).toBe(16);
    const again = await fetchRun(good, 0, 1);
    again.run.release();
    expect(pool.bufferStats().allocated).toBe(allocated); // the 13th run reused one
  });

  it("fails a tampered block alone", async () => {
    const { run, reported } = await fetchRun(tampered, 0, BLOCKS);
    run.release();
    expect(reported.filter((r) => r.error).map((r) => r.index)).toEqual([3]);
    expect(reported[3]!.error!.name).toBe("IntegrityError");
    expect(reported[4]!.plain!.equals(data.subarray(4 * BLOCK, 5 * BLOCK))).toBe(true);
  });

  it("rejects a run whose chunk is missing, with the store's error name", async () => {
    await expect(fetchRun(newChunkId(), 0, 2)).rejects.toMatchObject({ name: "ObjectNotFoundError" });
  });

  it("opens disk-cached blocks in a worker: a tampered block fails alone, a short file fails the read", async () => {
    const stride = codec.sealedRange(0, BLOCK).length;
    const sealed = codec.seal(good, data);
    const file = join(dir, "cached-run");
    const from = 3; // the file holds blocks 3.. of the chunk
    const bytes = Buffer.from(sealed.subarray(from * stride));
    bytes[2 * stride + 50]! ^= 0x01; // block 5
    writeFileSync(file, bytes);
    const reported: Array<{ index: number; plain?: Buffer; error?: Error }> = [];
    const read = {
      file,
      offset: stride,
      length: bytes.length - stride,
      stride,
      first: from + 1,
      count: BLOCKS - from - 1,
    };
    await pool.openCached(good, read, (index, plain, error) =>
      reported.push({ index, ...(plain ? { plain } : {}), ...(error ? { error: error as Error } : {}) }),
    );
    expect(reported.map((r) => r.index)).toEqual([...Array(BLOCKS - from - 1).keys()]);
    expect(reported.filter((r) => r.error).map((r) => r.index)).toEqual([1]); // block 5
    expect(reported[0]!.plain!.equals(data.subarray(4 * BLOCK, 5 * BLOCK))).toBe(true);
    expect(reported.at(-1)!.plain!.equals(data.subarray((BLOCKS - 1) * BLOCK))).toBe(true);
    await expect(pool.openCached(good, { ...read, length: read.length + 10 }, () => {})).rejects.toThrow(/shorter/);
    await expect(pool.openCached(good, { ...read, file: join(dir, "gone") }, () => {})).rejects.toThrow(/ENOENT/);
  });

  it("fails the runs of a worker that dies and replaces it for the next run", async () => {
    const script = new URL("./fixtures/crashing-fetch-worker.mjs", import.meta.url);
    const dying = await FetchPool.open({
      storeUrl: url,
      keyring,
      blockSize: BLOCK,
      maxGetBytes: 1 << 20,
      workers: 1,
      script,
    });
    try {
      const run = { chunkId: good, first: 0, count: 1 };
      await expect(dying.fetch(run, () => {})).rejects.toThrow(/fetch worker exited \(code 3\)/);
      // a fresh worker takes the next run (and dies the same way: this script always does)
      await expect(dying.fetch(run, () => {})).rejects.toThrow(/fetch worker exited \(code 3\)/);
      expect(dying.size).toBe(1);
    } finally {
      await dying.close();
    }
  });

  it("fails to open when a worker cannot open the store", async () => {
    await expect(
      FetchPool.open({ storeUrl: "bogus://x", keyring, blockSize: BLOCK, maxGetBytes: 1 << 20, workers: 1 }),
    ).rejects.toThrow(/bogus/);
  });
});
