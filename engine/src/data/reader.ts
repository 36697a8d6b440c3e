/**
 * Resolves a file read into blocks: extents (one metadata round trip, usually cached by the
 * VFS) → per-chunk block runs, merged across extents so adjacent extents of one chunk share a
 * range GET → BlockFetcher. Holes read as zeros; the caller clamps to the file size.
 */

import type { Lease } from "./block-cache/plain-slab.js";
import type { BlockFetcher } from "./block-fetcher.js";
import { blockKey, type Extent, type ExtentSource, type LeasedBuffers, type Priority } from "./types.js";

interface Piece {
  fileOffset: number;
  length: number;
  chunkId: string;
  chunkOffset: number;
}

export class DataReader {
  constructor(
    private readonly extents: ExtentSource,
    private readonly fetcher: BlockFetcher,
    private readonly blockSize: number,
  ) {}

  /** Exactly `length` bytes of the file at `offset` (holes and unwritten ranges are zeros). */
  async read(ino: number, offset: number, length: number): Promise<Buffer> {
    const parts = await this.readv(ino, offset, length);
    try {
      return Buffer.concat(parts, length);
    } finally {
      parts.release();
    }
  }

  /**
   * The same bytes as `read`, as a list of views of the cached plaintext blocks (and of one
   * shared zero buffer for holes): the FUSE reply hands them to the kernel as an iovec, so a
   * read costs no copy and no fresh allocation. The views are shared: never write into them,
   * and `release()` the result once it is sent (LeasedBuffers).
   * `dropBehind`: the reader streams on and will not come back; blocks this read covers whole
   * leave the memory cache (the views returned stay valid until released).
   */
  async readv(ino: number, offset: number, length: number, dropBehind = false): Promise<LeasedBuffers> {
    const lease = this.fetcher.lease();
    try {
      return Object.assign(await this.assemble(ino, offset, length, dropBehind, lease), {
        release: () => lease.release(),
      });
    } catch (err) {
      lease.release();
      throw err;
    }
  }

  private async assemble(ino: number, offset: number, length: number, dropBehind: boolean, lease: Lease) {
    if (length === 0) return [];
    const pieces = clip(await this.extents.getExtents(ino, offset, length), offset, length);
    const blocks = await this.fetchBlocks(pieces, "demand", lease);
    const bs = this.blockSize;
    const out: Buffer[] = [];
    let covered = 0; // bytes of [offset, offset+length) described so far
    for (const p of pieces) {
      const at = p.fileOffset - offset;
      // ExtentSource promises ordered, non-overlapping extents; a list of views relies on it.
      if (at < covered) throw new RangeError(`extents of inode ${ino} overlap or are out of order at ${p.fileOffset}`);
      if (at > covered) pushZeros(out, at - covered);
      covered = at + p.length;
      let done = 0;
      while (done < p.length) {
        const pos = p.chunkOffset + done;
        const block = Math.floor(pos / bs);
        const data = blocks.get(blockKey(p.chunkId, block))!;
        const inBlock = pos - block * bs;
        const n = Math.min(p.length - done, bs - inBlock);
        if (data.length < inBlock + n)
          throw new RangeError(`block ${block} of ${p.chunkId} is shorter than its extent`);
        const whole = inBlock === 0 && n === data.length;
        out.push(whole ? data : data.subarray(inBlock, inBlock + n));
        if (dropBehind && whole) this.fetcher.forget(p.chunkId, block);
        done += n;
      }
    }
    if (covered < length) pushZeros(out, length - covered);
    return out;
  }

  /** Bring the blocks of a range into the caches at prefetch priority. Never throws. */
  async prefetch(ino: number, offset: number, length: number): Promise<void> {
    if (length <= 0) return;
    try {
      const pieces = clip(await this.extents.getExtents(ino, offset, length), offset, length);
      await this.fetchBlocks(pieces, "prefetch");
    } catch {
      // prefetch is advice: a failure here surfaces (if at all) on the demand read
    }
  }

  private async fetchBlocks(pieces: Piece[], priority: Priority, lease?: Lease): Promise<Map<string, Buffer>> {
    const bs = this.blockSize;
    const runsByChunk = new Map<string, Array<[number, number]>>();
    for (const p of pieces) {
      const first = Math.floor(p.chunkOffset / bs);
      const last = Math.floor((p.chunkOffset + p.length - 1) / bs);
      let runs = runsByChunk.get(p.chunkId);
      if (!runs) {
        runs = [];
        runsByChunk.set(p.chunkId, runs);
      }
      runs.push([first, last]);
    }
    const out = new Map<string, Buffer>();
    const jobs: Promise<void>[] = [];
    for (const [chunkId, runs] of runsByChunk) {
      for (const [first, last] of mergeRuns(runs)) {
        jobs.push(
          this.fetcher.getBlocks(chunkId, first, last - first + 1, priority, lease).then((bufs) => {
            // Prefetch skips blocks already cached, so its result is not aligned; nobody reads it.
            if (priority !== "demand") return;
            for (const [i, b] of bufs.entries()) out.set(blockKey(chunkId, first + i), b);
          }),
        );
      }
    }
    await Promise.all(jobs);
    return out;
  }
}

/** Shared, never written: holes are answered with views of it. */
const ZEROS = Buffer.alloc(1024 * 1024);

function pushZeros(out: Buffer[], n: number): void {
  for (let left = n; left > 0; left -= ZEROS.length) out.push(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
}

function clip(extents: Extent[], offset: number, length: number): Piece[] {
  const end = offset + length;
  const out: Piece[] = [];
  for (const e of extents) {
    const s = Math.max(e.offset, offset);
    const t = Math.min(e.offset + e.length, end);
    if (t <= s) continue;
    out.push({ fileOffset: s, length: t - s, chunkId: e.chunkId, chunkOffset: e.chunkOffset + (s - e.offset) });
  }
  return out;
}

function mergeRuns(runs: Array<[number, number]>): Array<[number, number]> {
  runs.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}
