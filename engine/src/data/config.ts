/**
 * Every knob of the data path in one place, with its default and why. Validated with zod at
 * the edge (CLI flags, mount config); messages name the field and what was expected.
 */
import { availableParallelism } from "node:os";
import { z } from "zod";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const bytes = (min: number, what: string) =>
  z
    .number({ error: `${what}: expected a number of bytes` })
    .int({ error: `${what}: expected a whole number of bytes` })
    .min(min, { error: `${what}: expected at least ${min} bytes` });
const count = (min: number, max: number, what: string) =>
  z
    .number({ error: `${what}: expected a number` })
    .int({ error: `${what}: expected a whole number` })
    .min(min, { error: `${what}: expected at least ${min}` })
    .max(max, { error: `${what}: expected at most ${max}` });

export const dataPathConfigSchema = z.object({
  /** Opened plaintext blocks kept in RAM. 256 MiB holds a few seconds of a fast sequential stream. */
  memoryCacheBytes: bytes(4 * MiB, "memoryCacheBytes").default(256 * MiB),
  /**
   * Drop-behind: a block a sequential stream has read whole leaves the memory cache at once (the
   * kernel's page cache holds what the application read; the disk cache holds it across
   * restarts). Streams then stop sweeping the cache — random readers keep their hot blocks — and
   * the cache's memory is reused instead of growing: touching fresh memory costs more than
   * decrypting into it on small VMs (docs/data-path.md, "Memory that stays warm").
   */
  memoryDropBehind: z.boolean({ error: "memoryDropBehind: expected true or false" }).default(true),
  /**
   * Open blocks into reused slots (data/block-cache/plain-slab.ts) instead of a fresh buffer
   * each: no external-memory churn, so V8 stops running a mark-compact every few MiB of a stream.
   */
  plaintextSlab: z.boolean({ error: "plaintextSlab: expected true or false" }).default(true),
  /** Sealed blocks kept on local disk across restarts. The default; 1 GiB .. many TiB. */
  diskCacheBytes: bytes(GiB, "diskCacheBytes").default(5 * GiB),
  /**
   * Longest single range GET when coalescing adjacent missing blocks of one chunk. 8 MiB covers
   * a whole default chunk (8 MiB) in one request; larger requests only delay the first byte.
   */
  maxGetBytes: bytes(64 * KiB, "maxGetBytes").default(8 * MiB),
  /** Parallel range GETs for demand reads. Object stores scale with parallelism, not request size. */
  demandConcurrency: count(1, 256, "demandConcurrency").default(16),
  /**
   * Worker threads that do range GETs and open blocks (data/fetch-pool): HTTP and AES-GCM off
   * the thread that answers FUSE. 0 = everything on the main thread. Default: one per core, at
   * most 4 (a worker handles many GETs at once; more threads only add contention).
   */
  fetchWorkers: count(0, 64, "fetchWorkers").default(Math.min(4, availableParallelism())),
  /**
   * Parallel range GETs for prefetch: a separate pool, so a demand read never queues behind
   * prefetch. 16 × 8 MiB chunks keep 128 MiB on the wire: with the store's disk cold, 8 × 4 MiB
   * capped even curl at ~210 MiB/s on our bench store, 16 × 8 MiB reached ~290, and a warmed
   * mount read 183–191 MiB/s against 163–174 with 8 (docs/benchmarks.md, session 12).
   */
  prefetchConcurrency: count(1, 256, "prefetchConcurrency").default(16),
  /**
   * First read-ahead window once a handle reads sequentially (two reads in a row). 4 MiB (half a
   * default chunk, fetched as parallel 1 MiB GETs) puts a link's bandwidth × RTT in flight from the
   * second read on (300 MiB/s × 50 ms ≈ 15 MiB after two doublings); a random reader that
   * happens to hit the previous read's end costs at most this much extra egress.
   */
  prefetchInitialWindowBytes: bytes(64 * KiB, "prefetchInitialWindowBytes").default(4 * MiB),
  /**
   * The window doubles on each sequential read up to this; 128 MiB ≈ 1 s at 1 Gbit/s. Refills
   * start at half a window, so a stream keeps 64–128 MiB requested ahead: enough for the 16 GETs
   * of `prefetchConcurrency` to stay busy.
   */
  prefetchMaxWindowBytes: bytes(64 * KiB, "prefetchMaxWindowBytes").default(128 * MiB),
  /**
   * All prefetch of the mount, in flight at once, is capped here (memory the cache must absorb:
   * the plaintext slab may grow to memoryCacheBytes + this + the demand pool's GETs).
   */
  prefetchMaxBytesInFlight: bytes(64 * KiB, "prefetchMaxBytesInFlight").default(256 * MiB),
  /**
   * At most this many next files of a sequence (frame_0002, frame_0003, ...) are prefetched
   * ahead; how many is set by `sequenceAheadBytes`. 0 turns sequence prediction off.
   */
  sequenceDepth: count(0, 64, "sequenceDepth").default(16),
  /**
   * Bytes of predicted files kept requested ahead of the one being read (at least one file).
   * Bytes, not files, decide how full the pipe is: the store needs 16 GETs in flight to deliver
   * what it can (prefetchConcurrency), and with 8 MiB chunks a frame of 8 MiB is one GET — 64 MiB
   * kept only 8 in flight (WAN frames, five alternated pairs: 258 against 241 MiB/s on average,
   * docs/benchmarks.md session 15). 128 MiB = a sequential stream's window; it also bounds what
   * a wrong guess costs in egress.
   */
  sequenceAheadBytes: bytes(0, "sequenceAheadBytes").default(128 * MiB),
  /** Predicted files larger than this are prefetched only up to this many bytes. */
  sequenceMaxFileBytes: bytes(0, "sequenceMaxFileBytes").default(64 * MiB),
  /** Size of a chunk sealed from dirty data (the unit of upload and of garbage collection). */
  chunkBytes: bytes(64 * KiB, "chunkBytes").default(8 * MiB),
  /** A log segment is sealed for upload when it holds this much, or after `flushDelayMs`. */
  segmentBytes: bytes(64 * KiB, "segmentBytes").default(16 * MiB),
  /** Idle time before a partially filled segment is uploaded anyway (bounds staleness for others). */
  flushDelayMs: count(0, 3_600_000, "flushDelayMs").default(1000),
  /**
   * Parallel chunk uploads. Unset: as many chunks as fill UPLOAD_BYTES_IN_FLIGHT (4 of 8 MiB, 8
   * of 4 MiB): each slot holds two chunk buffers, and with 8 MiB chunks 4 uploads let `dd` +
   * fsync finish sooner than 8 in 4 of 5 alternated runs, with the same rate into the store
   * (docs/benchmarks.md, session 14).
   */
  uploadConcurrency: count(1, 256, "uploadConcurrency").optional(),
  /**
   * Bytes in the write-back log not yet committed. When reached (the store or the metadata
   * service has been unreachable), writes wait up to `backlogFullWaitMs` and then fail.
   */
  maxBacklogBytes: bytes(MiB, "maxBacklogBytes").default(8 * GiB),
  /** How long a write waits for backlog space before failing with WriteBackFullError. */
  backlogFullWaitMs: count(0, 3_600_000, "backlogFullWaitMs").default(30_000),
  /** Upload/commit retry backoff: first delay, doubling up to the max, forever until unmount. */
  retryBaseMs: count(1, 60_000, "retryBaseMs").default(200),
  retryMaxMs: count(1, 600_000, "retryMaxMs").default(10_000),
});

