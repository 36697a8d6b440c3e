/**
 * The seams of the data path. The VFS plugs the real metadata client and chunk codec in;
 * tests plug in-memory ones. Nothing here knows file names: only inode ids and hints.
 */

/** One resolved piece of a file: `length` bytes at file `offset` live in `chunkId` at `chunkOffset`. */
export interface Extent {
  offset: number;
  length: number;
  chunkId: string;
  chunkOffset: number;
}

/**
 * Where extent maps come from (the metadata service, through the VFS's attribute cache).
 * Returns the resolved, non-overlapping extents intersecting [offset, offset+length), ordered by
 * offset; gaps are holes (read as zeros). Extents may stick out of the range; the reader clips.
 */
export interface ExtentSource {
  getExtents(ino: number, offset: number, length: number): Promise<Extent[]>;
}

export interface CommitOptions {
  /**
   * Deterministic id of this batch (`wb-<segment id>-<step>`, ≤ 40 characters). A service that has already
   * applied a commit with this id must acknowledge it without applying it again: after a crash
   * between "committed" and "recorded locally", the write-back log replays the batch.
   */
  commitId: string;
}

/**
 * Where write-back commits go (the VFS maps these onto the metadata service's commitWrite and
 * setattr, passing `commitId` as the request id it dedupes on). Calls for one inode arrive
 * strictly in the order the writes and truncates were made.
 */
export interface CommitSink {
  /**
   * Apply `extents` (in order; later shadow earlier and everything stored), then grow the
   * file to max(current size, newSize).
   */
  commitWrite(ino: number, extents: Extent[], newSize: number, mtime: Date, options: CommitOptions): Promise<void>;
  /** Set the size (truncate or extend); cuts extents past it. */
  setSize(ino: number, size: number, mtime: Date, options: CommitOptions): Promise<void>;
}

/** Object byte range holding the sealed blocks that cover a plaintext range. */
export interface SealedRange {
  offset: number;
  length: number;
  firstBlock: number;
}

/**
 * The subset of crypto's ChunkCodec the data path uses: fixed-size plaintext blocks, each
 * sealed on its own, so a range read fetches and opens only the blocks it needs.
 */
export interface BlockCodec {
  readonly blockSize: number;
  seal(chunkId: string, plaintext: Buffer, options?: { compress?: boolean }): Buffer;
  /** Sealed object size of a chunk of `plainLength` bytes. */
  sealedSize(plainLength: number): number;
  /** Seals into `out` (≥ sealedSize of the plaintext); returns the view of `out` holding the chunk. */
  sealInto(chunkId: string, plaintext: Buffer, out: Buffer): Buffer;
  sealedRange(plainOffset: number, plainLength: number): SealedRange;
  openRange(chunkId: string, sealed: Buffer, firstBlock: number, options?: { expectFinal?: boolean }): Buffer;
  /** One sealed block opened into `out` (reused memory); returns the plaintext length. */
  openBlockInto(chunkId: string, sealed: Buffer, index: number, out: Buffer): number;
}

/**
 * What a read returns: views of cached blocks, valid until `release()` — call it once the bytes
 * are sent or copied (the slab may reuse a block's memory after that; plain-slab.ts). Callers
 * that forget cost memory until the array is garbage-collected, not correctness.
 */
export type LeasedBuffers = Buffer[] & { release(): void };

/** Demand reads always go first; prefetch uses its own, smaller pool of requests. */
export type Priority = "demand" | "prefetch";

/** Key of one block in the caches. */
export interface BlockRef {
  chunkId: string;
  block: number;
}

export const blockKey = (chunkId: string, block: number): string => `${chunkId}.${block}`;

/** Chunks live at `chunks/<first 2 chars of id>/<id>` (the store wrapper adds the filespace prefix). */
export const chunkObjectKey = (chunkId: string): string => `chunks/${chunkId.slice(0, 2)}/${chunkId}`;
