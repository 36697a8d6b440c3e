/**
 * Prefetch: guess what will be read next and bring it into the caches before it is asked for.
 *
 * 1. Sequential, per open handle. A handle whose read starts where its previous read ended
 *    (give or take two read lengths, for the kernel's parallel readahead) is sequential; from
 *    its second such read on, the range [end of read, end + window) is fetched ahead, split
 *    into pieces fetched in parallel. The window starts at
 *    `prefetchInitialWindowBytes` and doubles with each sequential read up to
 *    `prefetchMaxWindowBytes`; a random read resets it. The window is topped up a piece at a
 *    time (as soon as a piece's worth has been read), so requests stay in flight continuously
 *    rather than in waves. As the window grows, the store connections its GETs will need are
 *    opened ahead (`warmConnections`): a GET that must open one waits an extra round trip.
 * 2. Sequence/directory prediction. The data layer sees inode ids, not names: the VFS gives a
 *    `SequenceHint` that maps a file to the next ones (frame_0001.exr → frame_0002.exr ..., or
 *    directory order). When a handle first reads a file at offset 0, the next files are
 *    prefetched whole (up to `sequenceMaxFileBytes` each), as many as fit in
 *    `sequenceAheadBytes` (at least one, at most `sequenceDepth`).
 * 3. Metadata prefetch (readdirplus filling the attribute cache) belongs to the VFS/meta client.
 *
 * Back-pressure: all prefetch of the mount is capped at `prefetchMaxBytesInFlight`; prefetch
 * requests use their own request pool (see RequestScheduler), so a demand read never waits
 * behind prefetch of data it does not need. Accuracy counters live in the memory cache.
 */
import type { DataPathConfig } from "../config.js";
import type { DataReader } from "../reader.js";

export interface PredictedFile {
  ino: number;
  size: number;
}

/** Given by the VFS: the files likely to be read after `ino` (next frames, directory order). */
export type SequenceHint = (ino: number, count: number) => Promise<PredictedFile[]>;

type PrefetchKnobs = Pick<
  DataPathConfig,
  | "prefetchInitialWindowBytes"
  | "prefetchMaxWindowBytes"
  | "prefetchMaxBytesInFlight"
  | "maxGetBytes"
  | "prefetchConcurrency"
  | "sequenceDepth"
  | "sequenceAheadBytes"
  | "sequenceMaxFileBytes"
>;

interface HandleState {
  ino: number;
  /** The handle's first read was at offset 0 (reading on from there is a stream). */
  fromStart: boolean;
  nextOffset: number;
  window: number;
  aheadUntil: number;
  sequentialReads: number;
  reads: number;
}

export interface PrefetchStats {
  bytesIssued: number;
  bytesInFlight: number;
  /** Pieces not issued because `prefetchMaxBytesInFlight` was reached. */
  throttled: number;
  sequencePredictions: number;
}

export class Prefetcher {
  private readonly handles = new Map<number, HandleState>();
  /** Files already predicted recently, so every frame read does not re-request its successors. */
  private readonly predicted = new Set<number>();
  readonly stats: PrefetchStats = { bytesIssued: 0, bytesInFlight: 0, throttled: 0, sequencePredictions: 0 };

  constructor(
    private readonly reader: DataReader,
    private readonly knobs: PrefetchKnobs,
    private readonly hint?: SequenceHint,
    /** Open store connections for this many parallel GETs (RunSource.warmConnections). */
    private readonly warmConnections: (gets: number) => void = () => {},
  ) {}

  /**
   * Whether a read at `offset` continues a stream this handle has been reading sequentially
   * (asked before the read is issued; `onRead` then records it).
   */
  continuesStream(handle: number, ino: number, offset: number, length: number): boolean {
    const h = this.handles.get(handle);
    // A file this prefetcher fetched whole as part of a sequence, read from its start: a stream
    // from its first read (a frame's first reads kept 2 MiB of every 8 MiB frame in the memory
    // cache, which then filled with them: 312 MiB of slab after 200 frames, session 13).
    if (!h || h.ino !== ino) return offset === 0 && this.predicted.has(ino);
    if (Math.abs(offset - h.nextOffset) > tolerance(length)) return false;
    return h.sequentialReads > 0 || h.fromStart;
  }

  /** Call on every demand read of a handle (after issuing it, without awaiting prefetch). */
  onRead(handle: number, ino: number, offset: number, length: number, fileSize: number): void {
    let h = this.handles.get(handle);
    if (!h || h.ino !== ino) {
      h = {
        ino,
        fromStart: offset === 0,
        nextOffset: Number.NEGATIVE_INFINITY,
        window: this.knobs.prefetchInitialWindowBytes,
        aheadUntil: 0,
        sequentialReads: 0,
        reads: 0,
      };
      this.handles.set(handle, h);
    }
    if (h.reads++ === 0 && offset === 0) this.predictSequence(h, ino, length, fileSize);
    // The kernel issues readahead in parallel, so neighbouring reads arrive slightly out of
    // order: a read starting within two read lengths (at least 128 KiB) of where the previous
    // one ended still counts as sequential.
    if (Math.abs(offset - h.nextOffset) <= tolerance(length)) {
      h.sequentialReads++;
      h.nextOffset = Math.max(h.nextOffset, offset + length);
    } else {
      h.sequentialReads = 0;
      h.window = this.knobs.prefetchInitialWindowBytes;
      h.nextOffset = offset + length;
      h.aheadUntil = h.nextOffset;
    }
    if (h.sequentialReads === 0) return;
    const end = h.nextOffset;
    const target = Math.min(fileSize, end + h.window);
    // a quarter window per piece, so a window is several requests in parallel
    const piece = pieceSize(Math.min(this.knobs.maxGetBytes, Math.ceil(h.window / 4)));
    // Topped up a piece at a time: as soon as a piece's worth has been read, ask for the next.
    if (h.aheadUntil - end <= h.window - piece && h.aheadUntil < target) {
      h.aheadUntil = this.issue(ino, Math.max(h.aheadUntil, end), target, piece, fileSize);
    }
    const grown = Math.min(this.knobs.prefetchMaxWindowBytes, h.window * 2);
    if (grown > h.window) this.warmFor(grown);
    h.window = grown;
  }

