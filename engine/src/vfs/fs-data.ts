/**
 * The data path's seams, backed by the metadata service: extents come from getExtents (live or
 * in a snapshot, through the kernel-inode map), write-back commits go to commitWrite/setattr
 * with the write-back's deterministic commit id as request id (so a replay after a crash is
 * deduplicated by the service).
 *
 * A commit for a file that no longer exists (unlinked and released before its data was
 * committed) is dropped: the data is garbage, and retrying it would block every later commit.
 *
 * Both wait first for the inode's queued create (`settle`, from the VFS's namespace queue): the
 * service does not know a file this mount has just made until that lands. A create the service
 * refused for good makes its data's commit fail like a gone file (dropped, with a log line
 * from the queue naming the file).
 */
import type { CommitOptions, CommitSink, Extent, ExtentSource } from "../data/types.js";
import type { Attr as MetaAttr, Extent as MetaExtent } from "../meta/api.js";
import { isGone } from "./fs-errors.js";
import type { InodeMap } from "./fs-inodes.js";
import { QueuedChangeFailedError } from "./fs-pending.js";
import type { MetaSession } from "./fs-session.js";

/** Waits until the queued create of an inode reached the service. */
export type Settle = (vino: number) => Promise<void>;

const settled: Settle = () => Promise.resolve();

export class MetaExtentSource implements ExtentSource {
  constructor(
    private readonly session: MetaSession,
    private readonly inodes: InodeMap,
    private readonly settle: Settle = settled,
  ) {}

  async getExtents(vino: number, offset: number, length: number): Promise<Extent[]> {
    const loc = this.inodes.locate(vino);
    if (!loc) return [];
    if (!loc.snapshot) await this.settle(vino);
    const res = await this.session.call((ctx) =>
      this.session.api.getExtents(ctx, {
        ino: loc.ino,
        offset,
        length,
        ...(loc.snapshot ? { snapshot: loc.snapshot } : {}),
      }),
    );
    return res.extents.map(toDataExtent);
  }
}

/** The service's extent (`chunk`) as the data path's (`chunkId`). */
export function toDataExtent(e: MetaExtent): Extent {
  return { offset: e.offset, length: e.length, chunkId: e.chunk, chunkOffset: e.chunkOffset };
}

export interface CommitEvents {
  /** A commit landed: refresh caches of `vino` with the service's answer. */
  committed(vino: number, attr: MetaAttr | undefined): void;
  /** A commit was dropped because the file is gone. */
  dropped(vino: number): void;
}

export class MetaCommitSink implements CommitSink {
  constructor(
    private readonly session: MetaSession,
    private readonly events: CommitEvents,
    /** Waits for the inode's queued create, or throws UNAVAILABLE while it cannot land (the write-back retries). */
    private readonly settle: Settle = settled,
  ) {}

  async commitWrite(vino: number, extents: Extent[], newSize: number, mtime: Date, o: CommitOptions): Promise<void> {
    try {
      await this.settle(vino);
      const res = await this.session.call((ctx) =>
        this.session.api.commitWrite(ctx, {
          requestId: o.commitId,
          ino: vino,
          extents: extents.map((e) => ({
            offset: e.offset,
            length: e.length,
            chunk: e.chunkId,
            chunkOffset: e.chunkOffset,
          })),
          newSize,
          mtime: mtime.getTime(),
        }),
      );
      this.events.committed(vino, res.attr);
    } catch (err) {
      if (!isGone(err) && !(err instanceof QueuedChangeFailedError)) throw err;
      this.events.dropped(vino);
    }
  }

  async setSize(vino: number, size: number, mtime: Date, o: CommitOptions): Promise<void> {
    try {
      await this.settle(vino);
      const res = await this.session.call((ctx) =>
        this.session.api.setattr(ctx, { requestId: o.commitId, ino: vino, size, mtime: mtime.getTime() }),
      );
      this.events.committed(vino, res.attr);
    } catch (err) {
      if (!isGone(err) && !(err instanceof QueuedChangeFailedError)) throw err;
      this.events.dropped(vino);
    }
  }
}

/**
 * Group flush for close-to-open: many closes in a row share one write-back flush instead of
 * each sealing its own tiny segment. A caller waits for a flush that covers every write made
 * before its call: the running one if it started after them (a file's RELEASE right after its
 * FLUSH), else the next. Starting a flush nobody needs is not free: it cuts the log segment
 * where another file is being written, splitting that file's chunk (docs/data-path.md).
 */
export class FlushCoalescer {
  private running: Promise<void> | undefined;
  /** `written()` when the running flush started. */
  private runningCovers = -1;
  private queued: Promise<void> | undefined;

  /** `written` counts writes so far (monotonic): what a flush started now would cover. */
  constructor(
    private readonly flush: () => Promise<void>,
    private readonly written: () => number,
  ) {}

  request(): Promise<void> {
    if (this.running && this.runningCovers >= this.written()) return this.running;
    if (!this.running) {
      this.runningCovers = this.written();
      this.running = this.flush().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.request();
      });
    return this.queued;
  }
}
