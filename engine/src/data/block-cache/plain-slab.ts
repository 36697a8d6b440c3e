/**
 * Reused memory for opened (plaintext) blocks: fixed-size slots in shared arenas.
 *
 * Why: decrypting into a fresh buffer per block made a stream allocate a GiB of external memory
 * per GiB read. V8 answers external memory with a mark-compact every few MiB (measured: 117 full
 * GCs for 1 GiB, a third of the mount's CPU, mostly on V8's helper threads), and on small VMs the
 * fresh pages cost faults on top. Blocks are instead decrypted into slots (ChunkCodec.openBlockInto)
 * that go back to a free list when nobody needs them: a stream keeps reusing the same few MiB.
 *
 * Who needs a slot is counted (a reference count per slot):
 * - the fetcher between opening a block and handing it to the memory cache (the taker's count);
 * - the memory cache while it holds the block (it takes over the taker's count);
 * - every read that returned the block and has not released it yet (a `Lease`). FUSE replies
 *   send views of the blocks to the kernel; the lease ends after the reply, so an evicted or
 *   dropped-behind block's slot cannot be reused while a reply still points into it.
 * A lease nobody releases is released when it is garbage-collected (FinalizationRegistry), so a
 * forgetful caller costs memory for a while, never correctness.
 *
 * Arenas are SharedArrayBuffers, so fetch workers decrypt straight into the slots. They are
 * allocated as needed, up to `maxBytes`, and kept (the free list is LIFO, so the memory a stream
 * uses stays the same few warm arenas). When every slot is taken, callers fall back to ordinary
 * buffers — slower, never wrong.
 */

import { allocAligned } from "../direct-io.js";

const ARENA_BYTES = 8 * 1024 * 1024;

export interface SlabStats {
  /** Slots allocated so far (arenas × slots per arena). */
  slots: number;
  /** Slots with a count above zero. */
  inUse: number;
  /** Blocks that got an ordinary buffer because every slot was taken. */
  exhausted: number;
}

export class PlainSlab {
  private readonly arenas: Buffer[] = [];
  private readonly free: number[] = [];
  private refs = new Int32Array(0);
  private readonly blocks = new WeakMap<Buffer, number>();
  private readonly slotsPerArena: number;
  private readonly maxArenas: number;
  private inUse = 0;
  private exhausted = 0;
  private readonly leases = new FinalizationRegistry<number[]>((held) => this.releaseAll(held));

  constructor(
    readonly slotBytes: number,
    maxBytes: number,
  ) {
    this.slotsPerArena = Math.max(1, Math.floor(ARENA_BYTES / slotBytes));
    this.maxArenas = Math.max(1, Math.ceil(maxBytes / (this.slotsPerArena * slotBytes)));
  }

  /** Up to `n` free slots, each counted once for the caller; fewer (or none) when all are taken. */
  take(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      if (this.free.length === 0 && !this.grow()) {
        this.exhausted += n - out.length;
        break;
      }
      const slot = this.free.pop()!;
      this.refs[slot] = 1;
      this.inUse++;
      out.push(slot);
    }
    return out;
  }

  /** The whole slot, to decrypt into (not yet a block: see `adopt`). */
  slotView(slot: number): Buffer {
    const arena = this.arenas[Math.floor(slot / this.slotsPerArena)]!;
    const at = (slot % this.slotsPerArena) * this.slotBytes;
    return arena.subarray(at, at + this.slotBytes);
  }

  /**
   * `plain` is what was decrypted for `slot`: when it lies at the start of that slot, the block
   * view (known to the slab from now on, so caches and leases can count it); otherwise the
   * opener fell back to its own buffer, the slot goes back and `plain` is returned as it is.
   */
  adopt(slot: number, plain: Buffer): Buffer {
    const view = this.slotView(slot);
    if (plain.buffer !== view.buffer || plain.byteOffset !== view.byteOffset) {
      this.release(slot);
      return plain;
    }
    const block = view.subarray(0, plain.length);
    this.blocks.set(block, slot);
    return block;
  }

  /** The slot a block view lives in, if it came from `adopt`. */
  slotOf(block: Buffer): number | undefined {
    return this.blocks.get(block);
  }

  retain(slot: number): void {
    this.refs[slot]!++;
  }

  release(slot: number): void {
    const left = --this.refs[slot]!;
    if (left > 0) return;
    if (left < 0) throw new Error(`plaintext slot ${slot} released more often than taken`);
    this.inUse--;
    this.free.push(slot);
  }

  /** A new lease: the blocks a read returns, held until `release()`. */
  lease(): Lease {
    const lease = new Lease(this);
    this.leases.register(lease, lease.held, lease);
    return lease;
  }

  /** @internal used by Lease */
  endLease(lease: Lease): void {
    this.leases.unregister(lease);
    this.releaseAll(lease.held);
  }

  stats(): SlabStats {
    return { slots: this.arenas.length * this.slotsPerArena, inUse: this.inUse, exhausted: this.exhausted };
  }

  private releaseAll(held: number[]): void {
    for (const slot of held.splice(0)) this.release(slot);
  }

  private grow(): boolean {
    if (this.arenas.length >= this.maxArenas) return false;
    const index = this.arenas.length;
    const arena = allocAligned(this.slotsPerArena * this.slotBytes, true); // shared, huge pages
    this.arenas.push(arena);
    const refs = new Int32Array((index + 1) * this.slotsPerArena);
    refs.set(this.refs);
    this.refs = refs;
    // pushed in reverse so the lowest slot is taken first
    for (let i = this.slotsPerArena - 1; i >= 0; i--) this.free.push(index * this.slotsPerArena + i);
    return true;
  }
}

/**
 * Slab slots for the blocks of a run about to be opened: the source decrypts block i into
 * `targets[i]`; `adopt` turns what it reported into the block the caches hold (or gives the slot
 * back when the block failed or the source used its own buffer); slots of blocks never reported
 * go back with `releaseUnused`, once the source is done with the run.
 */
export interface ReservedSlots {
  targets: Buffer[] | undefined;
  adopt(index: number, plain: Buffer | undefined): Buffer | undefined;
  releaseUnused(): void;
}

export function reserveSlots(slab: PlainSlab | undefined, count: number): ReservedSlots {
  const slots = slab ? slab.take(count) : [];
  const adopted = new Array<boolean>(slots.length).fill(false);
  return {
    targets: slots.length > 0 ? slots.map((s) => slab!.slotView(s)) : undefined,
    adopt: (i, plain) => {
      if (i >= slots.length || adopted[i]) return plain;
      adopted[i] = true;
      if (plain) return slab!.adopt(slots[i]!, plain);
      slab!.release(slots[i]!);
      return undefined;
    },
    releaseUnused: () => {
      for (const [i, done] of adopted.entries()) {
        if (done) continue;
        adopted[i] = true;
        slab!.release(slots[i]!);
      }
    },
  };
}

/** The slab blocks one read returned; `release()` once the reply that uses them is sent. */
export class Lease {
  /** @internal */
  readonly held: number[] = [];
  private ended = false;

  constructor(private readonly slab: PlainSlab | undefined) {}

  /** Count `block` for this lease (a no-op for blocks not in the slab). */
  hold(block: Buffer): void {
    const slot = this.slab?.slotOf(block);
    if (slot === undefined || this.ended) return;
    this.slab!.retain(slot);
    this.held.push(slot);
  }

  release(): void {
    if (this.ended) return;
    this.ended = true;
    this.slab?.endLease(this);
  }
}
