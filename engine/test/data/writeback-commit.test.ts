/**
 * Write-back commit throughput and ordering: steps of different inodes are committed
 * concurrently (N small files must not cost N metadata round trips), steps of one inode stay
 * in order (never two in flight, never a later one first), and a crash in the middle of a
 * concurrently committed segment replays exactly the steps that did not land.
 *
 * The sink is the in-memory metadata model behind a 50 ms delay (a WAN round trip); the real
 * service's side is measured through gRPC in engine/test/meta/grpc/wan-creates.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  BlockFetcher,
  type CommitOptions,
  DataReader,
  type Extent,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
  WriteBack,
  type WriteBackKnobs,
} from "../../src/data/index.js";
import { logKeys, MemoryMeta, makeCodec, newChunkId, pattern, TestStore, tempDir } from "./helpers.js";

const knobs: WriteBackKnobs = {
  chunkBytes: 256 * 1024,
  segmentBytes: 64 * 1024 * 1024,
  flushDelayMs: 60_000,
  uploadConcurrency: 8,
  maxBacklogBytes: 256 * 1024 * 1024,
  backlogFullWaitMs: 1000,
  retryBaseMs: 5,
  retryMaxMs: 20,
};

/** A CommitSink with a round-trip delay that checks per-inode order as commits arrive. */
class SlowSink {
  readonly meta = new MemoryMeta();
  readonly inFlight = new Map<number, number>();
  maxInFlight = 0;
  current = 0;
  violations: string[] = [];
  /** Last step index committed per inode (commit ids are wb-<segment>-<step>). */
  readonly lastStep = new Map<string, number>();
  /** Inodes whose commits never answer (and never apply): the process "dies" with them in flight. */
  hang = new Set<number>();
  constructor(readonly delayMs: (ino: number) => number) {}

  async #around(ino: number, o: CommitOptions, apply: () => Promise<void>): Promise<void> {
    if ((this.inFlight.get(ino) ?? 0) > 0) this.violations.push(`ino ${ino}: two commits in flight`);
    this.inFlight.set(ino, (this.inFlight.get(ino) ?? 0) + 1);
    this.current++;
    this.maxInFlight = Math.max(this.maxInFlight, this.current);
    try {
      await new Promise((r) => setTimeout(r, this.delayMs(ino)));
      if (this.hang.has(ino)) await new Promise(() => {});
      const [, seg, step] = /^wb-(.+)-(\d+)$/.exec(o.commitId)!;
      const key = `${seg}/${ino}`;
      const prev = this.lastStep.get(key) ?? -1;
      if (Number(step) <= prev && !this.meta.applied.has(o.commitId))
        this.violations.push(`ino ${ino}: step ${step} after ${prev}`);
      this.lastStep.set(key, Math.max(prev, Number(step)));
      await apply();
    } finally {
      this.current--;
      this.inFlight.set(ino, this.inFlight.get(ino)! - 1);
    }
  }

  commitWrite(ino: number, extents: Extent[], newSize: number, mtime: Date, o: CommitOptions): Promise<void> {
    return this.#around(ino, o, () => this.meta.commitWrite(ino, extents, newSize, mtime, o));
  }
  setSize(ino: number, size: number, mtime: Date, o: CommitOptions): Promise<void> {
    return this.#around(ino, o, () => this.meta.setSize(ino, size, mtime, o));
  }
}

