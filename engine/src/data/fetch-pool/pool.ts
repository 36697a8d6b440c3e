/**
 * FetchPool: range GETs and block opening in worker threads.
 *
 * Why: a cold stream through one Node thread spends most of its time on the HTTP body (socket
 * reads, copies), AES-GCM and the garbage both make — while the same thread must answer FUSE.
 * Profiles of a 1 GiB cold read had that thread ~95 % busy at a quarter of the link. Each worker
 * owns a store client (its own connections) and the filespace keys, fetches a run of sealed
 * blocks, opens them as their bytes arrive and moves each plaintext block to the main thread
 * (a transferred ArrayBuffer: no copy). The sealed body stays in the worker's shared GET buffer,
 * lent to the main thread for the disk-cache write, then released back to the worker's pool.
 *
 * What stays on the main thread: deciding what to fetch (single-flight, coalescing, priorities,
 * the request pools that bound what is in flight), the caches, FUSE. Runs go to the worker
 * with the fewest runs outstanding. A worker that dies fails its runs (the readers see EIO and
 * the next read fetches again) and is replaced on the next fetch.
 */
import { Worker } from "node:worker_threads";
import type { Keyring } from "../../crypto/keyring.js";
import {
  type BufferStats,
  type CachedRead,
  type FetchedRun,
  type OnBlock,
  POOLED_BUFFERS,
  type RunRequest,
  type RunSource,
} from "../run-source.js";
import { type FromWorker, fromWire, type ToWorker, type WorkerSetup } from "./messages.js";

export interface FetchPoolOptions {
  /** The store, reopened by every worker (credentials come from the environment). */
  storeUrl: string;
  keyring: Keyring;
  blockSize: number;
  /** The largest GET the workers' pooled buffers hold (LocalRunSource); larger ones get their own. */
  maxGetBytes: number;
  workers: number;
  /** The worker script; default: worker.js next to this module (dist/ when run from src/). */
  script?: URL;
}

/** How long a worker's warmed share counts as still open (below the pools' 15 s idle close). */
const WARM_AGAIN_MS = 5_000;

interface Outstanding {
  onBlock: OnBlock;
  targets?: Buffer[];
  /** A fetched run, or nothing for `openCached`. */
  resolve(run: FetchedRun | undefined): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  runs: Map<number, Outstanding>;
  dead: boolean;
  buffers: BufferStats;
}

export class FetchPool implements RunSource {
  private readonly slots: Slot[] = [];
  private readonly setup: WorkerSetup;
  private nextId = 1;
  private closed = false;
  private warmed = { share: 0, at: Number.NEGATIVE_INFINITY };

  private constructor(private readonly options: FetchPoolOptions) {
    const { keyring } = options;
    this.setup = {
      storeUrl: options.storeUrl,
      keys: keyring.keyIds.map((id) => [id, keyring.generationKey(id)]),
      blockSize: options.blockSize,
      maxGetBytes: options.maxGetBytes,
      pooledBuffers: Math.ceil(POOLED_BUFFERS / Math.max(1, options.workers)),
    };
  }

