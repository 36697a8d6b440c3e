/**
 * Write-back: writes land in a durable local log and reach the object store and the metadata
 * service in the background.
 *
 *   write/truncate ──► active segment (append; fsync on the handle's fsync) ──► overlay (reads see it)
 *        segment full or idle `flushDelayMs` ──► sealed: plan steps, pack chunks (≤ chunkBytes),
 *        seal + upload chunks in parallel (≤ uploadConcurrency, retried with backoff)
 *        committer (segments in log order; within a segment the steps of different inodes run
 *        concurrently, ≤ commitConcurrency, each inode's steps in order) ──► CommitSink
 *        ──► `.done` progress line ──► overlay released ──► segment deleted when all steps done
 * Segment files: segment.ts (bytes: segment-format.ts); steps: plan.ts; the two halves of the
 * pipeline: upload.ts and commit.ts; reads over pending writes: overlay.ts.
 *
 * Why concurrent commits: each commit is a metadata round trip. One at a time, N small files
 * cost N round trips (20 files/s over a 50 ms link); issued together, the metadata client
 * coalesces them into Batch rpcs and the service into one journal commit. Order still holds
 * where it matters: per inode (a later step never lands before an earlier one, so `.done` of
 * an inode is always a prefix of its steps and replay stays correct) and per segment (a
 * segment is removed only after all its steps, and the next segment starts after it).
 *
 * Crash safety: on open, every segment left in the directory is replayed (torn tail cut by crc),
 * its steps re-planned (deterministic), and steps not in `.done` are uploaded again and
 * committed with the same commit id `wb-<segment id>-<step>`. A chunk uploaded before the crash
 * but never committed is orphaned (GC removes it); a commit that landed but was not recorded in
 * `.done` is deduplicated by the service on its id. Nothing fsynced is lost; nothing is applied twice.
 *
 * Back-pressure: when the log holds `maxBacklogBytes` not yet committed, writes wait up to
 * `backlogFullWaitMs` for room and then fail with WriteBackFullError naming the last error.
 */
import { mkdirSync } from "node:fs";
import { ephemeralWriteBackLogKeys, type WriteBackLogKeys } from "../../crypto/writeback-log-key.js";
import type { ObjectStore } from "../../object/types.js";
import { type DataPathConfig, uploadSlots } from "../config.js";
import { WriteBackClosedError, WriteBackFullError } from "../errors.js";
import type { BlockCodec, CommitSink, Extent } from "../types.js";
import { commitSteps } from "./commit.js";
import { type OverlayView, WriteOverlay } from "./overlay.js";
import { planSteps, type Step } from "./plan.js";
import { retryUntilStopped, SlotPool } from "./pool.js";
import { Segment } from "./segment.js";
import { UploadBuffers, type UploadDeps, uploadSteps } from "./upload.js";

export type WriteBackKnobs = Pick<
  DataPathConfig,
  | "chunkBytes"
  | "segmentBytes"
  | "flushDelayMs"
  | "uploadConcurrency"
  | "maxBacklogBytes"
  | "backlogFullWaitMs"
  | "retryBaseMs"
  | "retryMaxMs"
> & {
  /** Commit steps (of different inodes) in flight at once. Default COMMIT_CONCURRENCY. */
  commitConcurrency?: number;
};

/** Enough to fill a few of the metadata client's Batch rpcs (256 calls each) per round trip. */
export const COMMIT_CONCURRENCY = 256;

export interface WriteBackDeps {
  dir: string;
  store: ObjectStore;
  codec: BlockCodec;
  sink: CommitSink;
  newChunkId: () => string;
  /**
   * Keys that seal the log at rest (from the unlocked keyring: `writeBackLogKeys`). Omitted:
   * a process-local key, for tests and benchmarks; such a log cannot be replayed by a restart.
   */
  logKeys?: WriteBackLogKeys;
}

export interface WriteBackStats {
  backlogBytes: number;
  backlogSegments: number;
  /** Chunks sealed and waiting for (or in) upload. */
  pendingChunks: number;
  uploadedChunks: number;
  uploadedBytes: number;
  commits: number;
  retries: number;
  /** Chunk buffers the uploads hold (reused, two per upload slot at most; dropped when idle). */
  uploadBuffers: number;
  lastError?: string;
}

