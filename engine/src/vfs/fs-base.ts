/**
 * The read side of the filespace VFS: state, name resolution, attributes, directory listings and
 * the `.snapshots/` view. Mutations and file data are in filespace-vfs.ts.
 *
 * Caching (the kernel's and ours): lookups and readdirplus fill an attribute cache with a short
 * TTL (`attrTimeoutS`), and the kernel gets the same lifetimes for entries and attributes.
 * Close-to-open: `open` always asks the service, so a file changed elsewhere is seen on the next
 * open; the kernel's page cache is kept only when size and mtime did not change.
 */
import type { DataPath } from "../data/data-path.js";
import type { CachedExtentSource } from "../data/extent-cache.js";
import type { MetaApi, Attr as MetaAttr, Read } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";
import { fsError } from "./errors.js";
import { AttrCache, toKernelAttr } from "./fs-attrs.js";
import { fsCall } from "./fs-errors.js";
import { type InodeMap, type Location, SNAPSHOTS_DIR_NAME, SNAPSHOTS_INO } from "./fs-inodes.js";
import type { NameCodec } from "./fs-names.js";
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

export abstract class FilespaceVfsBase {
  protected readonly api: MetaApi;
  protected readonly session: MetaSession;
  protected readonly names: NameCodec;
  readonly data: DataPath;
  protected readonly extents: CachedExtentSource;
  readonly inodes: InodeMap;
  protected readonly attrs: AttrCache;
  protected readonly ttl: number;
  protected readonly readOnlyMount: boolean;
  protected readonly baseSnapshot: string | undefined;
  protected readonly log: (line: string) => void;
  protected readonly handles = new Map<number, FileHandle | DirHandle>();
  protected readonly nameOf = new Map<number, NameOf>();
  /** Last answer per (parent, name), for lookups while the service is unreachable. */
  private readonly entries = new Map<string, number>();
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

  protected entry(a: MetaAttr, vino: number): Entry {
    this.attrs.put(vino, a);
    return { attr: this.kattr(a, vino), entryTimeout: this.ttl, attrTimeout: this.ttl, generation: a.generation };
  }

  /** Service attributes of `vino`, cached for the TTL; stale ones serve while the service is down. */
  protected async metaAttr(vino: number, fresh = false): Promise<MetaAttr> {
    const cached = fresh ? undefined : this.attrs.fresh(vino);
    if (cached) return cached;
    const loc = this.locate(vino);
    try {
      const res = await this.session.call((ctx) => this.api.getattr(ctx, { inos: [loc.ino], ...this.readOpt(loc) }));
      const item = res.items[0];
      if (!item?.attr) throw new MetaError("ENOENT", item?.error ?? "no such inode");
      this.attrs.put(vino, item.attr);
      return item.attr;
    } catch (err) {
      const stale = this.attrs.any(vino);
      if (stale && !(err instanceof MetaError && err.code !== "UNAVAILABLE")) return stale;
      throw err;
    }
  }

  protected async scopeOf(vino: number): Promise<number> {
    const a = await this.metaAttr(vino);
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
      try {
        const scope = await this.scopeOf(parent);
        const res = await this.session.call((ctx) =>
          this.api.lookup(ctx, { parent: loc.ino, name: this.names.token(scope, name), ...this.readOpt(loc) }),
        );
        const vino = this.inodes.toKernel(res.attr.ino, loc.snapshot);
        this.remember(vino, parent, name);
        if (this.entries.size > 200_000) this.entries.clear();
        this.entries.set(key, vino);
        return this.entry(res.attr, vino);
      } catch (err) {
        const known = this.entries.get(key);
        const stale = known === undefined ? undefined : this.attrs.any(known);
        if (err instanceof MetaError && err.code !== "UNAVAILABLE") {
          if (err.code === "ENOENT") this.entries.delete(key);
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
    const dir = await this.metaAttr(vino, true);
    const scope = dir.nameScope ?? dir.ino;
    const self = this.entry(dir, vino);
    push(".", self);
    push("..", self);
    let cookie: string | undefined;
    do {
      const page = await this.session.call((ctx) =>
        this.api.readdirplus(ctx, {
          ino: loc.ino,
          limit: 1000,
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
        push(name, this.entry(e.attr, child));
      }
      cookie = page.cookie;
    } while (cookie);
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

  getxattr(_ctx: unknown, ino: number, name: string): Promise<Buffer> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO) throw fsError("ENODATA");
      const loc = this.locate(ino);
      const res = await this.session.call((ctx) =>
        this.api.getxattr(ctx, { ino: loc.ino, name: this.names.xattrToken(name), ...this.readOpt(loc) }),
      );
      return this.names.openXattrValue(res.value);
    });
  }

  listxattr(_ctx: unknown, ino: number): Promise<string[]> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO) return [];
      const loc = this.locate(ino);
      const res = await this.session.call((ctx) => this.api.listxattr(ctx, { ino: loc.ino, ...this.readOpt(loc) }));
      return res.names.map((n) => this.names.openXattrName(n.sealed));
    });
  }
}
