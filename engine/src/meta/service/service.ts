/**
 * `MetaService`: the in-process metadata service (MetaApi over a Namespace and a Journal).
 * This file holds the mutations; reads are in reads.ts, plumbing in core.ts.
 */
import * as A from "../api.js";
import { MetaError } from "../errors.js";
import type { NsRecord } from "../namespace/records.js";
import * as V from "../namespace/views.js";
import type { Caller } from "./context.js";
import { ServiceReads } from "./reads.js";
import { parse, schemas } from "./schemas.js";

export type { MetaServiceOptions } from "./core.js";

const b64 = (b: Buffer) => b.toString("base64");

/** How far ahead of the service's clock a client's creation time may be (clocks disagree a little). */
const CLIENT_AHEAD_MS = 5_000;
/** How old a client's creation time may be: a create queued through a long outage, not a backdated one. */
const CLIENT_BEHIND_MS = 7 * 24 * 3600_000;

/** The time a new inode gets: the client's (see `ChosenIno.time`) when plausible, else the service's. */
function madeAt(clientTime: number | undefined, now: number): number {
  if (clientTime === undefined || clientTime > now + CLIENT_AHEAD_MS || clientTime < now - CLIENT_BEHIND_MS) return now;
  return clientTime;
}

export class MetaService extends ServiceReads implements A.MetaApi {
  // ---- namespace mutations -----------------------------------------------------------------

