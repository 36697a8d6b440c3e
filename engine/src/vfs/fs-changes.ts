/**
 * The namespace changes of `FilespaceVfs` (link, unlink, rmdir, rename, setattr, xattrs) and what
 * they must keep intact: local readers of an inode losing its last name get a service handle
 * first (`protectReaders`), explicit times land after the file's pending writes (`writesFirst`),
 * and a change right behind a queued create is queued with it (fs-local-creates.ts).
 */
import { randomUUID as rid } from "node:crypto";
import type { Attr as MetaAttr } from "../meta/api.js";
import { fsError } from "./errors.js";
import type { FilespaceVfsOptions } from "./fs-base.js";
import { FilespaceVfsCreates } from "./fs-creates.js";
import { FlushCoalescer } from "./fs-data.js";
import { fsCall } from "./fs-errors.js";
import { SNAPSHOTS_INO } from "./fs-inodes.js";
import {
  type Attr,
  type CallerContext,
  type Entry,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  type SetAttr,
  XATTR_CREATE,
  XATTR_REPLACE,
} from "./types.js";

export abstract class FilespaceVfsChanges extends FilespaceVfsCreates {
  protected readonly flusher: FlushCoalescer;
  /**
   * Read-only opens of live files take no service handle (an open/release pair would be two
   * journaled mutations per read). Local readers are counted here; before this mount unlinks or
   * renames over an inode that has readers, it takes one service handle for them so the inode
   * outlives its last name until they close. (Another client deleting a file we read is NFS-like:
   * the next read fails.)
   */
  protected readonly readers = new Map<number, { count: number; handle?: string }>();

  constructor(o: FilespaceVfsOptions) {
    super(o);
    this.flusher = new FlushCoalescer(
      () => this.data.flush(),
      () => this.data.writeBack.records,
    );
  }

  protected async dropReader(vino: number): Promise<void> {
    const r = this.readers.get(vino);
    if (!r || --r.count > 0) return;
    this.readers.delete(vino);
    const handle = r.handle;
    if (handle) {
      await this.session
        .call((c) => this.api.release(c, { requestId: rid(), handle }))
        .catch((err) => this.log(`release of inode ${vino}: ${err}`));
    }
  }

  /** Before a name goes away: give local readers of its inode a service handle. */
  private async protectReaders(parent: number, name: string): Promise<void> {
    if (this.readers.size === 0) return;
    const loc = this.locate(parent);
    const token = this.names.token(await this.scopeOf(parent), name);
    const found = await this.session
      .call((c) => this.api.lookup(c, { parent: loc.ino, name: token }))
      .catch(() => undefined);
    const r = found ? this.readers.get(found.attr.ino) : undefined;
    if (!r || r.handle || !found) return;
    const res = await this.session.call((c) => this.api.open(c, { requestId: rid(), ino: found.attr.ino }));
    r.handle = res.handle;
  }

  // ---- namespace mutations -------------------------------------------------------------------

  /** The inode `name` in `parent` is known here to be (for waiting on its queued create). */
  private knownIno(parent: number, name: string): number[] {
    const k = this.dirs.answer(parent, name);
    return k && k !== "absent" ? [k.vino] : [];
  }

  link(_ctx: CallerContext, ino: number, newParent: number, newName: string): Promise<Entry> {
    return fsCall(async () => {
      const loc = this.writable(ino);
      const ploc = this.writable(newParent);
      this.guardRootName(newParent, newName);
      await this.pending.settle([ino, newParent]);
      const sealed = this.names.seal(await this.scopeOf(newParent), newName);
      const res = await this.session.call((c) =>
        this.api.link(c, { requestId: rid(), ino: loc.ino, newParent: ploc.ino, newName: sealed }),
      );
      return this.made(newParent, newName, res.attr, ino);
    });
  }

