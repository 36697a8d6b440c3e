/**
 * The journal over the object store: group commit, create-only segments (fencing), background
 * checkpoints and pruning.
 *
 * Group commit: at most one segment upload is in flight; appends made meanwhile gather in
 * `#pending` and become the next segment (bounded by `maxBatchRecords`/`maxBatchBytes`). An
 * append resolves when the segment holding it is durable, so promises resolve in version order.
 *
 * Fencing (segment-writer.ts): all epochs write one dense sequence of keys `meta/journal/<seq>`. On stores with
 * conditional put every segment is written create-only; a newer epoch claimed a seq by writing
 * its epoch-start segment there, so a zombie's next put fails with a precondition error → it
 * becomes FENCED and never acknowledges again. A retried put that finds the key taken reads it
 * back: if it is our own segment (same writer id) the earlier attempt landed and all is well.
 * Without conditional put the journal re-reads the lease after every segment and acknowledges
 * only if it is still the holder (see lease.ts for what that does and does not guarantee).
 *
 * Checkpoints need a consistent image while the machine keeps applying: `captureImage()` must
 * freeze the state at `version` synchronously and cheaply (persistent data structures make this
 * O(1)); the returned function serialises later, off the append path. `captureImageSliced()`
 * (preferred) serialises in slices with event-loop yields between them, so appends and calls
 * keep flowing during a 1M-inode export. A machine without either is exported synchronously
 * (correct, but it stalls the event loop for the duration).
 */
import type { Journal, JournalRecord, StateMachine } from "../replication.js";
import type { LocalObjectCache } from "./cache.js";
import { writeCheckpoint } from "./checkpoint.js";
import { FencedError, JournalFailedError } from "./errors.js";
import type { SealedStore } from "./layout.js";
import type { Lease } from "./lease.js";
import { pruneCheckpointsAndSegments } from "./prune.js";
import type { SegmentSummary } from "./recovery.js";
import { encodeRecord, type SegmentHeader } from "./segment.js";
import { writeSegmentObject } from "./segment-writer.js";

/** What the journal needs from the namespace to checkpoint it. */
export interface CheckpointSource extends StateMachine {
  /** Freeze the state at the current `version` (cheap, synchronous); serialise it later. */
  captureImage?(): () => Buffer;
  /** Like `captureImage`, but the serialisation yields to the event loop as it goes (preferred). */
  captureImageSliced?(): () => Promise<Buffer>;
}

export interface JournalOptions {
  /** Most records in one segment. Default 10,000. */
  maxBatchRecords?: number;
  /** Most record bytes in one segment (a single larger record still goes alone). Default 4 MiB. */
  maxBatchBytes?: number;
  /** Checkpoint after this many records. Default 100,000. */
  checkpointEveryRecords?: number;
  /** Checkpoint at least this often when anything changed. Default 5 minutes; 0 = never by time. */
  checkpointIntervalMs?: number;
  /** Checkpoints kept (older ones and the segments only they need are pruned). Default 2. */
  keepCheckpoints?: number;
  /** Attempts per segment put before the journal fails (the store may retry underneath too). Default 3. */
  putAttempts?: number;
  /** Write a checkpoint on close if anything changed since the last one. Default true. */
  checkpointOnClose?: boolean;
  /** A segment put taking longer is abandoned and retried (it may still land: create-only makes that safe). Default 30 s. */
  putTimeoutMs?: number;
}

export interface JournalState {
  epoch: number;
  epochStartSeq: number;
  nextSeq: number;
  version: number;
  segments: SegmentSummary[];
  checkpoints: Map<number, number | undefined>;
  /** Records not covered by a checkpoint yet (those replayed at recovery count: the next start would replay them again). */
  sinceCheckpoint?: number;
}

export interface JournalStats {
  segmentsWritten: number;
  recordsWritten: number;
  bytesWritten: number;
  checkpointsWritten: number;
  lastCheckpointVersion: number | undefined;
  checkpointFailures: number;
  lastCheckpointError: string | undefined;
  durableVersion: number;
}

