/**
 * The upload half of the write-back pipeline: a sealed segment's steps are packed into chunks
 * (≤ chunkBytes), each chunk is read from the log, sealed and PUT with retries; the result is
 * every step's extents, ready to commit (commit.ts).
 *
 * A chunk is assembled and sealed in two reused buffers per upload slot (`UploadBuffers`): its
 * records are read from the log straight into the plaintext buffer and decrypted there, then
 * sealed into the other. Fresh buffers per chunk (and per block, from Node's ciphers) made the
 * upload side a third of the write path's CPU, mostly page faults, copies and V8's collections
 * of external memory (docs/benchmarks.md, session 11). The store must not keep `body` after
 * `put` resolves (ObjectStore.put says so); the buffers go back to the pool only then.
 */
import type { ObjectStore } from "../../object/types.js";
import { BufferPool } from "../buffer-pool.js";
import { type BlockCodec, chunkObjectKey, type Extent } from "../types.js";
import { packChunks, type Step } from "./plan.js";
import type { SlotPool } from "./pool.js";
import type { Segment } from "./segment.js";

/** Runs `fn` until it works or the write-back stops (see pool.ts: retryUntilStopped). */
export type Retry = <T>(fn: () => Promise<T>) => Promise<T>;

export interface UploadCounters {
  /** Chunks sealed and waiting for (or in) upload. */
  pendingChunks: number;
  uploadedChunks: number;
  uploadedBytes: number;
}

/**
 * Reused chunk buffers: plaintext being assembled and the sealed object being PUT, two per upload
 * slot at most. Dropped after `idleMs` without uploads: one engine serves many mounts, and an
 * idle mount should not sit on 2 × uploadConcurrency chunk buffers.
 */
export class UploadBuffers {
  private readonly plain: BufferPool;
  private readonly sealed: BufferPool;

  constructor(codec: BlockCodec, chunkBytes: number, slots: number, idleMs = 10_000) {
    this.plain = new BufferPool(chunkBytes, { maxFree: slots, trimAfterIdleMs: idleMs });
    this.sealed = new BufferPool(codec.sealedSize(chunkBytes), { maxFree: slots, trimAfterIdleMs: idleMs });
  }

  take(plainBytes: number, sealedBytes: number): { plain: Buffer; sealed: Buffer } {
    return { plain: this.plain.acquire(plainBytes), sealed: this.sealed.acquire(sealedBytes) };
  }

  give(b: { plain: Buffer; sealed: Buffer }): void {
    this.plain.release(b.plain);
    this.sealed.release(b.sealed);
  }

  /** Buffers held now, idle or in use (stats, tests). */
  get held(): number {
    return this.plain.idle + this.plain.inUse + this.sealed.idle + this.sealed.inUse;
  }
}

export interface UploadDeps {
  store: ObjectStore;
  codec: BlockCodec;
  newChunkId: () => string;
  chunkBytes: number;
  /** Bounds the chunks in flight (and so in memory). */
  pool: SlotPool;
  buffers: UploadBuffers;
  retry: Retry;
  counters: UploadCounters;
}

/** Uploads the chunks of `steps`; returns the extents of each step by its index. */
export async function uploadSteps(seg: Segment, steps: Step[], deps: UploadDeps): Promise<Map<number, Extent[]>> {
  const { chunks, extents } = packChunks(steps, deps.chunkBytes);
  const counters = deps.counters;
  counters.pendingChunks += chunks.length;
  // Read and seal inside the slot: at most `uploadConcurrency` chunks are in memory at once,
  // however large the backlog replayed at start.
  const ids = await Promise.all(
    chunks.map((c) =>
      deps.pool.run(async () => {
        const bytes = c.parts.reduce((n, p) => n + p.length, 0);
        const buffers = deps.buffers.take(bytes, deps.codec.sealedSize(bytes));
        const { plain: plainBuf, sealed: sealedBuf } = buffers;
        try {
          let at = 0;
          for (const p of c.parts) {
            seg.readInto(p.record, p.skip, plainBuf.subarray(at, at + p.length));
            at += p.length;
          }
          const id = deps.newChunkId();
          const sealed = deps.codec.sealInto(id, plainBuf.subarray(0, bytes), sealedBuf);
          await deps.retry(() => deps.store.put(chunkObjectKey(id), sealed));
          counters.pendingChunks--;
          counters.uploadedChunks++;
          counters.uploadedBytes += sealed.length;
          return id;
        } finally {
          deps.buffers.give(buffers);
        }
      }),
    ),
  );
  const out = new Map<number, Extent[]>();
  for (const [step, list] of extents) {
    out.set(
      step,
      list.map((e) => ({ offset: e.offset, length: e.length, chunkId: ids[e.chunk]!, chunkOffset: e.chunkOffset })),
    );
  }
  return out;
}
