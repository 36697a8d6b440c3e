/**
 * The state every part of the filespace VFS shares, and how attributes are learned and served.
 * The parts build on each other, one module each:
 *   fs-base.ts → fs-reads.ts (lookup, getattr, readlink, xattrs, statfs) → fs-listing.ts
 *   (directory listings) → fs-local-creates.ts (creates answered here, the namespace queue)
 *   → fs-creates.ts (mknod, mkdir, symlink, create) → filespace-vfs.ts (the other mutations,
 *   file data, locks).
 *
 * Attributes: lookups fill an attribute cache with a short TTL (`attrTimeoutS`), and the kernel
 * gets the same lifetimes (a directory's entry may live as long as a listing). Attributes from
 * the service never replace those of an inode with queued changes (local knowledge is newer until
 * they land); a file whose size or mtime moved loses its cached extents; while the service is
 * unreachable, stale attributes serve.
 * Close-to-open: `open` asks the service unless the attributes are younger than `openFreshMs`
 * (default: the attribute TTL — the same window the kernel's own attribute cache has); the
 * kernel's page cache is kept only when size, mtime and ctime did not change since this mount
 * last opened the file.
 */
import type { DataPath } from "../data/data-path.js";
import type { CachedExtentSource } from "../data/extent-cache.js";
import type { MetaApi, Attr as MetaAttr, Read } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";
import { fsError } from "./errors.js";
import { AttrCache, toKernelAttr } from "./fs-attrs.js";
import { DirIndex } from "./fs-dirs.js";
import { type InodeMap, type Location, SNAPSHOTS_INO } from "./fs-inodes.js";
import type { NameCodec } from "./fs-names.js";
import { PendingQueue } from "./fs-pending.js";
import type { MetaSession } from "./fs-session.js";
import { type Attr, type DirEntry, type Entry, S_IFDIR } from "./types.js";

export interface FilespaceVfsOptions {
  session: MetaSession;
  names: NameCodec;
  data: DataPath;
  extents: CachedExtentSource;
  /** Kernel inode map (shared with the data seams). */
  inodes: InodeMap;
  readOnly?: boolean;
  /** The whole mount is this snapshot (read-only). */
  snapshot?: string;
  /** Seconds the kernel (and we) may cache entries and attributes. Default 1. */
  attrTimeoutS?: number;
  /** Seconds what a directory listing brought stays valid (entries, attributes, absent names). Default max(10, attrTimeoutS). */
  listingTtlS?: number;
  /** Attributes younger than this satisfy close-to-open at `open` (ms). Default attrTimeoutS × 1000. */
  openFreshMs?: number;
  /** Answer creates at once with reserved inode numbers and queue them (default true when the service can reserve). */
  localCreates?: boolean;
  /** Host name for conflict names (`name.conflict-<host>-<n>`). */
  hostName?: string;
  /** Directory of the namespace queue's journal (queued creates survive a crash); none: in memory only. */
  namespaceLogDir?: string;
  log?: (line: string) => void;
  /** Opens a store connection ahead of a cold read (`ObjectStore.preconnect`); `open` calls it. */
  preconnect?: () => void;
  /**
   * Strict close-to-open: close(2) of a written file returns once its writes are uploaded and
   * committed, so another client's next open sees them. Default: close starts the upload and
   * returns (others see the data once it lands, typically well under a second).
   */
  syncClose?: boolean;
}

export interface FileHandle {
  kind: "file";
  vino: number;
  loc: Location;
  /** The service's handle id (absent in snapshot views). */
  handle?: string;
  write: boolean;
  append: boolean;
  wrote: boolean;
}

export interface DirHandle {
  kind: "dir";
  vino: number;
  entries?: DirEntry[];
}

/** Where a name was last seen (for sequence prediction). */
export interface NameOf {
  parent: number;
  name: string;
}