interface Pending {
  entry: JournalRecord;
  bytes: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class ObjectStoreJournal<R = unknown> implements Journal<R> {
  readonly #s: SealedStore;
  readonly #lease: Lease;
  readonly #source: CheckpointSource;
  readonly #cache: LocalObjectCache | undefined;
  readonly #o: Required<JournalOptions>;
  readonly #epoch: number;
  readonly #epochStartSeq: number;
  readonly #segments: SegmentSummary[];
  readonly #checkpoints: Map<number, number | undefined>;
  #nextSeq: number;
  #appended: number;
  #durable: number;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #failed: Error | undefined;
  #closed = false;
  #sinceCheckpoint = 0;
  #checkpointing: Promise<void> | undefined;
  #checkpointChain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #waiters: { version: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  #failureListeners: ((err: Error) => void)[] = [];
  readonly stats: JournalStats;

  constructor(
    s: SealedStore,
    lease: Lease,
    source: CheckpointSource,
    state: JournalState,
    options: JournalOptions = {},
    cache?: LocalObjectCache,
  ) {
    this.#s = s;
    this.#lease = lease;
    this.#source = source;
    this.#cache = cache;
    this.#o = {
      maxBatchRecords: options.maxBatchRecords ?? 10_000,
      maxBatchBytes: options.maxBatchBytes ?? 4 * 1024 * 1024,
      checkpointEveryRecords: options.checkpointEveryRecords ?? 100_000,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 5 * 60_000,
      keepCheckpoints: Math.max(1, options.keepCheckpoints ?? 2),
      putAttempts: Math.max(1, options.putAttempts ?? 3),
      checkpointOnClose: options.checkpointOnClose ?? true,
      putTimeoutMs: options.putTimeoutMs ?? 30_000,
    };
    this.#epoch = state.epoch;
    this.#epochStartSeq = state.epochStartSeq;
    this.#nextSeq = state.nextSeq;
    this.#appended = state.version;
    this.#durable = state.version;
    this.#segments = state.segments;
    this.#checkpoints = state.checkpoints;
    this.#sinceCheckpoint = state.sinceCheckpoint ?? 0;
    this.stats = {
      segmentsWritten: 0,
      recordsWritten: 0,
      bytesWritten: 0,
      checkpointsWritten: 0,
      lastCheckpointVersion: undefined,
      checkpointFailures: 0,
      lastCheckpointError: undefined,
      durableVersion: state.version,
    };
    if (this.#o.checkpointIntervalMs > 0) {
      this.#timer = setInterval(() => {
        if (this.#sinceCheckpoint > 0) this.requestCheckpoint();
      }, this.#o.checkpointIntervalMs);
      this.#timer.unref();
    }
  }

  get epoch(): number {
    return this.#epoch;
  }
  get durableVersion(): number {
    return this.#durable;
  }
  /** The error that stopped the journal (FencedError or JournalFailedError), if any. */
  get failure(): Error | undefined {
    return this.#failed;
  }