export class WriteBack {
  readonly overlay = new WriteOverlay();
  private readonly segments: Segment[] = [];
  private active!: Segment;
  private nextSeq = 1;
  private flushTimer: NodeJS.Timeout | undefined;
  private appended = 0;
  /** Whether the active segment's last record ended on its file's chunk grid. */
  private lastEndOnGrid = true;
  /** The idle flush is due: cut the segment at the next record that ends on the grid. */
  private cutAtGrid = false;
  private committer: Promise<void> = Promise.resolve();
  private readonly uploadPool: SlotPool;
  private readonly upload: UploadDeps;
  private readonly spaceWaiters = new Set<() => void>();
  private stopped = false;
  private closed = false;
  private lastError: unknown;
  private readonly logKeys: WriteBackLogKeys;
  private readonly counters = { pendingChunks: 0, uploadedChunks: 0, uploadedBytes: 0, commits: 0, retries: 0 };

  private constructor(
    private readonly deps: WriteBackDeps,
    private readonly knobs: WriteBackKnobs,
  ) {
    const slots = uploadSlots(knobs);
    this.uploadPool = new SlotPool(slots, () => this.stopped);
    this.logKeys = deps.logKeys ?? ephemeralWriteBackLogKeys();
    this.upload = {
      store: deps.store,
      codec: deps.codec,
      newChunkId: deps.newChunkId,
      chunkBytes: knobs.chunkBytes,
      pool: this.uploadPool,
      buffers: new UploadBuffers(deps.codec, knobs.chunkBytes, slots),
      retry: (fn) => this.retry(fn),
      counters: this.counters,
    };
  }

  /** Open the log directory; replays and resumes whatever a previous process left pending. */
  static async open(deps: WriteBackDeps, knobs: WriteBackKnobs): Promise<WriteBack> {
    mkdirSync(deps.dir, { recursive: true });
    const wb = new WriteBack(deps, knobs);
    for (const { seq, id } of Segment.inDirectory(deps.dir)) {
      const seg = Segment.replay(deps.dir, seq, id, wb.logKeys);
      wb.segments.push(seg);
      for (const rec of seg.records) wb.overlay.apply(seg, rec);
      wb.nextSeq = seq + 1;
    }
    for (const seg of wb.segments) {
      for (const step of planSteps(seg.records)) if (seg.done.has(step.index)) wb.release(seg, step);
      wb.seal(seg);
    }
    wb.active = Segment.create(deps.dir, wb.nextSeq++, wb.logKeys);
    wb.segments.push(wb.active);
    return wb;
  }

  /** Append a write. `sizeBefore` is the file size the caller sees now (including pending writes). */
  async write(ino: number, offset: number, data: Buffer, sizeBefore: number): Promise<void> {
    await this.waitForRoom(data.length);
    const sizeAfter = Math.max(sizeBefore, this.overlay.pendingSize(ino) ?? 0, offset + data.length);
    this.appendRecord("write", ino, offset, sizeAfter, data);
  }

  async truncate(ino: number, size: number): Promise<void> {
    await this.waitForRoom(0);
    this.appendRecord("truncate", ino, size, size);
  }

  private appendRecord(type: "write" | "truncate", ino: number, offset: number, sizeAfter: number, data?: Buffer) {
    if (this.closed) throw new WriteBackClosedError();
    this.appended++;
    const rec = this.active.append(type, ino, offset, sizeAfter, Date.now(), data);
    this.overlay.apply(this.active, rec);
    const end = offset + (data?.length ?? 0);
    this.lastEndOnGrid = end % this.knobs.chunkBytes === 0;
    if (this.segmentFull() || (this.cutAtGrid && this.lastEndOnGrid)) this.rotate();
    else if (!this.flushTimer) this.armFlushTimer();
  }

