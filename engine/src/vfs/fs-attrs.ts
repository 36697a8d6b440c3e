/**
 * Attribute conversion (service → kernel) and the attribute cache. The cache holds what
 * lookups, readdirplus and mutations returned, for `ttlMs`; an expired entry is still used when
 * the service cannot be reached, so cached files stay readable while it is down.
 */
import type { Attr as MetaAttr, FileType as MetaFileType } from "../meta/api.js";
import { type Attr, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from "./types.js";

const TYPE_BITS: Record<MetaFileType, number> = {
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
};

export function metaTypeOfMode(mode: number): MetaFileType {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    default:
      return "file";
  }
}

/** Kernel attributes of a service attr, as inode `vino`, with `size` overriding (pending writes). */
export function toKernelAttr(a: MetaAttr, vino: number, size = a.size): Attr {
  const attr: Attr = {
    ino: vino,
    mode: TYPE_BITS[a.type] | (a.mode & 0o7777),
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    size,
    blocks: Math.ceil(size / 512),
    rdev: a.rdev,
    atimeMs: a.atime,
    mtimeMs: a.mtime,
    ctimeMs: a.ctime,
  };
  if (a.hasXattrs === false) attr.noXattrs = true;
  return attr;
}

interface Cached {
  attr: MetaAttr;
  /** When the service said so (or when this mount made the inode). */
  at: number;
  /** Fresh until then. */
  until: number;
}

/**
 * Attributes by kernel inode. Entries carry their own lifetime: what a lookup or getattr
 * returned lives `ttlMs`; what a directory listing brought may live longer (the `lstat` of every
 * entry right after a 10,000-entry listing must not find them expired); inodes this mount made
 * and the service does not know yet are `pinned` (fresh until replaced).
 */
export class AttrCache {
  private readonly map = new Map<number, Cached>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 200_000,
  ) {}

  put(vino: number, attr: MetaAttr, ttlMs = this.ttlMs): void {
    const now = Date.now();
    this.map.delete(vino);
    this.map.set(vino, { attr, at: now, until: now + ttlMs });
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  /** Fresh until replaced or dropped (an inode the service does not know yet). */
  pin(vino: number, attr: MetaAttr): void {
    this.put(vino, attr, Number.POSITIVE_INFINITY);
  }

  /** Fresh entry only. */
  fresh(vino: number): MetaAttr | undefined {
    const c = this.map.get(vino);
    return c && Date.now() < c.until ? c.attr : undefined;
  }

  /** Milliseconds since the service gave this entry (Infinity when none). */
  age(vino: number): number {
    const c = this.map.get(vino);
    return c ? Date.now() - c.at : Number.POSITIVE_INFINITY;
  }

  /** Seconds the entry stays fresh (0 when stale or absent), capped for the kernel. */
  remainingS(vino: number, capS: number): number {
    const c = this.map.get(vino);
    if (!c) return 0;
    return Math.max(0, Math.min(capS, (c.until - Date.now()) / 1000));
  }

  /** Any entry, however old (fallback while the service is unreachable, and for stable fields). */
  any(vino: number): MetaAttr | undefined {
    return this.map.get(vino)?.attr;
  }

  /** Changes the cached attr in place (local knowledge: an xattr set here, a pending chmod), keeping its lifetime. */
  patch(vino: number, change: Partial<MetaAttr>): void {
    const c = this.map.get(vino);
    if (c) c.attr = { ...c.attr, ...change };
  }

  drop(vino: number): void {
    this.map.delete(vino);
  }

  clear(): void {
    this.map.clear();
  }
}