export type DataPathConfig = z.infer<typeof dataPathConfigSchema>;

/**
 * Bytes a pooled GET buffer is sized for: a GET never spans two chunk objects, and chunks hold at
 * most `chunkBytes`, so a chunk (+ tags), never more than maxGetBytes. With 4 MiB chunks that
 * zeroes a third less fresh memory per buffer than sizing for maxGetBytes. (Chunks of a writer
 * with a larger chunkBytes get a buffer per GET: correct, slower.)
 */
export function pooledGetBytes(c: Pick<DataPathConfig, "maxGetBytes" | "chunkBytes">): number {
  return Math.min(c.maxGetBytes, c.chunkBytes);
}

/** Chunk bytes being uploaded at once when `uploadConcurrency` is not set. */
export const UPLOAD_BYTES_IN_FLIGHT = 32 * MiB;

/** The upload slots a write-back uses: `uploadConcurrency`, else 32 MiB worth of chunks (≥ 2). */
export function uploadSlots(c: Pick<DataPathConfig, "uploadConcurrency" | "chunkBytes">): number {
  return c.uploadConcurrency ?? Math.max(2, Math.floor(UPLOAD_BYTES_IN_FLIGHT / c.chunkBytes));
}

/** Parse user input (CLI flags, config file) into a full config with defaults. */
export function parseDataPathConfig(input: unknown): DataPathConfig {
  return dataPathConfigSchema.parse(input ?? {});
}

export const defaultDataPathConfig: DataPathConfig = dataPathConfigSchema.parse({});
