/**
 * Messages between the mount's main thread and its fetch workers (both ours, same process:
 * typed, not validated). Plaintext blocks are opened into slab slots the main thread lends
 * (shared memory), or else travel as transferred ArrayBuffers (moved, not copied); a run's sealed body stays in the worker's shared GET buffer, lent to the main thread
 * for the disk cache write until `release`.
 */
import type { BufferStats, CachedRead, RunRequest } from "../run-source.js";

/** What a worker needs to fetch and open runs on its own. */
export interface WorkerSetup {
  storeUrl: string;
  /** Key generations of the filespace (id, raw key): the worker opens blocks itself. */
  keys: Array<[number, Uint8Array]>;
  blockSize: number;
  maxGetBytes: number;
  /** Idle GET buffers this worker keeps (the mount's share divided among the workers). */
  pooledBuffers: number;
}

export interface WireError {
  name: string;
  message: string;
}

/** One opened (or failed) block of run `id`. */
export interface WireBlock {
  id: number;
  index: number;
  plain?: Uint8Array;
  /** The block was opened into the request's `targets[index]`: this many bytes (no buffer sent). */
  length?: number;
  error?: WireError;
}

/**
 * `targets`: slab slots (views of SharedArrayBuffers, so the worker writes the main thread's
 * memory) to open block i into; see data/block-cache/plain-slab.ts.
 */
export type ToWorker =
  | ({ t: "fetch"; id: number; targets?: Uint8Array[] } & RunRequest)
  | { t: "openCached"; id: number; chunkId: string; read: CachedRead; targets?: Uint8Array[] }
  | { t: "release"; id: number }
  | { t: "warm"; connections: number };

export type FromWorker =
  | { t: "ready" }
  | { t: "startFailed"; error: WireError }
  | { t: "blocks"; blocks: WireBlock[] }
  | { t: "done"; id: number; body: Uint8Array; buffers: BufferStats }
  | { t: "opened"; id: number }
  | { t: "failed"; id: number; error: WireError };

export function toWire(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return { name: e.name, message: `${e.message}${cause}` };
}

export function fromWire(w: WireError): Error {
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
