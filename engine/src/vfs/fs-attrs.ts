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
  return {
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
}

interface Cached {
  attr: MetaAttr;
  at: number;
}

export class AttrCache {
  private readonly map = new Map<number, Cached>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 200_000,
  ) {}

  put(vino: number, attr: MetaAttr): void {
    this.map.delete(vino);
    this.map.set(vino, { attr, at: Date.now() });
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  /** Fresh entry only. */
  fresh(vino: number): MetaAttr | undefined {
    const c = this.map.get(vino);
    return c && Date.now() - c.at < this.ttlMs ? c.attr : undefined;
  }

  /** Any entry, however old (fallback while the service is unreachable, and for stable fields). */
  any(vino: number): MetaAttr | undefined {
    return this.map.get(vino)?.attr;
  }

  drop(vino: number): void {
    this.map.delete(vino);
  }
}
