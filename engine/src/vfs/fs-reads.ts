/**
 * Reads that answer about one name or inode: lookup, getattr, readlink, getxattr/listxattr,
 * statfs, and the entries of the `.snapshots/` directory.
 *
 * Lookup answers, cheapest first: a directory listing still alive (fs-dirs.ts, positive and
 * negative); a name this mount resolved less than `attrTimeoutS` ago — the lifetime the kernel is
 * given for the same entry (fs-name-memory.ts: the sequence prefetcher looks up the next frames,
 * and the application's own LOOKUP of them then costs no round trip; local unlink/rename forget
 * it); the service. While the service is unreachable, the last answer serves, uncached.
 * Getxattr/listxattr of an inode whose fresh attributes say it has no xattrs are answered here
 * too (ls -l asks two per entry).
 */
import { MetaError } from "../meta/errors.js";
import { fsError } from "./errors.js";
import { FilespaceVfsBase } from "./fs-base.js";
import { toDataExtent } from "./fs-data.js";
import { fsCall } from "./fs-errors.js";
import { SNAPSHOTS_DIR_NAME, SNAPSHOTS_INO } from "./fs-inodes.js";
import { NameMemory } from "./fs-name-memory.js";
import { type Attr, type Entry, ROOT_INO, type StatFs } from "./types.js";

export abstract class FilespaceVfsReads extends FilespaceVfsBase {
  /** What the service last said about single names (resolved, or absent). */
  private readonly recentNames = new NameMemory(this.ttl * 1000);

  lookup(_ctx: unknown, parent: number, name: string): Promise<Entry> {
    return fsCall(async () => {
      if (parent === ROOT_INO && name === SNAPSHOTS_DIR_NAME && !this.baseSnapshot) {
        return { attr: this.snapshotsAttr, entryTimeout: this.ttl, attrTimeout: this.ttl };
      }
      if (parent === SNAPSHOTS_INO) return this.lookupSnapshot(name);
      const loc = this.locate(parent);
      const known = this.dirs.answer(parent, name);
      if (known === "absent") throw fsError("ENOENT");
      if (known) {
        const a = this.attrs.fresh(known.vino);
        if (a) {
          const left = this.attrs.remainingS(known.vino, this.listingTtl);
          return { attr: this.kattr(a, known.vino), entryTimeout: left, attrTimeout: left, generation: 0 };
        }
      }
      const recent = this.recentNames.recent(parent, name);
      const recentAttr = recent === undefined ? undefined : this.attrs.fresh(recent);
      if (recent !== undefined && recentAttr) {
        const left = this.attrs.remainingS(recent, this.ttl);
        return { attr: this.kattr(recentAttr, recent), entryTimeout: left, attrTimeout: left, generation: 0 };
      }
      try {
        const scope = await this.scopeOf(parent);
        const res = await this.session.call((ctx) =>
          this.api.lookup(ctx, {
            parent: loc.ino,
            name: this.names.token(scope, name),
            // a file is usually looked up to be opened and read: its first extents come along
            headExtentsBytes: this.extents.windowBytes,
            ...this.readOpt(loc),
          }),
        );
        const vino = this.inodes.toKernel(res.attr.ino, loc.snapshot);
        this.remember(vino, parent, name);
        this.recentNames.resolved(parent, name, vino);
        const entry = this.entry(res.attr, vino);
        // after `entry` learned the attributes (which drops the extents of a changed file): these
        // came in the same answer, so they are just as fresh
        if (res.headExtents && !this.pending.pending(vino))
          this.extents.seedHead(vino, res.headExtents.extents.map(toDataExtent));
        return entry;
      } catch (err) {
        const known = this.recentNames.last(parent, name);
        const stale = known === undefined ? undefined : this.attrs.any(known);
        if (err instanceof MetaError && err.code !== "UNAVAILABLE") {
          if (err.code === "ENOENT") this.recentNames.absent(parent, name);
          throw err;
        }
        if (known === undefined || !stale) throw err;
        this.log(`metadata service unreachable; answering lookup of inode ${known} from the cache`);
        return { attr: this.kattr(stale, known), entryTimeout: 0, attrTimeout: 0, generation: stale.generation };
      }
    });
  }

  protected async lookupSnapshot(name: string): Promise<Entry> {
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
    this.recentNames.forget(parent, name);
  }

  /** True when `name` is known not to exist in `parent` (complete directory, or a lookup just now). */
  protected knownAbsent(parent: number, name: string): boolean {
    const known = this.dirs.answer(parent, name);
    if (known !== undefined) return known === "absent";
    return this.recentNames.takeAbsent(parent, name);
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