describe("WriteBack commits", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function setup(sink: SlowSink) {
    const dir = tempDir("wb-commit");
    cleanups.push(dir.cleanup);
    const store = new TestStore();
    const codec = makeCodec();
    const open = (k: Partial<WriteBackKnobs> = {}) =>
      WriteBack.open({ dir: dir.path, store, codec, sink, newChunkId, logKeys }, { ...knobs, ...k });
    /** The committed file as another client sees it. */
    const stored = (ino: number) => {
      const cache = new MemoryBlockCache(64 << 20);
      const fetcher = new BlockFetcher(
        new LocalRunSource(store, codec, 1 << 20),
        codec,
        cache,
        undefined,
        new RequestScheduler({ demand: 8, prefetch: 4 }),
        1 << 20,
      );
      return new DataReader(sink.meta, fetcher, codec.blockSize).read(ino, 0, sink.meta.sizeOf(ino));
    };
    return { dir, store, open, stored };
  }

  it("commits many small files concurrently: a handful of round trips, not one per file", async () => {
    const timed = async (files: number, commitConcurrency: number) => {
      const sink = new SlowSink(() => 50);
      const wb = await setup(sink).open({ commitConcurrency });
      for (let i = 0; i < files; i++) await wb.write(100 + i, 0, pattern(4096, i), 0);
      const t0 = performance.now();
      await wb.flush();
      const ms = performance.now() - t0;
      expect(sink.meta.commits).toBe(files);
      expect(sink.violations).toEqual([]);
      await wb.drain();
      return { ms, maxInFlight: sink.maxInFlight };
    };
    const serial = await timed(20, 1);
    const concurrent = await timed(1000, 256);
    const serialPerFile = serial.ms / 20;
    const concurrentPerFile = concurrent.ms / 1000;
    console.log(
      `write-back commits over a 50 ms sink: serial ${serialPerFile.toFixed(1)} ms/file (${(1000 / serialPerFile).toFixed(0)} files/s), ` +
        `concurrent ${concurrentPerFile.toFixed(2)} ms/file (${(1000 / concurrentPerFile).toFixed(0)} files/s), max in flight ${concurrent.maxInFlight}`,
    );
    expect(serial.maxInFlight).toBe(1);
    expect(concurrent.maxInFlight).toBe(256);
    expect(serialPerFile).toBeGreaterThanOrEqual(45);
    // 1,000 files in 4 waves of 256: ~200 ms, far from the 50 s one at a time would take.
    expect(concurrent.ms).toBeLessThan(2_000);
  });

  it("keeps each inode's steps in order while other inodes proceed, and the result is the model", async () => {
    // Random delays shuffle completion order across inodes; one inode gets many steps.
    const sink = new SlowSink(() => Math.floor(Math.random() * 15));
    const { open, stored } = setup(sink);
    const wb = await open();
    const model = new Map<number, Buffer>();
    const sizes = new Map<number, number>();
    const write = async (ino: number, off: number, data: Buffer) => {
      const size = sizes.get(ino) ?? 0;
      await wb.write(ino, off, data, size);
      const cur = Buffer.alloc(Math.max(size, off + data.length));
      model.get(ino)?.copy(cur);
      data.copy(cur, off);
      model.set(ino, cur);
      sizes.set(ino, cur.length);
    };
    const truncate = async (ino: number, size: number) => {
      await wb.truncate(ino, size);
      const cur = Buffer.alloc(size);
      model.get(ino)?.copy(cur, 0, 0, Math.min(size, model.get(ino)!.length));
      model.set(ino, cur);
      sizes.set(ino, size);
    };
    for (let round = 0; round < 30; round++) {
      for (let ino = 1; ino <= 20; ino++) await write(ino, round * 100, pattern(300, ino * 1000 + round));
      await truncate(7, 50 + round * 90); // inode 7: write, truncate, write, ... many ordered steps
    }
    await wb.flush();
    expect(sink.violations).toEqual([]);
    for (const [ino, data] of model) expect((await stored(ino)).equals(data), `ino ${ino}`).toBe(true);
    await wb.drain();
  });

  it("a crash with part of a segment committed replays only the rest, in order, nothing twice", async () => {
    const sink = new SlowSink((ino) => (ino % 3) * 5);
    const { open, stored } = setup(sink);
    const first = await open();
    const model = new Map<number, Buffer>();
    for (let ino = 1; ino <= 60; ino++) {
      const a = pattern(2000, ino);
      await first.write(ino, 0, a, 0);
      await first.truncate(ino, 1500);
      const b = pattern(700, ino + 500);
      await first.write(ino, 1200, b, 1500);
      const m = Buffer.alloc(1900);
      a.copy(m, 0, 0, 1500);
      b.copy(m, 1200);
      model.set(ino, m);
    }
    first.fsync();
    // Every third inode's commits never come back: the process dies with them in flight.
    for (let ino = 3; ino <= 60; ino += 3) sink.hang.add(ino);
    void first.flush();
    while (sink.meta.commits < 40 * 3) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    const landed = sink.meta.commits;
    expect(landed).toBe(40 * 3);

    // A new process opens the same log; the service now answers everything.
    sink.hang.clear();
    sink.inFlight.clear(); // the dead process's calls never finish: stop counting them
    const second = await open();
    await second.flush();
    expect(sink.violations).toEqual([]);
    expect(sink.meta.commits).toBe(60 * 3); // the 20 hung inodes' 3 steps each, and nothing else
    expect(sink.meta.duplicateCommits).toBe(0);
    for (const [ino, m] of model) expect((await stored(ino)).equals(m), `ino ${ino}`).toBe(true);
    expect(second.stats().backlogBytes).toBe(0);
    await second.drain();
  });
});