  async reserveInodes(ctx: A.CallContext, req: A.ReserveInodesRequest): Promise<A.ReserveInodesResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.reserveInodes, req, "reserveInodes");
    return this.mutate(caller, r.requestId, (t) => ({
      op: "reserveInodes",
      t,
      first: this.ns.nextIno,
      count: r.count,
    }));
  }

  /**
   * The number of a new inode: the allocator's next one, or the client's choice, which must be
   * one reserveInodes handed out (below the allocator). "In use" is refused by the namespace.
   */
  #newIno(chosen: number | undefined): number {
    if (chosen === undefined) return this.ns.nextIno;
    if (chosen >= this.ns.nextIno)
      throw new MetaError("EINVAL", `ino: ${chosen} was never handed out by reserveInodes`);
    return chosen;
  }

  async create(ctx: A.CallContext, req: A.CreateRequest): Promise<A.CreateResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.create, req, "create");
    const parent = caller.in(this.ns.live, r.parent);
    const sessionId = r.open ? this.session(caller) : undefined;
    const handle = r.open ? this.newId() : undefined;
    const ino = this.#newIno(r.ino);
    const res = await this.mutate<A.CreateResponse>(caller, r.requestId, (now) => ({
      op: "create",
      t: madeAt(r.time, now),
      parent,
      token: b64(r.name.token),
      sealed: b64(r.name.sealed),
      mode: r.mode,
      uid: r.uid,
      gid: r.gid,
      ino,
      exclusive: r.exclusive ?? false,
      ...(sessionId ? { sessionId, handle } : {}),
    }));
    return { ...res, attr: caller.attr(res.attr) };
  }

  #make(
    caller: Caller,
    requestId: string,
    parent: number,
    name: A.SealedName,
    chosen: { ino?: number; time?: number },
    fields: Partial<NsRecord> & object,
  ) {
    const real = caller.in(this.ns.live, parent);
    const ino = this.#newIno(chosen.ino);
    return this.mutate<{ attr: A.Attr }>(
      caller,
      requestId,
      (now) =>
        ({
          op: "make",
          t: madeAt(chosen.time, now),
          parent: real,
          token: b64(name.token),
          sealed: b64(name.sealed),
          ino,
          mode: 0o777,
          uid: 0,
          gid: 0,
          rdev: 0,
          type: "file",
          ...fields,
        }) as NsRecord,
    );
  }

  async mknod(ctx: A.CallContext, req: A.MknodRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.mknod, req, "mknod");
    const fields = { type: r.type, mode: r.mode, uid: r.uid, gid: r.gid, rdev: r.rdev ?? 0 };
    return this.entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, r, fields));
  }

  async mkdir(ctx: A.CallContext, req: A.MkdirRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.mkdir, req, "mkdir");
    const fields = { type: "dir" as const, mode: r.mode, uid: r.uid, gid: r.gid };
    return this.entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, r, fields));
  }

  async symlink(ctx: A.CallContext, req: A.SymlinkRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.symlink, req, "symlink");
    const fields = { type: "symlink" as const, mode: 0o777, uid: r.uid, gid: r.gid, target: b64(r.target) };
    return this.entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, r, fields));
  }

  async link(ctx: A.CallContext, req: A.LinkRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.link, req, "link");
    const ino = caller.in(this.ns.live, r.ino);
    const newParent = caller.in(this.ns.live, r.newParent);
    const res = await this.mutate<{ attr: A.Attr }>(caller, r.requestId, (t) => ({
      op: "link",
      t,
      ino,
      newParent,
      token: b64(r.newName.token),
      sealed: b64(r.newName.sealed),
    }));
    return this.entry(caller, res);
  }

  async unlink(ctx: A.CallContext, req: A.UnlinkRequest): Promise<A.UnlinkResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.unlink, req, "unlink");
    const parent = caller.in(this.ns.live, r.parent);
    const res = await this.mutate<A.UnlinkResponse>(caller, r.requestId, (t) => ({
      op: "unlink",
      t,
      parent,
      token: b64(r.name),
      dir: false,
    }));
    return { ...res, ino: caller.out(res.ino), ...this.#dirAttr(caller, parent, "dir") };
  }

  async rmdir(ctx: A.CallContext, req: A.UnlinkRequest): Promise<A.RmdirResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.unlink, req, "rmdir");
    const parent = caller.in(this.ns.live, r.parent);
    await this.mutate(caller, r.requestId, (t) => ({ op: "unlink", t, parent, token: b64(r.name), dir: true }));
    return this.#dirAttr(caller, parent, "dir");
  }

  async rename(ctx: A.CallContext, req: A.RenameRequest): Promise<A.RenameResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.rename, req, "rename");
    const parent = caller.in(this.ns.live, r.parent);
    const newParent = caller.in(this.ns.live, r.newParent);
    const res = await this.mutate<A.RenameResponse>(caller, r.requestId, (t) => ({
      op: "rename",
      t,
      parent,
      token: b64(r.name),
      newParent,
      newToken: b64(r.newName.token),
      newSealed: b64(r.newName.sealed),
      noReplace: r.noReplace ?? false,
      exchange: r.exchange ?? false,
    }));
    const moved = newParent === parent ? {} : this.#dirAttr(caller, newParent, "newDir");
    return { ...res, ...this.#dirAttr(caller, parent, "dir"), ...moved };
  }

  /**
   * A changed directory's attributes as of now (newer changes by others included), so the
   * client need not ask; nothing when it is gone meanwhile.
   */
  #dirAttr<K extends string>(caller: Caller, dir: number, key: K): Partial<Record<K, A.Attr>> {
    try {
      return { [key]: caller.attr(V.attr(this.ns.live, dir)) } as Record<K, A.Attr>;
    } catch (err) {
      if (err instanceof MetaError) return {};
      throw err;
    }
  }

  async setattr(ctx: A.CallContext, req: A.SetattrRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.setattr, req, "setattr");
    const ino = caller.in(this.ns.live, r.ino);
    const res = await this.mutate<{ attr: A.Attr }>(caller, r.requestId, (t) => {
      const rec: NsRecord = { op: "setattr", t, ino };
      if (r.mode !== undefined) rec.mode = r.mode;
      if (r.uid !== undefined) rec.uid = r.uid;
      if (r.gid !== undefined) rec.gid = r.gid;
      if (r.size !== undefined) rec.size = r.size;
      if (r.atime !== undefined || r.atimeNow) rec.atime = r.atimeNow ? t : r.atime!;
      if (r.mtime !== undefined || r.mtimeNow) rec.mtime = r.mtimeNow ? t : r.mtime!;
      return rec;
    });
    return this.entry(caller, res);
  }

  async setxattr(ctx: A.CallContext, req: A.SetxattrRequest): Promise<A.Empty> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.setxattr, req, "setxattr");
    const ino = caller.in(this.ns.live, r.ino);
    return this.mutate(caller, r.requestId, (t) => ({
      op: "setxattr",
      t,
      ino,
      token: b64(r.name.token),
      sealed: b64(r.name.sealed),
      value: b64(r.value),
      ...(r.mode ? { mode: r.mode } : {}),
    }));
  }

  async removexattr(ctx: A.CallContext, req: A.RemovexattrRequest): Promise<A.Empty> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.removexattr, req, "removexattr");
    const ino = caller.in(this.ns.live, r.ino);
    return this.mutate(caller, r.requestId, (t) => ({ op: "removexattr", t, ino, token: b64(r.name) }));
  }

  // ---- data path ---------------------------------------------------------------------------

  async open(ctx: A.CallContext, req: A.OpenRequest): Promise<A.OpenResponse> {
    const r = parse(schemas.open, req, "open");
    const caller = this.caller(ctx, r.write || r.truncate ? "rw" : "ro");
    const sessionId = this.session(caller);
    const ino = caller.in(this.ns.live, r.ino);
    const handle = this.newId();
    const res = await this.mutate<A.OpenResponse>(caller, r.requestId, (t) => ({
      op: "open",
      t,
      ino,
      sessionId,
      handle,
      truncate: r.truncate ?? false,
    }));
    return { ...res, attr: caller.attr(res.attr) };
  }

  async release(ctx: A.CallContext, req: A.ReleaseRequest): Promise<A.Empty> {
    const caller = this.caller(ctx, "ro");
    const r = parse(schemas.release, req, "release");
    const sessionId = this.session(caller);
    return this.mutate(caller, r.requestId, (t) => ({ op: "release", t, sessionId, handle: r.handle }));
  }

  async commitWrite(ctx: A.CallContext, req: A.CommitWriteRequest): Promise<A.CommitWriteResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.commitWrite, req, "commitWrite");
    const sessionId = this.session(caller);
    const ino = caller.in(this.ns.live, r.ino);
    const res = await this.mutate<A.CommitWriteResponse>(caller, r.requestId, (t) => ({
      op: "commitWrite",
      t,
      ino,
      sessionId,
      extents: r.extents,
      newSize: r.newSize,
      mtime: r.mtime,
      ...(r.lockToken !== undefined ? { lockToken: r.lockToken } : {}),
      ...(r.ifContent !== undefined ? { ifContent: r.ifContent } : {}),
    }));
    return { ...res, attr: caller.attr(res.attr) };
  }

  // ---- quotas, snapshots -------------------------------------------------------------------

  async setQuota(ctx: A.CallContext, req: A.SetQuotaRequest): Promise<A.QuotaResponse> {
    const caller = this.caller(ctx, "admin");
    const r = parse(schemas.setQuota, req, "setQuota");
    const ino = caller.in(this.ns.live, r.ino);
    return this.mutate(caller, r.requestId, (t) => {
      const rec: NsRecord = { op: "setQuota", t, ino };
      if (r.maxBytes !== undefined) rec.maxBytes = r.maxBytes;
      if (r.maxFiles !== undefined) rec.maxFiles = r.maxFiles;
      return rec;
    });
  }

  async createSnapshot(ctx: A.CallContext, req: A.CreateSnapshotRequest): Promise<A.SnapshotInfo> {
    const caller = this.caller(ctx, "admin");
    const r = parse(schemas.createSnapshot, req, "createSnapshot");
    return this.mutate(caller, r.requestId, (t) => ({ op: "createSnapshot", t, name: r.name }));
  }

  async deleteSnapshot(ctx: A.CallContext, req: A.DeleteSnapshotRequest): Promise<A.Empty> {
    const caller = this.caller(ctx, "admin");
    const r = parse(schemas.deleteSnapshot, req, "deleteSnapshot");
    return this.mutate(caller, r.requestId, (t) => ({ op: "deleteSnapshot", t, name: r.name }));
  }

  async restore(ctx: A.CallContext, req: A.RestoreRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.restore, req, "restore");
    return this.#restore(caller, r.requestId, r.snapshot, r.ino, r.parent, r.name, r.replace ?? false);
  }

  async clone(ctx: A.CallContext, req: A.CloneRequest): Promise<A.EntryResponse> {
    const caller = this.caller(ctx, "rw");
    const r = parse(schemas.clone, req, "clone");
    return this.#restore(caller, r.requestId, r.snapshot, A.ROOT_INO, r.parent, r.name, false);
  }

  async #restore(
    caller: Caller,
    requestId: string,
    snapshot: string,
    srcIno: number,
    parentIno: number,
    name: A.SealedName,
    replace: boolean,
  ): Promise<A.EntryResponse> {
    const ino = caller.in(this.ns.snapshot(snapshot).tree, srcIno);
    const parent = caller.in(this.ns.live, parentIno);
    const firstIno = this.ns.nextIno;
    const res = await this.mutate<{ attr: A.Attr }>(caller, requestId, (t) => ({
      op: "restore",
      t,
      snapshot,
      ino,
      parent,
      token: b64(name.token),
      sealed: b64(name.sealed),
      replace,
      firstIno,
    }));
    return this.entry(caller, res);
  }
}