export abstract class FilespaceVfsBase {
  protected readonly api: MetaApi;
  protected readonly session: MetaSession;
  protected readonly names: NameCodec;
  readonly data: DataPath;
  protected readonly extents: CachedExtentSource;
  readonly inodes: InodeMap;
  protected readonly attrs: AttrCache;
  protected readonly ttl: number;
  protected readonly listingTtl: number;
  protected readonly openFreshMs: number;
  /** Whole directories known here (listed, or made by this mount). */
  readonly dirs: DirIndex;
  /** Namespace changes answered here that have not reached the service yet. */
  readonly pending: PendingQueue;
  protected readonly readOnlyMount: boolean;
  protected readonly baseSnapshot: string | undefined;
  protected readonly log: (line: string) => void;
  protected readonly preconnect: () => void;
  protected readonly syncClose: boolean;
  protected readonly handles = new Map<number, FileHandle | DirHandle>();
  protected readonly nameOf = new Map<number, NameOf>();
  private nextFh = 1;
  /** Attributes of the `.snapshots/` directory (made up here). */
  protected readonly snapshotsAttr: Attr;

  constructor(o: FilespaceVfsOptions) {
    this.session = o.session;
    this.api = o.session.api;
    this.names = o.names;
    this.data = o.data;
    this.extents = o.extents;
    this.inodes = o.inodes;
    this.ttl = o.attrTimeoutS ?? 1;
    this.attrs = new AttrCache(this.ttl * 1000);
    this.listingTtl = o.listingTtlS ?? Math.max(10, this.ttl);
    this.openFreshMs = o.openFreshMs ?? this.ttl * 1000;
    this.dirs = new DirIndex(this.listingTtl * 1000, Math.max(this.ttl, this.listingTtl) * 1000);
    this.pending = new PendingQueue((l) => this.log(l));
    this.readOnlyMount = (o.readOnly ?? false) || o.snapshot !== undefined;
    this.baseSnapshot = o.snapshot;
    this.log = o.log ?? (() => {});
    this.preconnect = o.preconnect ?? (() => {});
    this.syncClose = o.syncClose ?? false;
    const now = Date.now();
    this.snapshotsAttr = {
      ino: SNAPSHOTS_INO,
      mode: S_IFDIR | 0o555,
      nlink: 2,
      uid: 0,
      gid: 0,
      size: 0,
      blocks: 0,
      rdev: 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
    };
  }

  // ---- helpers -------------------------------------------------------------------------------

  protected newFh(h: FileHandle | DirHandle): number {
    const fh = this.nextFh++;
    this.handles.set(fh, h);
    return fh;
  }

  protected file(fh: number): FileHandle {
    const h = this.handles.get(fh);
    if (h?.kind !== "file") throw fsError("EBADF", `no open file handle ${fh}`);
    return h;
  }

  protected locate(vino: number): Location {
    const loc = this.inodes.locate(vino);
    if (!loc) throw fsError(vino === SNAPSHOTS_INO ? "EISDIR" : "ESTALE", `inode ${vino}`);
    return loc;
  }

  protected readOpt(loc: Location): Read {
    return loc.snapshot ? { snapshot: loc.snapshot } : {};
  }

  /** Refuses changes to snapshots and read-only mounts. */
  protected writable(vino: number): Location {
    if (this.readOnlyMount || this.inodes.readOnly(vino)) throw fsError("EROFS", "read-only");
    return this.locate(vino);
  }

  /** Plaintext lengths of symlink targets seen (the service only knows the sealed length). */
  protected readonly linkLength = new Map<number, number>();

  /** Kernel attributes, with the size pending writes give the file (or a symlink's real length). */
  protected kattr(a: MetaAttr, vino: number): Attr {
    if (a.type === "symlink") return toKernelAttr(a, vino, this.linkLength.get(vino) ?? a.size);
    return toKernelAttr(a, vino, a.type === "file" ? (this.data.writeBack.pendingSize(vino) ?? a.size) : a.size);
  }

