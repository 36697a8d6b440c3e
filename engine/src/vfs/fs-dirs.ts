/**
 * What this mount knows about whole directories, so a lookup can be answered without asking the
 * service — above all "no such name", which every create(2) starts with (the kernel LOOKUPs the
 * name first) and which `cp -r`/`tar x` would otherwise pay one round trip per file for.
 *
 * A directory is *complete* here when
 * - this mount listed it (readdirplus, all pages) — complete for `listingTtlMs`, or
 * - this mount created it — complete while its mkdir is still queued (nobody else can know it),
 *   then for `slideMs` after each change this mount makes in it.
 * Every local change (create, unlink, rename) updates the names; anything unclear (a failed or
 * partly known change) drops the directory. Consistency is the product's: another client's new
 * name in a complete directory shows up here once the knowledge expires (seconds), or at once
 * when an invalidation arrives (`invalidate`, `clear`: the coordination service will call them).
 */

interface Known {
  names: Map<string, number>;
  /** Complete until then (ms since the epoch; Infinity while this mount's mkdir is queued). */
  until: number;
}

export type DirAnswer = { vino: number } | "absent" | undefined;

export class DirIndex {
  private readonly dirs = new Map<number, Known>();
  private names = 0;

  constructor(
    private readonly listingTtlMs: number,
    private readonly slideMs: number,
    private readonly maxNames = 1_000_000,
  ) {}

  /** After a full listing: exactly these names. */
  listed(dir: number, names: Map<string, number>): void {
    this.set(dir, { names, until: Date.now() + this.listingTtlMs });
  }

  /** A directory this mount just made (its mkdir may still be queued). */
  made(dir: number): void {
    this.set(dir, { names: new Map(), until: Number.POSITIVE_INFINITY });
  }

  /** The mkdir of `dir` reached the service: from now on the knowledge slides. */
  landed(dir: number): void {
    const k = this.dirs.get(dir);
    if (k && k.until === Number.POSITIVE_INFINITY) k.until = Date.now() + this.slideMs;
  }

  /** Answer for `name` in `dir`: the inode, "absent", or undefined (not known here). */
  answer(dir: number, name: string): DirAnswer {
    const k = this.live(dir);
    if (!k) return undefined;
    const vino = k.names.get(name);
    return vino === undefined ? "absent" : { vino };
  }

  /** All names of `dir` when it is complete here right now. */
  entries(dir: number): ReadonlyMap<string, number> | undefined {
    return this.live(dir)?.names;
  }

  /** True when `dir` is complete here right now. */
  complete(dir: number): boolean {
    return this.live(dir) !== undefined;
  }

  /** This mount bound `name` in `dir` to `vino`. */
  add(dir: number, name: string, vino: number): void {
    const k = this.dirs.get(dir);
    if (!k) return;
    if (!k.names.has(name)) this.names++;
    k.names.set(name, vino);
    this.slide(k);
  }

  /** This mount removed `name` from `dir`. */
  remove(dir: number, name: string): void {
    const k = this.dirs.get(dir);
    if (!k) return;
    if (k.names.delete(name)) this.names--;
    this.slide(k);
  }

  /** Forget what is known about `dir` (a change we cannot follow, or an invalidation). */
  invalidate(dir: number): void {
    const k = this.dirs.get(dir);
    if (!k) return;
    this.names -= k.names.size;
    this.dirs.delete(dir);
  }

  clear(): void {
    this.dirs.clear();
    this.names = 0;
  }

  private live(dir: number): Known | undefined {
    const k = this.dirs.get(dir);
    if (!k) return undefined;
    if (Date.now() < k.until) return k;
    this.invalidate(dir);
    return undefined;
  }

  private slide(k: Known): void {
    if (k.until !== Number.POSITIVE_INFINITY) k.until = Math.max(k.until, Date.now() + this.slideMs);
  }

  private set(dir: number, k: Known): void {
    this.invalidate(dir);
    this.dirs.set(dir, k);
    this.names += k.names.size;
    // Oldest directories go first; one whose mkdir is still queued stays (its knowledge is the only copy).
    for (const [d, old] of this.dirs) {
      if (this.names <= this.maxNames) break;
      if (d !== dir && old.until !== Number.POSITIVE_INFINITY) this.invalidate(d);
    }
  }
}
