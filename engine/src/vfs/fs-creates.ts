/**
 * The four creating operations: mknod, mkdir, symlink and create. Each is answered here at once
 * when the name is known to be absent and a reserved inode number is at hand (queued to the
 * service: fs-local-creates.ts); otherwise it waits for the parent's queued changes and makes one
 * round trip.
 */
import { randomUUID as rid } from "node:crypto";
import type { Attr as MetaAttr } from "../meta/api.js";
import { fsError } from "./errors.js";
import { metaTypeOfMode } from "./fs-attrs.js";
import type { FileHandle } from "./fs-base.js";
import { fields, type Made } from "./fs-create-landing.js";
import { fsCall } from "./fs-errors.js";
import { SNAPSHOTS_DIR_NAME } from "./fs-inodes.js";
import { FilespaceVfsLocalCreates } from "./fs-local-creates.js";
import { type CallerContext, type Entry, type OpenResult, ROOT_INO } from "./types.js";

export type { NamespaceStats } from "./fs-local-creates.js";

const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_EXCL = 0o200;

export abstract class FilespaceVfsCreates extends FilespaceVfsLocalCreates {
  protected guardRootName(parent: number, name: string): void {
    if (parent === ROOT_INO && name === SNAPSHOTS_DIR_NAME && !this.baseSnapshot)
      throw fsError("EEXIST", `${SNAPSHOTS_DIR_NAME} is reserved for snapshots`);
    if (Buffer.byteLength(name) > 255) throw fsError("ENAMETOOLONG", name.slice(0, 32));
  }

  /** Local bookkeeping after the service bound a name (`created`: a new inode, not an existing file opened). */
  protected made(parent: number, name: string, attr: MetaAttr, vino = attr.ino, created = true): Entry {
    if (created) this.grewDir(parent, attr.ctime, attr.type === "dir");
    this.dirs.add(parent, name, vino);
    this.remember(vino, parent, name);
    return this.entry(attr, vino);
  }

  mknod(ctx: CallerContext, parent: number, name: string, mode: number, rdev: number): Promise<Entry> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      this.guardRootName(parent, name);
      const type = metaTypeOfMode(mode);
      if (type === "dir" || type === "symlink") throw fsError("EINVAL", "mknod of a directory or symlink");
      const made: Made = { kind: "node", type, rdev, mode: mode & 0o7777, uid: ctx.uid, gid: ctx.gid };
      const ino = this.localIno(parent, name);
      if (ino !== undefined) return this.createLocally(ctx, parent, name, ino, made);
      await this.pending.settle([parent]);
      const sealed = this.names.seal(await this.scopeOf(parent), name);
      const res = await this.session.call((c) =>
        this.api.mknod(c, { requestId: rid(), parent: loc.ino, name: sealed, ...fields(made) }),
      );
      return this.made(parent, name, res.attr);
    });
  }

  mkdir(ctx: CallerContext, parent: number, name: string, mode: number): Promise<Entry> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      this.guardRootName(parent, name);
      const made: Made = { kind: "dir", mode: mode & 0o7777, uid: ctx.uid, gid: ctx.gid };
      const ino = this.localIno(parent, name);
      if (ino !== undefined) return this.createLocally(ctx, parent, name, ino, made);
      await this.pending.settle([parent]);
      const sealed = this.names.seal(await this.scopeOf(parent), name);
      const res = await this.session.call((c) =>
        this.api.mkdir(c, { requestId: rid(), parent: loc.ino, name: sealed, ...fields(made) }),
      );
      const entry = this.made(parent, name, res.attr);
      this.dirs.made(res.attr.ino);
      this.dirs.landed(res.attr.ino);
      return entry;
    });
  }

  symlink(ctx: CallerContext, parent: number, name: string, target: string): Promise<Entry> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      this.guardRootName(parent, name);
      const made: Made = { kind: "symlink", target: this.names.sealSymlink(target), uid: ctx.uid, gid: ctx.gid };
      const ino = this.localIno(parent, name);
      if (ino !== undefined) {
        this.linkLength.set(ino, Buffer.byteLength(target));
        return this.createLocally(ctx, parent, name, ino, made);
      }
      await this.pending.settle([parent]);
      const sealed = this.names.seal(await this.scopeOf(parent), name);
      const res = await this.session.call((c) =>
        this.api.symlink(c, { requestId: rid(), parent: loc.ino, name: sealed, ...fields(made) }),
      );
      this.linkLength.set(res.attr.ino, Buffer.byteLength(target));
      return this.made(parent, name, res.attr);
    });
  }

  create(
    ctx: CallerContext,
    parent: number,
    name: string,
    mode: number,
    flags: number,
  ): Promise<{ entry: Entry; open: OpenResult }> {
    return fsCall(async () => {
      const loc = this.writable(parent);
      this.guardRootName(parent, name);
      const req = { mode: mode & 0o7777, uid: ctx.uid, gid: ctx.gid, open: true };
      const handle = (vino: number, service?: string): FileHandle => ({
        kind: "file",
        vino,
        loc: { ino: vino },
        ...(service ? { handle: service } : {}),
        write: true,
        append: (flags & O_APPEND) !== 0,
        wrote: true,
      });
      const ino = this.localIno(parent, name);
      if (ino !== undefined) {
        const h = handle(ino);
        const entry = this.createLocally(ctx, parent, name, ino, { kind: "file", req }, (_a, service) => {
          if (service) h.handle = service;
        });
        return { entry, open: { fh: this.newFh(h) } };
      }
      await this.pending.settle([parent]);
      const sealed = this.names.seal(await this.scopeOf(parent), name);
      const res = await this.session.call((c) =>
        this.api.create(c, {
          requestId: rid(),
          parent: loc.ino,
          name: sealed,
          ...req,
          exclusive: (flags & O_EXCL) !== 0,
        }),
      );
      const vino = res.attr.ino;
      if (!res.created && flags & O_TRUNC) await this.data.truncate(vino, 0);
      if (!res.created) this.extents.invalidate(vino);
      const entry = this.made(parent, name, res.attr, res.attr.ino, res.created);
      return { entry, open: { fh: this.newFh(handle(vino, res.handle)) } };
    });
  }
}