  /**
   * A kernel entry for `a`, cached for `ttlS`. The generation the kernel sees is always 0: the
   * service never reuses inode numbers, and an inode this mount creates does not know its
   * service generation yet (the kernel marks an inode bad when the generation changes).
   */
  protected entry(a: MetaAttr, vino: number, ttlS = this.ttl): Entry {
    const known = this.learn(vino, a, ttlS * 1000);
    // A directory's name → inode binding may live as long as a listing: path walks (a frame
    // sequence in frames/) then do not pay a LOOKUP of every directory each second.
    const entryTimeout = a.type === "dir" ? Math.max(ttlS, this.listingTtl) : ttlS;
    return { attr: this.kattr(known, vino), entryTimeout, attrTimeout: ttlS, generation: 0 };
  }

  /**
   * Caches attributes from the service; a file whose content changed loses its cached extents.
   * Returns what this mount shows (local knowledge where it is newer).
   */
  protected learn(vino: number, a: MetaAttr, ttlMs?: number): MetaAttr {
    // Local knowledge is newer until the queued change lands.
    if (this.pending.pending(vino)) return this.attrs.any(vino) ?? a;
    const before = this.attrs.any(vino);
    if (before && a.type === "file" && (before.mtime !== a.mtime || before.size !== a.size))
      this.extents.invalidate(vino);
    const known = before ? this.withQueuedTimes(vino, a, before) : a;
    this.attrs.put(vino, known, ttlMs);
    return known;
  }

  /**
   * A directory with creates of this mount still queued in it: the service has not seen them
   * yet, so its times, entry count (size) and link count are behind the ones shown here. Keep
   * the later ones — a directory must not step back and then forward again while its creates
   * land (tar: "file changed as we read it").
   */
  protected withQueuedTimes(vino: number, a: MetaAttr, before: MetaAttr): MetaAttr {
    if (a.type !== "dir" || !this.pending.childrenQueued(vino)) return a;
    const ahead = before.mtime > a.mtime || before.ctime > a.ctime || before.nlink > a.nlink || before.size > a.size;
    if (!ahead) return a;
    return {
      ...a,
      mtime: Math.max(a.mtime, before.mtime),
      ctime: Math.max(a.ctime, before.ctime),
      nlink: Math.max(a.nlink, before.nlink),
      size: Math.max(a.size, before.size),
    };
  }

  /** Service attributes of `vino`, cached for the TTL; stale ones serve while the service is down. */
  protected async metaAttr(vino: number, fresh = false): Promise<MetaAttr> {
    const cached = fresh && !this.pending.pending(vino) ? undefined : this.attrs.fresh(vino);
    if (cached) return cached;
    const failed = this.pending.failure(vino);
    if (failed) throw fsError("EIO", `inode ${vino} was never created: ${failed.message}`);
    const loc = this.locate(vino);
    try {
      const res = await this.session.call((ctx) => this.api.getattr(ctx, { inos: [loc.ino], ...this.readOpt(loc) }));
      const item = res.items[0];
      if (!item?.attr) throw new MetaError("ENOENT", item?.error ?? "no such inode");
      return this.learn(vino, item.attr);
    } catch (err) {
      const stale = this.attrs.any(vino);
      if (stale && !(err instanceof MetaError && err.code !== "UNAVAILABLE")) return stale;
      throw err;
    }
  }

  /** The name scope of a directory (stable for the inode's life, so any cached attr will do). */
  protected async scopeOf(vino: number): Promise<number> {
    const a = this.attrs.any(vino) ?? (await this.metaAttr(vino));
    if (a.type !== "dir") throw fsError("ENOTDIR", `inode ${vino}`);
    return a.nameScope ?? a.ino;
  }

  protected remember(vino: number, parent: number, name: string): void {
    if (this.nameOf.size > 100_000) this.nameOf.clear();
    this.nameOf.set(vino, { parent, name });
  }
}
