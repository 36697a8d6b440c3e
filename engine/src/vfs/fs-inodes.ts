/**
 * Inode numbers as the kernel sees them. Live inodes keep the service's numbers. Snapshot views
 * under `.snapshots/<name>/` need numbers of their own (the same service inode exists in the
 * live tree and in every snapshot), so they get virtual numbers from a range the service never
 * reaches (2^50 and up); the data path keys its caches by these numbers too, so a snapshot's
 * extents never mix with the live file's.
 */
export const SNAPSHOTS_DIR_NAME = ".snapshots";
export const SNAPSHOTS_INO = 2 ** 50;
const FIRST_VIRTUAL = SNAPSHOTS_INO + 1;

/** Where a kernel inode lives: a service inode, in the live tree or in a snapshot. */
export interface Location {
  ino: number;
  snapshot?: string;
}

export class InodeMap {
  private readonly byKey = new Map<string, number>();
  private readonly byVirtual = new Map<number, Location>();
  private next = FIRST_VIRTUAL;

  /** `baseSnapshot`: the whole mount is a view of this snapshot (`--snapshot NAME`). */
  constructor(private readonly baseSnapshot?: string) {}

  isVirtual(vino: number): boolean {
    return vino >= SNAPSHOTS_INO;
  }

  /** The kernel inode for a service inode seen in `snapshot` (undefined = live tree). */
  toKernel(ino: number, snapshot?: string): number {
    if (snapshot === undefined || snapshot === this.baseSnapshot) return ino;
    const key = `${snapshot}\0${ino}`;
    let v = this.byKey.get(key);
    if (v === undefined) {
      v = this.next++;
      this.byKey.set(key, v);
      this.byVirtual.set(v, { ino, snapshot });
    }
    return v;
  }

  /** The service inode behind a kernel inode; undefined for `.snapshots` itself or unknown numbers. */
  locate(vino: number): Location | undefined {
    if (vino < SNAPSHOTS_INO) return this.baseSnapshot ? { ino: vino, snapshot: this.baseSnapshot } : { ino: vino };
    return this.byVirtual.get(vino);
  }

  /** True when the inode is read-only (in a snapshot). */
  readOnly(vino: number): boolean {
    return this.baseSnapshot !== undefined || vino >= SNAPSHOTS_INO;
  }
}
