/** Test doubles for the data path: a latency/counting store wrapper and an in-memory metadata model. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCodec, Keyring, newChunkId } from "../../src/crypto/index.js";
import {
  type CommitOptions,
  type CommitSink,
  chunkObjectKey,
  type Extent,
  type ExtentSource,
} from "../../src/data/index.js";
import { IntervalMap } from "../../src/data/writeback/interval-map.js";
import { MemoryObjectStore } from "../../src/object/memory.js";
import type { GetOptions, ObjectStore, PutOptions } from "../../src/object/types.js";

let storeCounter = 0;

/** Wraps a memory store: fixed latency per call, counts calls, can hang or fail puts. */
export class TestStore implements ObjectStore {
  readonly inner: MemoryObjectStore;
  readonly description = "test";
  readonly capabilities = { conditionalPut: true };
  gets: Array<{ key: string; offset?: number; length?: number }> = [];
  puts = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** When set, puts never complete (a process "dies" mid-upload). */
  hangPuts = false;
  failPuts = false;
  latencyMs: number;

  constructor(latencyMs = 0) {
    this.inner = new MemoryObjectStore(`data-test-${process.pid}-${storeCounter++}`);
    this.latencyMs = latencyMs;
  }

  private async delay<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      return await fn();
    } finally {
      this.inFlight--;
    }
  }

  get(key: string, options?: GetOptions) {
    this.gets.push({ key, offset: options?.range?.offset, length: options?.range?.length });
    return this.delay(() => this.inner.get(key, options));
  }
  head(key: string) {
    return this.delay(() => this.inner.head(key));
  }
  async put(key: string, body: Buffer, options?: PutOptions) {
    this.puts++;
    if (this.hangPuts) return new Promise<never>(() => {});
    if (this.failPuts) throw new Error("store unreachable");
    return this.delay(() => this.inner.put(key, body, options));
  }
  delete(key: string) {
    return this.delay(() => this.inner.delete(key));
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async close() {}
}

export const BLOCK = 16 * 1024;

export function makeCodec(blockSize = BLOCK): ChunkCodec {
  return new ChunkCodec(Keyring.generate(), { blockSize });
}

/** The metadata service's file model: extents with newer-shadows-older, sizes, deduped commit ids. */
export class MemoryMeta implements ExtentSource, CommitSink {
  readonly files = new Map<number, { map: IntervalMap<Extent>; size: number }>();
  readonly applied = new Set<string>();
  commits = 0;
  duplicateCommits = 0;
  failCommits = false;
  extentCalls = 0;

  private file(ino: number) {
    let f = this.files.get(ino);
    if (!f) {
      f = { map: new IntervalMap<Extent>(), size: 0 };
      this.files.set(ino, f);
    }
    return f;
  }

  async getExtents(ino: number, offset: number, length: number): Promise<Extent[]> {
    this.extentCalls++;
    const f = this.files.get(ino);
    if (!f) return [];
    return f.map.overlapping(offset, offset + length).map((it) => ({
      offset: it.start,
      length: it.end - it.start,
      chunkId: it.value.chunkId,
      chunkOffset: it.value.chunkOffset + it.skip,
    }));
  }

  async commitWrite(ino: number, extents: Extent[], newSize: number, _mtime: Date, o: CommitOptions): Promise<void> {
    if (this.failCommits) throw new Error("metadata service unreachable");
    if (this.applied.has(o.commitId)) {
      this.duplicateCommits++;
      return;
    }
    this.applied.add(o.commitId);
    this.commits++;
    const f = this.file(ino);
    for (const e of extents) f.map.set(e.offset, e.offset + e.length, e);
    f.size = Math.max(f.size, newSize, ...extents.map((e) => e.offset + e.length));
  }

  async setSize(ino: number, size: number, _mtime: Date, o: CommitOptions): Promise<void> {
    if (this.failCommits) throw new Error("metadata service unreachable");
    if (this.applied.has(o.commitId)) {
      this.duplicateCommits++;
      return;
    }
    this.applied.add(o.commitId);
    this.commits++;
    const f = this.file(ino);
    f.map.cut(size, Number.MAX_SAFE_INTEGER);
    f.size = size;
  }

  sizeOf(ino: number): number {
    return this.files.get(ino)?.size ?? 0;
  }
}

/** Store `data` as one chunk and make it the whole content of `ino`. Returns the chunk id. */
export async function putFile(store: ObjectStore, codec: ChunkCodec, meta: MemoryMeta, ino: number, data: Buffer) {
  const id = newChunkId();
  await store.put(chunkObjectKey(id), codec.seal(id, data));
  await meta.commitWrite(
    ino,
    [{ offset: 0, length: data.length, chunkId: id, chunkOffset: 0 }],
    data.length,
    new Date(),
    {
      commitId: `put-${id}`,
    },
  );
  return id;
}

export function pattern(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return b;
}

export function tempDir(name: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `fs-data-${name}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export { newChunkId };
