/**
 * POSIX byte-range locks and flock locks for one file system, kept in memory.
 *
 * Byte-range locks follow fcntl(2): a lock belongs to an owner (the kernel's lock_owner), read
 * locks of different owners coexist, a write lock excludes every other owner, and setting a
 * lock over a range an owner already holds replaces that part (ranges split and merge, so a
 * read lock in the middle of a write lock leaves three ranges). flock(2) locks are whole-file,
 * per owner (the open file description), independent of byte-range locks (as on Linux).
 *
 * Blocking waits re-check after every release on the same inode and give up with EINTR when
 * their AbortSignal fires (the kernel interrupted the request). No deadlock detection.
 */
import { FsError } from "./errors.js";
import type { ByteRangeLock, FlockOp } from "./types.js";

interface HeldRange {
  owner: bigint;
  type: "read" | "write";
  start: number;
  end: number;
  pid: number;
}

interface InodeLocks {
  ranges: HeldRange[];
  flocks: Map<bigint, "shared" | "exclusive">;
  /** Woken (and cleared) on every release so blocked waiters re-check. */
  wakers: Set<() => void>;
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) =>
  a.start <= b.end && b.start <= a.end;

export class LockTable {
  private readonly byIno = new Map<number, InodeLocks>();

  private of(ino: number): InodeLocks {
    let l = this.byIno.get(ino);
    if (!l) {
      l = { ranges: [], flocks: new Map(), wakers: new Set() };
      this.byIno.set(ino, l);
    }
    return l;
  }

  /** The first range of another owner that conflicts with `lock`, if any. */
  conflict(ino: number, owner: bigint, lock: ByteRangeLock): ByteRangeLock | undefined {
    if (lock.type === "unlock") return undefined;
    for (const r of this.byIno.get(ino)?.ranges ?? []) {
      if (r.owner === owner || !overlaps(r, lock)) continue;
      if (lock.type === "write" || r.type === "write") {
        return { type: r.type, start: r.start, end: r.end, pid: r.pid };
      }
    }
    return undefined;
  }

  async setlk(ino: number, owner: bigint, lock: ByteRangeLock, wait: boolean, signal?: AbortSignal): Promise<void> {
    if (lock.start < 0 || lock.end < lock.start) throw new FsError("EINVAL", "lock range");
    while (this.conflict(ino, owner, lock)) {
      if (!wait) throw new FsError("EAGAIN", "lock held by another owner");
      await this.waitForRelease(ino, signal);
    }
    this.applyRange(ino, owner, lock);
  }

  async flock(ino: number, owner: bigint, op: FlockOp, wait: boolean, signal?: AbortSignal) {
    const l = this.of(ino);
    if (op === "unlock") {
      if (l.flocks.delete(owner)) this.wake(l);
      return;
    }
    const blocked = () => {
      for (const [o, mode] of l.flocks) {
        if (o !== owner && (op === "exclusive" || mode === "exclusive")) return true;
      }
      return false;
    };
    // Converting a lock is not atomic in flock(2) either: drop ours first so waiters can go.
    if (l.flocks.has(owner) && l.flocks.get(owner) !== op && blocked()) {
      l.flocks.delete(owner);
      this.wake(l);
    }
    while (blocked()) {
      if (!wait) throw new FsError("EWOULDBLOCK", "flock held by another owner");
      await this.waitForRelease(ino, signal);
    }
    l.flocks.set(owner, op);
  }

  /** Drop every byte-range lock `owner` holds on `ino` (close of a descriptor). */
  releaseRanges(ino: number, owner: bigint): void {
    const l = this.byIno.get(ino);
    if (!l) return;
    const before = l.ranges.length;
    l.ranges = l.ranges.filter((r) => r.owner !== owner);
    if (l.ranges.length !== before) this.wake(l);
  }

  releaseFlock(ino: number, owner: bigint): void {
    const l = this.byIno.get(ino);
    if (l?.flocks.delete(owner)) this.wake(l);
  }

  /** Held ranges (for tests and diagnostics). */
  ranges(ino: number): ReadonlyArray<Readonly<HeldRange>> {
    return this.byIno.get(ino)?.ranges ?? [];
  }

  private applyRange(ino: number, owner: bigint, lock: ByteRangeLock): void {
    const l = this.of(ino);
    const kept: HeldRange[] = [];
    let released = false;
    for (const r of l.ranges) {
      if (r.owner !== owner || !overlaps(r, lock)) {
        kept.push(r);
        continue;
      }
      released = true;
      if (r.start < lock.start) kept.push({ ...r, end: lock.start - 1 });
      if (r.end > lock.end) kept.push({ ...r, start: lock.end + 1 });
    }
    if (lock.type !== "unlock") {
      kept.push({ owner, type: lock.type, start: lock.start, end: lock.end, pid: lock.pid });
    }
    l.ranges = mergeAdjacent(kept);
    if (released) this.wake(l);
  }

  private wake(l: InodeLocks): void {
    const wakers = [...l.wakers];
    l.wakers.clear();
    for (const w of wakers) w();
  }

  private waitForRelease(ino: number, signal?: AbortSignal): Promise<void> {
    const l = this.of(ino);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new FsError("EINTR", "lock wait interrupted"));
      const onAbort = () => {
        l.wakers.delete(waker);
        reject(new FsError("EINTR", "lock wait interrupted"));
      };
      const waker = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      l.wakers.add(waker);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Merge ranges of the same owner and type that touch or overlap. */
function mergeAdjacent(ranges: HeldRange[]): HeldRange[] {
  const sorted = [...ranges].sort((a, b) =>
    a.owner === b.owner
      ? a.type === b.type
        ? a.start - b.start
        : a.type < b.type
          ? -1
          : 1
      : a.owner < b.owner
        ? -1
        : 1,
  );
  const out: HeldRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.owner === r.owner && last.type === r.type && last.end + 1 >= r.start) {
      last.end = Math.max(last.end, r.end);
    } else {
      out.push({ ...r });
    }
  }
  return out;
}
