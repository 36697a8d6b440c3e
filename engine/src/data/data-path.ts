/**
 * The data path of one mount, wired together: the VFS calls `read`/`write`/`truncate`/`fsync`/
 * `flush` with inode ids and sizes, and plugs in the metadata client as ExtentSource and
 * CommitSink. Reads lay the write-back overlay (read-your-writes) over stored data.
 */
import type { Keyring } from "../crypto/keyring.js";
import type { WriteBackLogKeys } from "../crypto/writeback-log-key.js";
import type { ObjectStore } from "../object/types.js";
import { DiskBlockCache } from "./block-cache/disk.js";
import { MemoryBlockCache } from "./block-cache/memory.js";
import { PlainSlab } from "./block-cache/plain-slab.js";
import { BlockFetcher } from "./block-fetcher.js";
import { type DataPathConfig, pooledGetBytes } from "./config.js";
import { directIoStats } from "./direct-io.js";
import { FetchPool } from "./fetch-pool/pool.js";
import { Prefetcher, type SequenceHint } from "./prefetch/prefetcher.js";
import { DataReader } from "./reader.js";
import { LocalRunSource } from "./run-source.js";
import { RequestScheduler } from "./scheduler.js";
import type { BlockCodec, CommitSink, ExtentSource } from "./types.js";
import { WriteBack } from "./writeback/writeback.js";

export interface DataPathDeps {
  store: ObjectStore;
  codec: BlockCodec;
  extents: ExtentSource;
  sink: CommitSink;
  newChunkId: () => string;
  /** Persistent block cache directory; omit for memory-only caching. */
  cacheDir?: string;
  /** Write-back log directory (must be on local disk, survives restarts). */
  logDir: string;
  /** Seal the write-back log at rest (see WriteBackDeps.logKeys). */
  logKeys?: WriteBackLogKeys;
  sequenceHint?: SequenceHint;
  /**
   * The store's URL and the filespace keys, for `config.fetchWorkers` worker threads that GET
   * and open blocks (data/fetch-pool). Without it (or with 0 workers, or a memory:// store that
   * a worker cannot reopen) runs are fetched on this thread.
   */
  workerAccess?: { storeUrl: string; keyring: Keyring };
}

export class DataPath {
  private constructor(
    readonly memory: MemoryBlockCache,
    readonly disk: DiskBlockCache | undefined,
    readonly scheduler: RequestScheduler,
    readonly fetcher: BlockFetcher,
    readonly reader: DataReader,
    readonly prefetcher: Prefetcher,
    readonly writeBack: WriteBack,
    private readonly dropBehind: boolean,
  ) {}

  static async open(deps: DataPathDeps, config: DataPathConfig): Promise<DataPath> {
    // Room for a full memory cache plus every block in flight (prefetch cap, demand GETs).
    const slabBytes =
      config.memoryCacheBytes + config.prefetchMaxBytesInFlight + config.demandConcurrency * config.maxGetBytes;
    const slab = config.plaintextSlab ? new PlainSlab(deps.codec.blockSize, slabBytes) : undefined;
    const memory = new MemoryBlockCache(config.memoryCacheBytes, slab);
    // A whole wave of prefetch GETs may land at once: each run must fit in the disk cache's
    // pending-write bound, or it is skipped and a warm re-read goes back to the store.
    const maxPendingWriteBytes = Math.max(64 * 1024 * 1024, config.prefetchConcurrency * config.maxGetBytes);
    const disk = deps.cacheDir
      ? await DiskBlockCache.open(deps.cacheDir, config.diskCacheBytes, { maxPendingWriteBytes })
      : undefined;
    const scheduler = new RequestScheduler({ demand: config.demandConcurrency, prefetch: config.prefetchConcurrency });
    const access = deps.workerAccess;
    const getBufferBytes = pooledGetBytes(config);
    const source =
      access && config.fetchWorkers > 0 && !access.storeUrl.startsWith("memory:")
        ? await FetchPool.open({
            ...access,
            blockSize: deps.codec.blockSize,
            maxGetBytes: getBufferBytes,
            workers: config.fetchWorkers,
          })
        : new LocalRunSource(deps.store, deps.codec, getBufferBytes);
    const fetcher = new BlockFetcher(source, deps.codec, memory, disk, scheduler, config.maxGetBytes, slab);
    const reader = new DataReader(deps.extents, fetcher, deps.codec.blockSize);
    const prefetcher = new Prefetcher(reader, config, deps.sequenceHint, (gets) => source.warmConnections(gets));
    const writeBack = await WriteBack.open(
      {
        dir: deps.logDir,
        store: deps.store,
        codec: deps.codec,
        sink: deps.sink,
        newChunkId: deps.newChunkId,
        logKeys: deps.logKeys,
      },
      config,
    );
    return new DataPath(memory, disk, scheduler, fetcher, reader, prefetcher, writeBack, config.memoryDropBehind);
  }

