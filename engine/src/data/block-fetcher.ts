/**
 * Blocks of one chunk: memory → disk → object store, with single-flight and coalescing.
 *
 * - Single-flight: every missing block gets one in-flight promise, registered synchronously
 *   before anything is awaited; later readers of the same block join it, so a block is fetched
 *   once however many readers want it at the same time.
 * - Coalescing: the blocks a call must fetch from the store are grouped into contiguous runs,
 *   each one range GET (at most `maxGetBytes`) done by a RunSource (on this thread, or in the
 *   fetch worker pool); every block is opened on its own (a tampered block fails alone); the
 *   run of good blocks is written sealed to the disk cache as one file, straight from the
 *   response buffer (pooled, reused).
 * - Priority: prefetch runs in its own request pool; a demand read that joins a queued prefetch
 *   request promotes it.
 */
import type { DiskBlockCache } from "./block-cache/disk.js";
import type { MemoryBlockCache } from "./block-cache/memory.js";
import { Lease, type PlainSlab, type ReservedSlots, reserveSlots, type SlabStats } from "./block-cache/plain-slab.js";
import { BlockReadError } from "./errors.js";
import type { RunSource } from "./run-source.js";
import type { RequestScheduler } from "./scheduler.js";
import { type BlockCodec, blockKey, type Priority } from "./types.js";

interface Flight {
  promoted: boolean;
  promoteTask?: () => void;
  /** Reads waiting for the block: each counts it (plain-slab.ts) the moment it lands. */
  leases: Lease[];
}

interface InFlight {
  promise: Promise<Buffer>;
  flight: Flight;
}

interface Pending {
  block: number;
  resolve(b: Buffer): void;
  reject(e: unknown): void;
  flight: Flight;
}

export interface FetchStats {
  gets: number;
  getBytes: number;
  blocksFromStore: number;
  blocksFromDisk: number;
  /** Readers that joined a block already being fetched. */
  joined: number;
}

export class BlockFetcher {
  private readonly inflight = new Map<string, InFlight>();
  readonly stats: FetchStats = { gets: 0, getBytes: 0, blocksFromStore: 0, blocksFromDisk: 0, joined: 0 };

  constructor(
    readonly source: RunSource,
    private readonly codec: BlockCodec,
    private readonly memory: MemoryBlockCache,
    private readonly disk: DiskBlockCache | undefined,
    private readonly scheduler: RequestScheduler,
    private readonly maxGetBytes: number,
    /** Where opened blocks are decrypted into (reused memory); without it, fresh buffers. */
    private readonly slab?: PlainSlab,
  ) {}

  slabStats(): SlabStats | undefined {
    return this.slab?.stats();
  }

  /** A lease for the blocks one read will return (see plain-slab.ts); release it after use. */
  lease(): Lease {
    return this.slab ? this.slab.lease() : new Lease(undefined);
  }

  /**
   * Plaintext of blocks [first, first+count) of a chunk, in order. A demand read passes its
   * `lease`: the blocks stay valid until the lease is released (a slab slot is not reused while
   * a lease holds it). Without a lease the buffers may be reused once the memory cache lets go.
   */
  getBlocks(chunkId: string, first: number, count: number, priority: Priority, lease?: Lease): Promise<Buffer[]> {
    const out: Array<Buffer | Promise<Buffer>> = [];
    const missing: Pending[] = [];
    for (let b = first; b < first + count; b++) {
      const key = blockKey(chunkId, b);
      const hit = priority === "demand" ? this.memory.get(key) : undefined;
      if (hit) {
        lease?.hold(hit);
        out.push(hit);
        continue;
      }
      const flying = this.inflight.get(key);
      if (flying) {
        this.stats.joined++;
        if (priority === "demand") {
          flying.flight.promoted = true;
          flying.flight.promoteTask?.();
        }
        if (lease) flying.flight.leases.push(lease);
        out.push(flying.promise);
        continue;
      }
      if (priority === "prefetch" && this.memory.has(key)) continue;
      out.push(this.register(key, b, priority, missing, lease));
    }
    if (missing.length > 0) void this.load(chunkId, missing, priority);
    return Promise.all(out);
  }

  /** A demand read consumed this block whole and will not come back for it (drop-behind). */
  forget(chunkId: string, block: number): void {
    this.memory.delete(blockKey(chunkId, block));
  }

  private register(key: string, block: number, priority: Priority, missing: Pending[], lease?: Lease): Promise<Buffer> {
    const flight: Flight = { promoted: priority === "demand", leases: lease ? [lease] : [] };
    let pending!: Pending;
    const promise = new Promise<Buffer>((resolve, reject) => {
      pending = { block, resolve, reject, flight };
    });
    // Settled promises are observed by whoever awaits them; avoid unhandled rejections for
    // prefetch requests nobody awaits.
    promise.catch(() => {});
    missing.push(pending);
    this.inflight.set(key, { promise, flight });
    return promise;
  }