  closeHandle(handle: number): void {
    this.handles.delete(handle);
  }

  /** Current window of a handle (for tests and `filespace stats`). */
  windowOf(handle: number): number | undefined {
    return this.handles.get(handle)?.window;
  }

  /** Bytes requested ahead of where a handle's reads have reached (for tests). */
  aheadOf(handle: number): number | undefined {
    const h = this.handles.get(handle);
    return h && Math.max(0, h.aheadUntil - h.nextOffset);
  }

  /**
   * Fetch [from, to) in parallel pieces of about `pieceBytes` (at most one maximal GET) while the
   * in-flight cap allows; returns how far it got.
   *
   * Pieces are cut on a grid of their own (power-of-two) size, and a refill that does not reach
   * the end of the file stops on that grid: sequentially written files have their chunks on
   * the same grid (`chunkBytes`, 8 MiB by default), so each piece maps to whole chunks or whole halves and
   * a chunk is never split into a large GET and a small one. Measured on a 1 GiB stream: 379
   * GETs before (2.7 MiB each), one per chunk after; fewer requests cost less on both ends and,
   * on S3, in request charges.
   */
  private issue(ino: number, from: number, to: number, pieceBytes: number, fileSize: number): number {
    const piece = pieceSize(Math.min(this.knobs.maxGetBytes, pieceBytes));
    const gridEnd = Math.floor(to / piece) * piece;
    const end = to >= fileSize || gridEnd <= from ? to : gridEnd;
    let pos = from;
    while (pos < end) {
      const n = Math.min(end, (Math.floor(pos / piece) + 1) * piece) - pos;
      if (this.stats.bytesInFlight + n > this.knobs.prefetchMaxBytesInFlight) {
        this.stats.throttled++;
        break;
      }
      this.stats.bytesInFlight += n;
      this.stats.bytesIssued += n;
      void this.reader.prefetch(ino, pos, n).finally(() => {
        this.stats.bytesInFlight -= n;
      });
      pos += n;
    }
    return pos;
  }

  /** Connections for the GETs `bytes` ahead will keep in flight (one per maximal GET). */
  private warmFor(bytes: number): void {
    const gets = Math.min(this.knobs.prefetchConcurrency, Math.ceil(bytes / this.knobs.maxGetBytes));
    if (gets > 1) this.warmConnections(gets);
  }

  private predictSequence(h: HandleState, ino: number, firstRead: number, fileSize: number): void {
    if (!this.hint || this.knobs.sequenceDepth === 0) return;
    // Ask for as many names as this file's size says fit the budget: the hint looks each one up,
    // and waiting on lookups of names past the budget (remote ones) would delay the rest.
    const guess = Math.max(1, Math.min(fileSize, this.knobs.sequenceMaxFileBytes));
    const count = Math.min(this.knobs.sequenceDepth, Math.max(1, Math.ceil(this.knobs.sequenceAheadBytes / guess)));
    this.hint(ino, count)
      .then((files) => {
        if (files.length === 0) return;
        // A file of a sequence is read whole: fetch the rest of this one first, so its bytes
        // go on the wire ahead of the next files'. Pieces as large as a GET may be: several
        // files are in flight at once already, and a frame cut in quarters (2 MiB pieces of an
        // 8 MiB frame) halved the bytes the request pool kept on the wire.
        const rest = Math.min(fileSize, this.knobs.sequenceMaxFileBytes);
        const from = Math.max(firstRead, h.aheadUntil);
        if (from < rest) h.aheadUntil = this.issue(ino, from, rest, rest - from, fileSize);
        // The next files, in order, while they fit in `sequenceAheadBytes` (the first always):
        // those already requested count too, so each new file read moves the horizon by one.
        this.warmFor(this.knobs.sequenceAheadBytes + rest - from);
        let ahead = 0;
        for (const f of files) {
          const n = Math.min(f.size, this.knobs.sequenceMaxFileBytes);
          if (ahead > 0 && ahead + n > this.knobs.sequenceAheadBytes) break;
          ahead += n;
          if (this.predicted.has(f.ino)) continue;
          this.remember(f.ino);
          this.stats.sequencePredictions++;
          this.issue(f.ino, 0, n, n, f.size);
        }
      })
      .catch(() => {});
  }

  private remember(ino: number): void {
    this.predicted.add(ino);
    // bounded memory: forget the oldest predictions
    if (this.predicted.size > 4096) this.predicted.delete(this.predicted.values().next().value!);
  }
}

/** The largest power of two ≤ `bytes`, at least 64 KiB (a block). */
function pieceSize(bytes: number): number {
  return Math.max(64 * 1024, 2 ** Math.floor(Math.log2(bytes)));
}

/** How far from the previous read's end a read may start and still count as sequential. */
function tolerance(length: number): number {
  return Math.max(2 * length, 128 * 1024);
}
