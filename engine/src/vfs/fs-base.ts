/**
 * The read side of the filespace VFS: state, name resolution, attributes, directory listings and
 * the `.snapshots/` view. Mutations and file data are in filespace-vfs.ts.
 *
 * Caching (the kernel's and ours): lookups fill an attribute cache with a short TTL
 * (`attrTimeoutS`), and the kernel gets the same lifetimes. A directory listing is one request
 * per 5,000 entries, and what it brought lives `listingTtlS` (longer: the `lstat` of each of
 * 10,000 entries that `ls -l` makes right after the listing must not find them expired); while
 * it lives, lookups in that directory — positive and negative — are answered here (fs-dirs.ts).
 * Getxattr/listxattr of an inode whose fresh attributes say it has no xattrs are answered here
 * too (ls -l asks two per entry).
 * A name this mount resolved less than `attrTimeoutS` ago (the lifetime the kernel is given for
 * the same entry) is answered from memory: the sequence prefetcher looks up the next frames, and
 * the application's own LOOKUP of them then costs no round trip. Local unlink/rename forget it.
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
import { fsCall } from "./fs-errors.js";
import { type InodeMap, type Location, SNAPSHOTS_DIR_NAME, SNAPSHOTS_INO } from "./fs-inodes.js";
import type { NameCodec } from "./fs-names.js";
import { PendingQueue } from "./fs-pending.js";
import type { MetaSession } from "./fs-session.js";
import { type Attr, type DirEntry, type Entry, ROOT_INO, S_IFDIR, type StatFs } from "./types.js";

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

/** Entries per readdirplus request: a 10,000-entry directory in two round trips. */
const READDIR_PAGE = 5000;

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
  protected readonly handles = new Map<number, FileHandle | DirHandle>();
  protected readonly nameOf = new Map<number, NameOf>();
  /** Last answer per (parent, name): fresh ones answer lookups, stale ones serve while the service is unreachable. */
  private readonly entries = new Map<string, { vino: number; at: number }>();
  private nextFh = 1;
  private snapshotsAttr: Attr;

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
    this.learn(vino, a, ttlS * 1000);
    // A directory's name → inode binding may live as long as a listing: path walks (a frame
    // sequence in frames/) then do not pay a LOOKUP of every directory each second.
    const entryTimeout = a.type === "dir" ? Math.max(ttlS, this.listingTtl) : ttlS;
    return { attr: this.kattr(a, vino), entryTimeout, attrTimeout: ttlS, generation: 0 };
  }

  /** Caches attributes from the service; a file whose content changed loses its cached extents. */
  protected learn(vino: number, a: MetaAttr, ttlMs?: number): void {
    if (this.pending.pending(vino)) return; // local knowledge is newer until the queued change lands
    const before = this.attrs.any(vino);
    if (before && a.type === "file" && (before.mtime !== a.mtime || before.size !== a.size))
      this.extents.invalidate(vino);
    this.attrs.put(vino, a, ttlMs);
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
      this.learn(vino, item.attr);
      return item.attr;
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

  // ---- reads ---------------------------------------------------------------------------------

  lookup(_ctx: unknown, parent: number, name: string): Promise<Entry> {
    return fsCall(async () => {
      if (parent === ROOT_INO && name === SNAPSHOTS_DIR_NAME && !this.baseSnapshot) {
        return { attr: this.snapshotsAttr, entryTimeout: this.ttl, attrTimeout: this.ttl };
      }
      if (parent === SNAPSHOTS_INO) return this.lookupSnapshot(name);
      const loc = this.locate(parent);
      const key = `${parent}\0${name}`;
      const known = this.dirs.answer(parent, name);
      if (known === "absent") throw fsError("ENOENT");
      if (known) {
        const a = this.attrs.fresh(known.vino);
        if (a) {
          const left = this.attrs.remainingS(known.vino, this.listingTtl);
          return { attr: this.kattr(a, known.vino), entryTimeout: left, attrTimeout: left, generation: 0 };
        }
      }
      const seen = this.entries.get(key);
      const seenAttr = seen && Date.now() - seen.at < this.ttl * 1000 ? this.attrs.fresh(seen.vino) : undefined;
      if (seen && seenAttr) {
        const left = this.attrs.remainingS(seen.vino, this.ttl);
        return { attr: this.kattr(seenAttr, seen.vino), entryTimeout: left, attrTimeout: left, generation: 0 };
      }
      try {
        const scope = await this.scopeOf(parent);
        const res = await this.session.call((ctx) =>
          this.api.lookup(ctx, { parent: loc.ino, name: this.names.token(scope, name), ...this.readOpt(loc) }),
        );
        const vino = this.inodes.toKernel(res.attr.ino, loc.snapshot);
        this.remember(vino, parent, name);
        if (this.entries.size > 200_000) this.entries.clear();
        this.entries.set(key, { vino, at: Date.now() });
        return this.entry(res.attr, vino);
      } catch (err) {
        const known = this.entries.get(key)?.vino;
        const stale = known === undefined ? undefined : this.attrs.any(known);
        if (err instanceof MetaError && err.code !== "UNAVAILABLE") {
          if (err.code === "ENOENT") {
            this.entries.delete(key);
            this.noteAbsent(key);
          }
          throw err;
        }
        if (known === undefined || !stale) throw err;
        this.log(`metadata service unreachable; answering lookup of inode ${known} from the cache`);
        return { attr: this.kattr(stale, known), entryTimeout: 0, attrTimeout: 0, generation: stale.generation };
      }
    });
  }

  private async lookupSnapshot(name: string): Promise<Entry> {
    const res = await this.session.call((ctx) =>
      this.api.getattr(ctx, { inos: [ROOT_INO], snapshot: name }).catch((err) => {
        if (err instanceof MetaError && err.code === "NO_SNAPSHOT") throw fsError("ENOENT", name);
        throw err;
      }),
    );
    const a = res.items[0]?.attr;
    if (!a) throw fsError("ENOENT", name);
    return this.entry(a, this.inodes.toKernel(ROOT_INO, name));
  }

  /** A name changed here (unlink, rmdir, rename): its remembered answer must not serve lookups. */
  protected forgetName(parent: number, name: string): void {
    this.entries.delete(`${parent}\0${name}`);
  }

  /** Names the service just said do not exist (a create right after may skip asking again). */
  private readonly absent = new Map<string, number>();

  private noteAbsent(key: string): void {
    if (this.absent.size > 10_000) this.absent.clear();
    this.absent.set(key, Date.now());
  }

  /** True when `name` is known not to exist in `parent` (complete directory, or a lookup just now). */
  protected knownAbsent(parent: number, name: string): boolean {
    const known = this.dirs.answer(parent, name);
    if (known !== undefined) return known === "absent";
    const key = `${parent}\0${name}`;
    const at = this.absent.get(key);
    this.absent.delete(key);
    return at !== undefined && Date.now() - at < this.ttl * 1000;
  }

  forget(_ino: number, _nlookup: number): void {
    // Inode lifetimes are the service's (handles and links); nothing to free here.
  }

  getattr(_ctx: unknown, ino: number): Promise<Attr> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO) return this.snapshotsAttr;
      return this.kattr(await this.metaAttr(ino), ino);
    });
  }

  readlink(_ctx: unknown, ino: number): Promise<string> {
    return fsCall(async () => {
      await this.pending.settle([ino]);
      const loc = this.locate(ino);
      const res = await this.session.call((ctx) => this.api.readlink(ctx, { ino: loc.ino, ...this.readOpt(loc) }));
      const target = this.names.openSymlink(res.target);
      if (this.linkLength.size > 100_000) this.linkLength.clear();
      this.linkLength.set(ino, Buffer.byteLength(target));
      return target;
    });
  }

  opendir(_ctx: unknown, ino: number): Promise<{ fh: number }> {
    return fsCall(async () => {
      if (ino !== SNAPSHOTS_INO && (await this.metaAttr(ino)).type !== "dir") throw fsError("ENOTDIR");
      return { fh: this.newFh({ kind: "dir", vino: ino }) };
    });
  }

  readdirplus(_ctx: unknown, ino: number, fh: number, cookie: number, limit: number): Promise<DirEntry[]> {
    return fsCall(async () => {
      const h = this.handles.get(fh);
      if (h?.kind !== "dir") throw fsError("EBADF", `no open directory handle ${fh}`);
      if (!h.entries || cookie === 0) h.entries = await this.listDir(ino);
      return h.entries.slice(cookie, cookie + limit);
    });
  }

  /** The whole directory, "." and ".." first, names opened; cookies are positions. */
  private async listDir(vino: number): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    const push = (name: string, entry: Entry) => out.push({ name, cookie: out.length + 1, entry });
    if (vino === SNAPSHOTS_INO) {
      const self = { attr: this.snapshotsAttr, entryTimeout: this.ttl, attrTimeout: this.ttl };
      push(".", self);
      push("..", self);
      const { snapshots } = await this.session.call((ctx) => this.api.listSnapshots(ctx));
      for (const s of snapshots.sort((a, b) => a.name.localeCompare(b.name))) {
        try {
          push(s.name, await this.lookupSnapshot(s.name));
        } catch {
          // deleted meanwhile
        }
      }
      return out;
    }
    const loc = this.locate(vino);
    const local = this.localListing(vino);
    if (local) {
      for (const [name, entry] of local) push(name, entry);
      return out;
    }
    // Creates this mount queued in the directory land first, so the service lists them.
    await this.pending.settle([vino]);
    await this.pending.settleChildren(vino);
    // The LOOKUP or GETATTR the kernel made just before (`ls` stats the directory first) will do.
    const dir = this.attrs.fresh(vino) ?? (await this.metaAttr(vino, true));
    const scope = dir.nameScope ?? dir.ino;
    const self = this.entry(dir, vino);
    push(".", self);
    push("..", self);
    const names = new Map<string, number>();
    let cookie: string | undefined;
    do {
      const page = await this.session.call((ctx) =>
        this.api.readdirplus(ctx, {
          ino: loc.ino,
          limit: READDIR_PAGE,
          ...(cookie ? { cookie } : {}),
          ...this.readOpt(loc),
        }),
      );
      for (const e of page.entries) {
        let name: string;
        try {
          name = this.names.open(scope, e.name.sealed);
        } catch (err) {
          this.log(`skipping an entry of inode ${vino} whose name does not open: ${(err as Error).message}`);
          continue;
        }
        const child = this.inodes.toKernel(e.attr.ino, loc.snapshot);
        this.remember(child, vino, name);
        names.set(name, child);
        push(name, this.entry(e.attr, child, this.listingTtl));
      }
      cookie = page.cookie;
    } while (cookie);
    this.dirs.listed(vino, names);
    return out;
  }

  /**
   * The listing of a directory known completely here (listed moments ago, or made by this mount
   * and filled since), "." and ".." first; undefined when any attribute is missing.
   */
  private localListing(vino: number): Array<[string, Entry]> | undefined {
    const names = this.dirs.entries(vino);
    const self = this.attrs.any(vino);
    if (!names || !self) return undefined;
    const selfEntry = { attr: this.kattr(self, vino), entryTimeout: this.ttl, attrTimeout: this.ttl, generation: 0 };
    const out: Array<[string, Entry]> = [
      [".", selfEntry],
      ["..", selfEntry],
    ];
    for (const [name, child] of names) {
      const a = this.attrs.any(child);
      if (!a) return undefined;
      const left = Math.max(this.ttl, this.attrs.remainingS(child, this.listingTtl));
      out.push([name, { attr: this.kattr(a, child), entryTimeout: left, attrTimeout: left, generation: 0 }]);
    }
    return out;
  }

  releasedir(_ctx: unknown, _ino: number, fh: number): Promise<void> {
    this.handles.delete(fh);
    return Promise.resolve();
  }

  statfs(): Promise<StatFs> {
    return fsCall(async () => {
      const s = await this.session.call((ctx) => this.api.statfs(ctx));
      const bsize = s.blockSize || 4096;
      const blocks = Math.floor(s.totalBytes / bsize);
      const free = Math.max(0, blocks - Math.ceil(s.usedBytes / bsize));
      return {
        bsize,
        frsize: bsize,
        blocks,
        bfree: free,
        bavail: free,
        files: s.totalFiles,
        ffree: Math.max(0, s.totalFiles - s.files),
        namemax: s.nameMax || 255,
      };
    });
  }

  /** True when fresh attributes say the inode has no xattrs (an older service leaves it open). */
  private noXattrs(ino: number): boolean {
    return this.attrs.fresh(ino)?.hasXattrs === false;
  }

  getxattr(_ctx: unknown, ino: number, name: string): Promise<Buffer> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO || this.noXattrs(ino)) throw fsError("ENODATA");
      const loc = this.locate(ino);
      const res = await this.session.call((ctx) =>
        this.api.getxattr(ctx, { ino: loc.ino, name: this.names.xattrToken(name), ...this.readOpt(loc) }),
      );
      return this.names.openXattrValue(res.value);
    });
  }

  listxattr(_ctx: unknown, ino: number): Promise<string[]> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO || this.noXattrs(ino)) return [];
      await this.pending.settle([ino]);
      const loc = this.locate(ino);
      const res = await this.session.call((ctx) => this.api.listxattr(ctx, { ino: loc.ino, ...this.readOpt(loc) }));
      return res.names.map((n) => this.names.openXattrName(n.sealed));
    });
  }
}
