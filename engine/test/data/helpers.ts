/** Test doubles for the data path: a latency/counting store wrapper and an in-memory metadata model. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCodec, Keyring, newChunkId, writeBackLogKeys } from "../../src/crypto/index.js";
import {
  type CommitOptions,
  type CommitSink,
  chunkObjectKey,
  type Extent,
  type ExtentSource,
} from "../../src/data/index.js";
import { IntervalMap } from "../../src/data/writeback/interval-map.js";
import { LatencyObjectStore } from "../../src/object/latency.js";
import { MemoryObjectStore } from "../../src/object/memory.js";
import type { GetOptions, ObjectStore, PutOptions } from "../../src/object/types.js";

let storeCounter = 0;

/** Write-back log keys of one test keyring, shared by every open in this process (replay works). */
export const logKeys = writeBackLogKeys(Keyring.generate());

/**
 * A memory store behind the object layer's latency wrapper (round trip `latencyMs`, split
 * evenly per direction), counting calls and peak concurrency; can hang or fail puts.
 */
export class TestStore implements ObjectStore {
  readonly inner: MemoryObjectStore;
  private wire!: ObjectStore;
  private rtt = 0;
  readonly description = "test";
  readonly capabilities = { conditionalPut: true };
  gets: Array<{ key: string; offset?: number; length?: number }> = [];
  puts = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** When set, puts never complete (a process "dies" mid-upload). */
  hangPuts = false;
  failPuts = false;

  constructor(latencyMs = 0, inner?: MemoryObjectStore) {
    this.inner = inner ?? new MemoryObjectStore(`data-test-${process.pid}-${storeCounter++}`);
    this.latencyMs = latencyMs;
  }

  get latencyMs(): number {
    return this.rtt;
  }
  set latencyMs(ms: number) {
    this.rtt = ms;
    this.wire = new LatencyObjectStore(this.inner, { requestMs: ms / 2, responseMs: ms / 2 });
  }

  private async counted<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await fn();
    } finally {
      this.inFlight--;
    }
  }

  get(key: string, options?: GetOptions) {
    this.gets.push({ key, offset: options?.range?.offset, length: options?.range?.length });
    return this.counted(() => this.wire.get(key, options));
  }
  head(key: string) {
    return this.counted(() => this.wire.head(key));
  }
  async put(key: string, body: Buffer, options?: PutOptions) {
    this.puts++;
    if (this.hangPuts) return new Promise<never>(() => {});
    if (this.failPuts) throw new Error("store unreachable");
    return this.counted(() => this.wire.put(key, body, options));
  }
  delete(key: string) {
    return this.counted(() => this.wire.delete(key));
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