  /** Starts the workers and waits until each has opened the store (fails like openObjectStore). */
  static async open(options: FetchPoolOptions): Promise<FetchPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1)
      throw new RangeError(`fetch workers: expected a whole number ≥ 1, got ${options.workers}`);
    const pool = new FetchPool(options);
    for (let i = 0; i < options.workers; i++) pool.slots.push(pool.spawn());
    try {
      await Promise.all(pool.slots.map((s) => s.ready));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  async fetch(run: RunRequest, onBlock: OnBlock, targets?: Buffer[]): Promise<FetchedRun> {
    const fetched = await this.send((id) => ({ t: "fetch", id, ...run, targets }), onBlock, targets);
    if (!fetched) throw new Error("fetch worker answered a fetch without a body");
    return fetched;
  }

  async openCached(chunkId: string, read: CachedRead, onBlock: OnBlock, targets?: Buffer[]): Promise<void> {
    await this.send((id) => ({ t: "openCached", id, chunkId, read, targets }), onBlock, targets);
  }

  private async send(
    message: (id: number) => ToWorker,
    onBlock: OnBlock,
    targets?: Buffer[],
  ): Promise<FetchedRun | undefined> {
    if (this.closed) throw new Error("fetch pool is closed");
    // The run counts for its worker from the moment it is picked: a burst of runs sent in one
    // turn (a prefetch refill) would otherwise all see the same counts and go to one worker.
    const slot = this.pick();
    const id = this.nextId++;
    const done = new Promise<FetchedRun | undefined>((resolve, reject) => {
      slot.runs.set(id, { onBlock, targets, resolve, reject });
    });
    done.catch(() => {}); // a worker that fails to start rejects it; `ready` reports that below
    if (slot.runs.size === 1) slot.worker.ref(); // a run in flight keeps the process alive
    await slot.ready;
    slot.worker.postMessage(message(id));
    return done;
  }

  /**
   * Runs spread over the workers (the least busy first), so each gets its share of the stream's
   * GETs and one spare. A stream asks again as its window grows; a worker is told only when its
   * share grew or a while has passed (its connections idle out after 15 s).
   */
  warmConnections(gets: number): void {
    const share = Math.ceil(gets / this.slots.length) + 1;
    const now = performance.now();
    if (share <= this.warmed.share && now - this.warmed.at < WARM_AGAIN_MS) return;
    this.warmed = { share, at: now };
    for (const s of this.slots) if (!s.dead) s.worker.postMessage({ t: "warm", connections: share } satisfies ToWorker);
  }

  bufferStats(): BufferStats {
    const sum: BufferStats = { allocated: 0, inUse: 0, idle: 0 };
    for (const s of this.slots) {
      sum.allocated += s.buffers.allocated;
      sum.inUse += s.buffers.inUse;
      sum.idle += s.buffers.idle;
    }
    return sum;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** The live worker with the fewest runs outstanding; a dead one is replaced first. */
  private pick(): Slot {
    for (const [i, s] of this.slots.entries()) if (s.dead) this.slots[i] = this.spawn();
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.runs.size < best.runs.size) best = s;
    return best;
  }

  private spawn(): Slot {
    const worker = new Worker(this.options.script ?? defaultScript(), { workerData: this.setup });
    let started!: () => void;
    let startFailed!: (err: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      started = res;
      startFailed = rej;
    });
    ready.catch(() => {});
    const slot: Slot = { worker, ready, runs: new Map(), dead: false, buffers: { allocated: 0, inUse: 0, idle: 0 } };
    const die = (err: Error) => {
      slot.dead = true;
      startFailed(err);
      for (const r of slot.runs.values()) r.reject(err);
      slot.runs.clear();
    };
    worker.on("message", (m: FromWorker) => this.onMessage(slot, m, started, die));
    worker.on("error", (err) => die(err));
    worker.on("exit", (code) => die(new Error(`fetch worker exited (code ${code})`)));
    // Idle workers do not keep the process alive; starting ones do (open() awaits them).
    ready.then(
      () => {
        if (slot.runs.size === 0) worker.unref();
      },
      () => {}, // start failures reach open() or the next fetch through `ready`
    );
    return slot;
  }

  private onMessage(slot: Slot, m: FromWorker, started: () => void, die: (err: Error) => void): void {
    if (m.t === "ready") {
      started();
      return;
    }
    if (m.t === "startFailed") {
      die(fromWire(m.error));
      void slot.worker.terminate();
      return;
    }
    if (m.t === "blocks") {
      for (const b of m.blocks) {
        const run = slot.runs.get(b.id);
        const target = b.length !== undefined ? run?.targets?.[b.index] : undefined;
        const plain = target
          ? target.subarray(0, b.length)
          : b.plain
            ? Buffer.from(b.plain.buffer, b.plain.byteOffset, b.plain.byteLength)
            : undefined;
        run?.onBlock(b.index, plain, b.error ? fromWire(b.error) : undefined);
      }
      return;
    }
    const run = slot.runs.get(m.id);
    if (!run) return;
    slot.runs.delete(m.id);
    if (slot.runs.size === 0) slot.worker.unref();
    if (m.t === "failed") {
      run.reject(fromWire(m.error));
      return;
    }
    if (m.t === "opened") {
      run.resolve(undefined);
      return;
    }
    slot.buffers = m.buffers;
    let released = false;
    run.resolve({
      body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
      release: () => {
        if (released || slot.dead) return;
        released = true;
        slot.worker.postMessage({ t: "release", id: m.id } satisfies ToWorker);
      },
    });
  }
}

/** worker.js beside this module; from TypeScript sources (tests), the built one in dist/. */
function defaultScript(): URL {
  const here = import.meta.url;
  if (here.endsWith(".ts")) return new URL(here.replace("/src/", "/dist/").replace(/pool\.ts$/, "worker.js"));
  return new URL("./worker.js", here);
}