  /**
   * The idle flush: after `flushDelayMs` the segment is uploaded however full. If its last
   * record stopped inside a chunk cell (a writer still going), the cut waits for a record that
   * ends on the grid, for at most another `flushDelayMs`, so a slow sequential writer's cells are
   * not split between segments either.
   */
  private armFlushTimer(): void {
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.lastEndOnGrid || this.cutAtGrid) this.rotate();
      else {
        this.cutAtGrid = true;
        this.armFlushTimer();
      }
    }, this.knobs.flushDelayMs);
    this.flushTimer.unref();
  }

  /**
   * Whether the active segment is full after its last record. Past
   * `segmentBytes` it is cut where a record ends on the chunk grid, so a sequential writer's
   * cell is not split between two segments (two objects; see plan.ts); other writers' records
   * may push it up to a chunk further before it is cut anyway.
   */
  private segmentFull(): boolean {
    const { segmentBytes, chunkBytes } = this.knobs;
    const bytes = this.active.bytes;
    return bytes >= segmentBytes + chunkBytes || (bytes >= segmentBytes && this.lastEndOnGrid);
  }

  /** Make every write so far durable on local disk (the handle's fsync). */
  fsync(): void {
    for (const seg of this.segments) seg.fsync();
  }

  /** What a read of `ino` must lay over stored data (take it before fetching extents). */
  view(ino: number, offset: number, length: number): OverlayView {
    return this.overlay.view(ino, offset, length);
  }

  /** Records appended since open (monotonic): a flush started now covers this many. */
  get records(): number {
    return this.appended;
  }

  pendingSize(ino: number): number | undefined {
    return this.overlay.pendingSize(ino);
  }

  /** Upload and commit everything written so far (close-to-open: call on close/flush). */
  async flush(): Promise<void> {
    if (this.active.records.length > 0) this.rotate();
    await this.committer;
  }

  /** Unmount: no more writes; returns when every upload is committed. */
  async drain(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    // nothing left to replay: drop the (empty) active segment and its descriptor
    const i = this.segments.indexOf(this.active);
    if (i >= 0 && this.active.records.length === 0) {
      this.segments.splice(i, 1);
      await this.active.remove();
    }
  }

  /** Forced unmount: stop now, leave pending data queued in the log for the next mount. */
  async abort(): Promise<{ pendingSegments: number; pendingBytes: number }> {
    this.closed = true;
    this.stopped = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.fsync();
    this.uploadPool.wakeAll();
    const pending = this.segments.filter((s) => s.records.length > 0);
    return { pendingSegments: pending.length, pendingBytes: pending.reduce((n, s) => n + s.bytes, 0) };
  }

  get backlogBytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  stats(): WriteBackStats {
    return {
      backlogBytes: this.backlogBytes,
      backlogSegments: this.segments.filter((s) => s.records.length > 0).length,
      ...this.counters,
      uploadBuffers: this.upload.buffers.held,
      lastError: this.lastError ? String((this.lastError as Error).message ?? this.lastError) : undefined,
    };
  }

  private async waitForRoom(bytes: number): Promise<void> {
    if (this.closed) throw new WriteBackClosedError();
    const deadline = Date.now() + this.knobs.backlogFullWaitMs;
    while (this.backlogBytes + bytes > this.knobs.maxBacklogBytes && this.backlogBytes > 0) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new WriteBackFullError(this.backlogBytes, this.knobs.maxBacklogBytes, { cause: this.lastError });
      if (this.active.records.length > 0) this.rotate();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.spaceWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.spaceWaiters.add(done);
      });
    }
  }

  private rotate(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.cutAtGrid = false;
    if (this.active.records.length === 0 || this.closed) return;
    const full = this.active;
    this.active = Segment.create(this.deps.dir, this.nextSeq++, this.logKeys);
    this.segments.push(this.active);
    this.seal(full);
  }

  /** Start uploading a segment's chunks now; queue its commits behind earlier segments'. */
  private seal(seg: Segment): void {
    seg.sealed = true;
    const steps = planSteps(seg.records).filter((s) => !seg.done.has(s.index));
    const uploaded = uploadSteps(seg, steps, this.upload);
    uploaded.catch(() => {});
    this.committer = this.committer.then(() => this.commitSegment(seg, steps, uploaded)).catch(() => {});
  }

  private async commitSegment(seg: Segment, steps: Step[], uploaded: Promise<Map<number, Extent[]>>): Promise<void> {
    await commitSteps(seg, steps, await uploaded, {
      sink: this.deps.sink,
      concurrency: this.knobs.commitConcurrency ?? COMMIT_CONCURRENCY,
      stopped: () => this.stopped,
      retry: (fn) => this.retry(fn),
      committed: (step) => {
        this.counters.commits++;
        this.release(seg, step);
      },
    });
    this.segments.splice(this.segments.indexOf(seg), 1);
    await seg.remove();
    for (const w of [...this.spaceWaiters]) w();
  }

  private release(seg: Segment, step: Step): void {
    this.overlay.release(step.ino, seg.seq, step.lastRecord);
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return retryUntilStopped(
      fn,
      this.knobs,
      () => this.stopped,
      (err) => {
        this.lastError = err;
        this.counters.retries++;
      },
    );
  }
}
