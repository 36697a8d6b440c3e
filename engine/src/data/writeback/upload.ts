/**
 * The upload half of the write-back pipeline: a sealed segment's steps are packed into chunks
 * (≤ chunkBytes), each chunk is read from the log, sealed and PUT with retries; the result is
 * every step's extents, ready to commit (commit.ts).
 */
import type { ObjectStore } from "../../object/types.js";
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

export interface UploadDeps {
  store: ObjectStore;
  codec: BlockCodec;
  newChunkId: () => string;
  chunkBytes: number;
  /** Bounds the chunks in flight (and so in memory). */
  pool: SlotPool;
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
        const plain = Buffer.concat(c.parts.map((p) => seg.read(p.record, p.skip, p.length)));
        const id = deps.newChunkId();
        const sealed = deps.codec.seal(id, plain);
        await deps.retry(() => deps.store.put(chunkObjectKey(id), sealed));
        counters.pendingChunks--;
        counters.uploadedChunks++;
        counters.uploadedBytes += sealed.length;
        return id;
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