  /**
   * Read through handle `handle`: at most `length` bytes at `offset` of a file whose committed
   * size is `fileSize` (pending writes may have changed it). Feeds the prefetcher.
   */
  async read(handle: number, ino: number, offset: number, length: number, fileSize: number): Promise<Buffer> {
    const parts = await this.readv(handle, ino, offset, length, fileSize);
    try {
      return Buffer.concat(parts);
    } finally {
      parts.release?.();
    }
  }

  /**
   * `read` as a list of buffers (views of cached blocks when no pending write overlaps): what
   * the FUSE reply sends as one iovec. The buffers are shared: callers must not write into them,
   * and call `release` (when present) once the bytes are sent or copied (LeasedBuffers).
   */
  async readv(
    handle: number,
    ino: number,
    offset: number,
    length: number,
    fileSize: number,
  ): Promise<Buffer[] & { release?(): void }> {
    const size = this.writeBack.pendingSize(ino) ?? fileSize;
    const n = Math.max(0, Math.min(length, size - offset));
    if (n === 0) return [];
    // The overlay view first, then extents: see writeback/overlay.ts for why this order.
    const view = this.writeBack.view(ino, offset, n);
    const read =
      view.covered || (view.floor !== undefined && view.floor <= offset)
        ? undefined
        : this.reader.readv(ino, offset, n, this.dropBehind && this.prefetcher.continuesStream(handle, ino, offset, n));
    this.prefetcher.onRead(handle, ino, offset, n, size);
    const overlaid = view.pieces.length > 0 || (view.floor !== undefined && view.floor < offset + n);
    if (read && !overlaid) return read;
    const parts = read ? await read : undefined;
    const out = parts ? Buffer.concat(parts, n) : Buffer.alloc(n);
    parts?.release();
    if (view.floor !== undefined && view.floor < offset + n) out.fill(0, Math.max(0, view.floor - offset));
    for (const p of view.pieces) p.data.copy(out, p.offset - offset);
    return [out];
  }

  write(ino: number, offset: number, data: Buffer, sizeBefore: number): Promise<void> {
    return this.writeBack.write(ino, offset, data, sizeBefore);
  }

  truncate(ino: number, size: number): Promise<void> {
    return this.writeBack.truncate(ino, size);
  }

  fsync(): void {
    this.writeBack.fsync();
  }

  /** Close-to-open: on close, make the file's writes visible to other clients. */
  flush(): Promise<void> {
    return this.writeBack.flush();
  }

  /**
   * `filespace warm` / pinned-file refresh: bring [offset, offset+length) of a file into the
   * caches at prefetch priority and wait for it.
   */
  warm(ino: number, offset: number, length: number): Promise<void> {
    return this.reader.prefetch(ino, offset, length);
  }

  /** `filespace cache resize`: change the disk cache bound while mounted (shrinking evicts). */
  resizeDiskCache(bytes: number): void {
    this.disk?.resize(bytes);
  }

  /**
   * Unmount. Default: returns when every pending upload is committed. `force`: returns at once
   * and leaves pending writes queued in the log for the next mount (reported).
   */
  async close(options: { force?: boolean } = {}): Promise<{ pendingSegments: number; pendingBytes: number }> {
    let pending = { pendingSegments: 0, pendingBytes: 0 };
    if (options.force) pending = await this.writeBack.abort();
    else await this.writeBack.drain();
    await this.disk?.close();
    await this.fetcher.source.close();
    return pending;
  }

  release(handle: number): void {
    this.prefetcher.closeHandle(handle);
  }

  stats() {
    return {
      memory: {
        bytes: this.memory.bytes,
        blocks: this.memory.size,
        hits: this.memory.hits,
        misses: this.memory.misses,
      },
      disk: this.disk?.getStats(),
      /** Cache-file I/O on this thread: around the page cache (O_DIRECT) or through it. */
      diskIo: { ...directIoStats },
      fetch: { ...this.fetcher.stats },
      /** Plaintext slots: allocated, in use, and blocks that found none free. */
      slab: this.fetcher.slabStats(),
      /** Pooled GET buffers: allocated over the mount's life (first-touch cost), in use, idle. */
      buffers: this.fetcher.source.bufferStats(),
      prefetch: { ...this.prefetcher.stats, accuracy: { ...this.memory.accuracy } },
      writeBack: this.writeBack.stats(),
    };
  }
}