  /** Called once when the journal stops for good (the service must then stop: fail-stop). */
  onFailure(listener: (err: Error) => void): void {
    if (this.#failed) listener(this.#failed);
    else this.#failureListeners.push(listener);
  }

  append(entry: JournalRecord<R>): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new JournalFailedError("journal is closed"));
    if (entry.version !== this.#appended + 1) {
      return Promise.reject(
        new RangeError(`journal append out of order: got ${entry.version}, expected ${this.#appended + 1}`),
      );
    }
    this.#appended = entry.version;
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ entry, bytes: encodeRecord(entry), resolve, reject });
      this.#flushing ??= this.#flushLoop();
    });
  }

  /** Resolves when everything appended so far is durable (or rejects with the failure). */
  flush(): Promise<void> {
    return this.#waitDurable(this.#appended);
  }

  /** Stop this instance: used when the lease is found taken. Pending appends reject with `err`. */
  fence(err: FencedError): void {
    this.#fail(err);
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#failed) {
        let bytes = 0;
        let n = 0;
        while (n < this.#pending.length && n < this.#o.maxBatchRecords) {
          const b = this.#pending[n]!.bytes.length;
          if (n > 0 && bytes + b > this.#o.maxBatchBytes) break;
          bytes += b;
          n++;
        }
        const batch = this.#pending.splice(0, n);
        try {
          await this.#writeSegment(
            batch.map((p) => p.entry),
            batch.map((p) => p.bytes),
          );
        } catch (err) {
          const e = this.#fail(err);
          for (const p of batch) p.reject(e);
          break;
        }
        for (const p of batch) p.resolve();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  async #writeSegment(entries: JournalRecord[], encoded: Buffer[]): Promise<void> {
    const seq = this.#nextSeq;
    const baseVersion = entries[0]!.version - 1;
    const header: SegmentHeader = {
      epoch: this.#epoch,
      seq,
      writer: this.#lease.holder.instanceId,
      epochStartSeq: this.#epochStartSeq,
      baseVersion,
      count: entries.length,
    };
    const written = await writeSegmentObject(this.#s, header, encoded, this.#o, this.#cache);
    if (!this.#s.store.capabilities.conditionalPut) await this.#lease.verify();
    const lastVersion = baseVersion + entries.length;
    this.#nextSeq = seq + 1;
    this.#segments.push({ seq, lastVersion });
    this.#durable = lastVersion;
    this.stats.durableVersion = lastVersion;
    this.stats.segmentsWritten++;
    this.stats.recordsWritten += entries.length;
    this.stats.bytesWritten += written.size;
    this.#sinceCheckpoint += entries.length;
    const ready = this.#waiters.filter((w) => w.version <= lastVersion);
    this.#waiters = this.#waiters.filter((w) => w.version > lastVersion);
    for (const w of ready) w.resolve();
    if (this.#sinceCheckpoint >= this.#o.checkpointEveryRecords) this.requestCheckpoint();
  }

  #fail(err: unknown): Error {
    if (this.#failed) return this.#failed;
    const e =
      err instanceof FencedError || err instanceof JournalFailedError
        ? err
        : new JournalFailedError(`journal commit failed: ${(err as Error)?.message ?? err}`, { cause: err });
    this.#failed = e;
    this.#lease.stopRenewing();
    if (this.#timer) clearInterval(this.#timer);
    for (const p of this.#pending.splice(0)) p.reject(e);
    for (const w of this.#waiters.splice(0)) w.reject(e);
    for (const l of this.#failureListeners.splice(0)) l(e);
    return e;
  }

  #waitDurable(version: number): Promise<void> {
    if (this.#durable >= version) return Promise.resolve();
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => this.#waiters.push({ version, resolve, reject }));
  }

  requestCheckpoint(): void {
    if (this.#checkpointing || this.#failed) return;
    this.#checkpointing = this.checkpoint()
      .catch((err) => {
        // a failed checkpoint costs only recovery time; the next one retries
        this.stats.checkpointFailures++;
        this.stats.lastCheckpointError = (err as Error)?.message ?? String(err);
      })
      .finally(() => {
        this.#checkpointing = undefined;
      });
  }

  /** Write a checkpoint now (at the machine's current version) and prune; resolves when done. Serialised. */
  checkpoint(): Promise<void> {
    const run = this.#checkpointChain.then(() => this.#checkpointNow());
    this.#checkpointChain = run.catch(() => undefined);
    return run;
  }

  async #checkpointNow(): Promise<void> {
    const version = this.#source.version;
    const serialise: () => Buffer | Promise<Buffer> =
      this.#source.captureImageSliced?.() ?? this.#source.captureImage?.() ?? constant(this.#source.exportImage());
    const before = this.#sinceCheckpoint;
    await this.#waitDurable(version);
    const fromSeq = this.#segments.find((x) => x.lastVersion > version)?.seq ?? this.#nextSeq;
    await new Promise((r) => setImmediate(r));
    const image = await serialise();
    if (this.#failed) throw this.#failed;
    if (!this.#s.store.capabilities.conditionalPut) await this.#lease.verify();
    const written = await writeCheckpoint(
      this.#s,
      { version, epoch: this.#epoch, fromSeq, createdAt: new Date().toISOString() },
      image,
      // Sized for big images; a multiple of the segment timeout.
      this.#o.putTimeoutMs * 20,
    );
    await this.#cache?.put(written.key, written.etag, written.sealed);
    this.#checkpoints.set(version, fromSeq);
    this.#sinceCheckpoint = Math.max(0, this.#sinceCheckpoint - before);
    this.stats.checkpointsWritten++;
    this.stats.lastCheckpointVersion = version;
    await this.#prune();
  }

  async #prune(): Promise<void> {
    const cutoff = await pruneCheckpointsAndSegments(this.#s, this.#o.keepCheckpoints, this.#checkpoints);
    if (cutoff === undefined) return;
    while (this.#segments.length > 0 && this.#segments[0]!.seq < cutoff) this.#segments.shift();
  }

  /** Flush, checkpoint if configured, release the lease. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#flushing;
    await this.#checkpointing;
    if (this.#failed) return;
    if (this.#o.checkpointOnClose && this.#sinceCheckpoint > 0) {
      // Everything is durable in the journal already; a failed checkpoint only costs replay time.
      await this.checkpoint().catch(() => undefined);
    }
    await this.#lease.release();
  }
}

const constant = (b: Buffer) => () => b;