  unlink(_ctx: CallerContext, parent: number, name: string): Promise<void> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      await this.pending.settle([parent, ...this.knownIno(parent, name)]);
      await this.protectReaders(parent, name);
      this.forgetName(parent, name);
      const token = this.names.token(await this.scopeOf(parent), name);
      const res = await this.session
        .call((c) => this.api.unlink(c, { requestId: rid(), parent: loc.ino, name: token }))
        .catch((err) => {
          this.dirs.invalidate(parent);
          throw err;
        });
      this.dirs.remove(parent, name);
      this.changedAtService(parent, res.dir);
      this.attrs.drop(res.ino);
    });
  }

  rmdir(_ctx: CallerContext, parent: number, name: string): Promise<void> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      const target = this.knownIno(parent, name);
      await this.pending.settle([parent, ...target]);
      for (const t of target) await this.pending.settleChildren(t);
      this.forgetName(parent, name);
      const token = this.names.token(await this.scopeOf(parent), name);
      const res = await this.session
        .call((c) => this.api.rmdir(c, { requestId: rid(), parent: loc.ino, name: token }))
        .catch((err) => {
          this.dirs.invalidate(parent);
          throw err;
        });
      this.dirs.remove(parent, name);
      for (const t of target) this.dirs.invalidate(t);
      this.changedAtService(parent, res.dir);
    });
  }

  rename(
    _ctx: CallerContext,
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: number,
  ): Promise<void> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      const nloc = this.writable(newParent);
      this.guardRootName(newParent, newName);
      const source = this.knownIno(parent, name);
      await this.pending.settle([parent, newParent, ...source, ...this.knownIno(newParent, newName)]);
      if (!(flags & RENAME_EXCHANGE)) await this.protectReaders(newParent, newName);
      this.forgetName(parent, name);
      this.forgetName(newParent, newName);
      const token = this.names.token(await this.scopeOf(parent), name);
      const sealed = this.names.seal(await this.scopeOf(newParent), newName);
      const res = await this.session
        .call((c) =>
          this.api.rename(c, {
            requestId: rid(),
            parent: loc.ino,
            name: token,
            newParent: nloc.ino,
            newName: sealed,
            ...(flags & RENAME_NOREPLACE ? { noReplace: true } : {}),
            ...(flags & RENAME_EXCHANGE ? { exchange: true } : {}),
          }),
        )
        .catch((err) => {
          this.dirs.invalidate(parent);
          this.dirs.invalidate(newParent);
          throw err;
        });
      if (flags & RENAME_EXCHANGE || source.length === 0) {
        this.dirs.invalidate(parent);
        this.dirs.invalidate(newParent);
      } else {
        this.dirs.remove(parent, name);
        this.dirs.add(newParent, newName, source[0] as number);
      }
      this.changedAtService(parent, res.dir);
      if (newParent !== parent) this.changedAtService(newParent, res.newDir);
      for (const s of source) this.remember(s, newParent, newName);
      if (res.replaced !== undefined) this.attrs.drop(res.replaced);
    });
  }

  setattr(_ctx: CallerContext, ino: number, changes: SetAttr): Promise<Attr> {
    return fsCall(async () => {
      const loc = this.writable(ino);
      if (changes.size !== undefined) {
        const a = await this.metaAttr(ino);
        if (a.type === "dir") throw fsError("EISDIR");
        if (a.type !== "file") throw fsError("EINVAL");
        await this.data.truncate(ino, changes.size);
      }
      const other =
        changes.mode !== undefined ||
        changes.uid !== undefined ||
        changes.gid !== undefined ||
        changes.atimeMs !== undefined ||
        changes.mtimeMs !== undefined;
      if (!other) return this.kattr(await this.metaAttr(ino), ino);
      const times = changes.atimeMs !== undefined || changes.mtimeMs !== undefined;
      const req = {
        ino: loc.ino,
        ...(changes.mode !== undefined ? { mode: changes.mode & 0o7777 } : {}),
        ...(changes.uid !== undefined ? { uid: changes.uid } : {}),
        ...(changes.gid !== undefined ? { gid: changes.gid } : {}),
        ...(changes.atimeMs === "now"
          ? { atimeNow: true }
          : changes.atimeMs !== undefined
            ? { atime: changes.atimeMs }
            : {}),
        ...(changes.mtimeMs === "now"
          ? { mtimeNow: true }
          : changes.mtimeMs !== undefined
            ? { mtime: changes.mtimeMs }
            : {}),
      };
      const requestId = rid();
      if (this.pending.pending(ino)) return this.kattr(this.setattrLocally(ino, requestId, req), ino);
      if (times) await this.writesFirst(ino);
      const res = await this.session.call((c) => this.api.setattr(c, { requestId, ...req }));
      this.learn(ino, res.attr);
      return this.kattr(res.attr, ino);
    });
  }

  /**
   * The service removed or moved names of `dir`, on its clock: its answer carries the
   * directory's new attributes (learnt, merged with creates still queued in it); without them
   * (the directory is gone meanwhile) the cached ones are dropped.
   */
  private changedAtService(dir: number, after: MetaAttr | undefined): void {
    if (after) this.learn(dir, after);
    else this.attrs.drop(dir);
  }

  /** Explicit times land after the file's pending writes, or a later commit would overwrite them. */
  protected async writesFirst(ino: number): Promise<void> {
    await this.pending.settleChildren(ino);
    if (this.data.writeBack.pendingSize(ino) !== undefined) await this.flusher.request();
  }

  setxattr(_ctx: CallerContext, ino: number, name: string, value: Buffer, flags: number): Promise<void> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO) throw fsError("EROFS");
      const loc = this.writable(ino);
      await this.pending.settle([ino]);
      await this.session.call((c) =>
        this.api.setxattr(c, {
          requestId: rid(),
          ino: loc.ino,
          name: this.names.sealXattr(name),
          value: this.names.sealXattrValue(value),
          ...(flags & XATTR_CREATE
            ? { mode: "create" as const }
            : flags & XATTR_REPLACE
              ? { mode: "replace" as const }
              : {}),
        }),
      );
      this.attrs.patch(ino, { hasXattrs: true });
    });
  }

  removexattr(_ctx: CallerContext, ino: number, name: string): Promise<void> {
    return fsCall(async () => {
      if (ino === SNAPSHOTS_INO) throw fsError("EROFS");
      const loc = this.writable(ino);
      await this.pending.settle([ino]);
      await this.session.call((c) =>
        this.api.removexattr(c, { requestId: rid(), ino: loc.ino, name: this.names.xattrToken(name) }),
      );
      // Others may remain: the next getattr tells.
      this.attrs.patch(ino, { hasXattrs: true });
    });
  }

  // ---- files ---------------------------------------------------------------------------------
}