  private async load(chunkId: string, missing: Pending[], priority: Priority): Promise<void> {
    const prefetched = priority === "prefetch";
    const settle = (p: Pending, data?: Buffer, err?: unknown) => {
      this.inflight.delete(blockKey(chunkId, p.block));
      if (data) {
        if (prefetched && p.flight.promoted) {
          // prefetched, and a demand read was already waiting for it: useful, but late
          this.memory.accuracy.prefetched++;
          this.memory.accuracy.used++;
          this.memory.accuracy.late++;
        }
        this.memory.set(blockKey(chunkId, p.block), data, prefetched && !p.flight.promoted);
        // Counted for each waiting read now, before anything can evict it and reuse its slot.
        for (const lease of p.flight.leases) lease.hold(data);
        p.resolve(data);
      } else p.reject(new BlockReadError(chunkId, p.block, { cause: err }));
    };
    const fromStore: Pending[] = [];
    if (this.disk) await this.loadCached(chunkId, missing, settle, fromStore);
    else fromStore.push(...missing);
    const maxBlocks = Math.max(1, Math.floor(this.maxGetBytes / this.codec.blockSize));
    let run: Pending[] = [];
    const runs: Pending[][] = [];
    for (const p of fromStore) {
      const last = run[run.length - 1];
      if (last && (p.block !== last.block + 1 || run.length >= maxBlocks)) {
        runs.push(run);
        run = [];
      }
      run.push(p);
    }
    if (run.length > 0) runs.push(run);
    await Promise.all(runs.map((r) => this.fetchRun(chunkId, r, settle)));
  }

  /**
   * Blocks the disk cache holds are read and opened by the run source (a fetch worker: the main
   * thread touches neither the sealed bytes nor fresh plaintext memory); what is not cached, or
   * fails to read or open, goes to `fromStore` (a bad file or block is dropped from the cache).
   */
  private async loadCached(
    chunkId: string,
    missing: Pending[],
    settle: (p: Pending, data?: Buffer, err?: unknown) => void,
    fromStore: Pending[],
  ): Promise<void> {
    const disk = this.disk!;
    const byBlock = new Map(missing.map((p) => [p.block, p]));
    const ranges = disk.locate(
      chunkId,
      missing.map((p) => p.block),
    );
    const located = new Set<number>();
    for (const r of ranges) for (let b = r.first; b < r.first + r.count; b++) located.add(b);
    const retry = new Set<Pending>();
    await Promise.all(
      ranges.map(async (r) => {
        const reported = new Set<number>();
        const slots = reserveSlots(this.slab, r.count);
        try {
          await this.source.openCached(
            chunkId,
            r,
            (i, opened) => {
              const p = byBlock.get(r.first + i)!;
              reported.add(i);
              const plain = slots.adopt(i, opened);
              if (plain) {
                this.stats.blocksFromDisk++;
                settle(p, plain);
              } else {
                disk.drop(chunkId, p.block);
                retry.add(p);
              }
            },
            slots.targets,
          );
          disk.readDone(r, true);
        } catch {
          disk.readDone(r, false);
          for (let i = 0; i < r.count; i++) if (!reported.has(i)) retry.add(byBlock.get(r.first + i)!);
        } finally {
          slots.releaseUnused();
        }
      }),
    );
    // in block order, so store runs coalesce as before
    for (const p of missing) if (!located.has(p.block) || retry.has(p)) fromStore.push(p);
  }

  private async fetchRun(
    chunkId: string,
    run: Pending[],
    settle: (p: Pending, data?: Buffer, err?: unknown) => void,
  ): Promise<void> {
    const first = run[0]!.block;
    const promoted = run.some((p) => p.flight.promoted);
    const opened: boolean[] = []; // per block of the run, once reported: did it open?
    let slots: ReservedSlots | undefined; // taken when the GET starts, not while it queues
    const task = this.scheduler.schedule(promoted ? "demand" : "prefetch", () => {
      const reserved = reserveSlots(this.slab, run.length);
      slots = reserved;
      return this.source.fetch(
        { chunkId, first, count: run.length },
        (i, decrypted, err) => {
          const plain = reserved.adopt(i, decrypted);
          opened[i] = plain !== undefined;
          if (plain) this.stats.blocksFromStore++;
          settle(run[i]!, plain, err);
        },
        reserved.targets,
      );
    });
    for (const p of run) p.flight.promoteTask = task.promote;
    let fetched: Awaited<typeof task.promise>;
    try {
      fetched = await task.promise;
    } catch (err) {
      for (const p of run.slice(opened.length)) settle(p, undefined, err);
      return;
    } finally {
      slots?.releaseUnused();
    }
    const { body, release } = fetched;
    this.stats.gets++;
    this.stats.getBytes += body.length;
    const disk = this.disk;
    const stride = this.codec.sealedRange(0, this.codec.blockSize).length;
    // Consecutive blocks that opened fine, cached on disk as one file each (a tampered block
    // fails alone and is never cached).
    const good: Array<{ first: number; start: number; end: number }> = [];
    opened.forEach((ok, i) => {
      if (!ok) return;
      const start = i * stride;
      const end = Math.min(body.length, start + stride);
      const last = good[good.length - 1];
      if (last && last.end === start) last.end = end;
      else good.push({ first: first + i, start, end });
    });
    if (!disk || good.length === 0) {
      release();
      return;
    }
    const writes = good.map((g) =>
      disk.putRun(chunkId, g.first, Math.ceil((g.end - g.start) / stride), stride, body.subarray(g.start, g.end)),
    );
    void Promise.all(writes).finally(release);
  }
}
