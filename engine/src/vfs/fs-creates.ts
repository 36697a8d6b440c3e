/**
 * Creates without round trips. mkdir/create/symlink/mknod of a name this mount knows to be absent
 * (a complete directory, or a lookup that just said ENOENT) are answered at once: the inode
 * number comes from a block the service reserved for this mount (fs-inode-pool.ts), the
 * attributes are made here and pinned, and the service call goes to the namespace queue
 * (fs-pending.ts), which sends it with that number (`ino`), exclusive, retried with the same
 * request id while the service is unreachable.
 *
 * When the service refuses a queued create, no data is dropped silently:
 * - EEXIST (another client took the name meanwhile): the inode is made under
 *   `name.conflict-<host>-<n>` in the same directory, logged and counted;
 * - ENOENT (the directory was removed elsewhere): the same, in the root directory;
 * - anything else (quota, permission, a refused number): the inode never exists; it is logged and
 *   counted, and every later use of it (write-back commit, fsync, open) fails with EIO.
 * Everything else (no reservation at hand, a name not known to be absent, a full queue) takes
 * the synchronous path: one round trip, as before.
 */
import { randomUUID } from "node:crypto";
import type { CreateRequest, Attr as MetaAttr, FileType as MetaFileType } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";
import { fsError } from "./errors.js";
import { metaTypeOfMode } from "./fs-attrs.js";
import { type FileHandle, FilespaceVfsBase, type FilespaceVfsOptions } from "./fs-base.js";
import { fsCall } from "./fs-errors.js";
import { InodePool } from "./fs-inode-pool.js";
import { SNAPSHOTS_DIR_NAME } from "./fs-inodes.js";
import { transient } from "./fs-pending.js";
import { type LoggedCreate, NamespaceLog } from "./fs-pending-log.js";
import { type CallerContext, type Entry, type OpenResult, ROOT_INO } from "./types.js";

const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_EXCL = 0o200;
const rid = () => randomUUID();

/** What a create sends, minus parent and name (filled per attempt: a conflict changes them). */
type Made =
  | { kind: "file"; req: Omit<CreateRequest, "requestId" | "parent" | "name"> }
  | { kind: "dir"; mode: number; uid: number; gid: number }
  | { kind: "symlink"; target: Buffer; uid: number; gid: number }
  | {
      kind: "node";
      type: Exclude<MetaFileType, "dir" | "symlink">;
      rdev: number;
      mode: number;
      uid: number;
      gid: number;
    };

/** The request fields of a `Made` (without its tag). */
function fields<T extends { kind: string }>(made: T): Omit<T, "kind"> {
  const { kind: _kind, ...rest } = made;
  return rest;
}

export interface NamespaceStats {
  queued: number;
  inFlight: number;
  landed: number;
  retries: number;
  failed: number;
  conflicts: number;
  localCreates: number;
  reservedLeft: number;
}

export abstract class FilespaceVfsCreates extends FilespaceVfsBase {
  protected readonly pool: InodePool | undefined;
  protected readonly nsLog: NamespaceLog | undefined;
  private readonly host: string;
  private conflicts = 0;
  private localCreates = 0;

  constructor(o: FilespaceVfsOptions) {
    super(o);
    this.host = (o.hostName ?? "client").replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 64);
    const api = this.api;
    if ((o.localCreates ?? true) && !this.readOnlyMount && typeof api.reserveInodes === "function") {
      this.pool = new InodePool(
        (count, requestId) => this.session.call((c) => api.reserveInodes(c, { requestId, count })),
        { block: 2000, lowWater: 1000 },
        (l) => this.log(l),
      );
      this.firstReservation = this.pool.refill().catch(() => undefined);
    }
    if (o.namespaceLogDir && !this.readOnlyMount) {
      const { log, unlanded } = NamespaceLog.open(
        o.namespaceLogDir,
        (b) => this.names.sealXattrValue(b),
        (b) => this.names.openXattrValue(b),
        (l) => this.log(l),
      );
      this.nsLog = log;
      if (unlanded.length > 0)
        this.log(`namespace journal: sending ${unlanded.length} creates queued before a restart`);
      for (const c of unlanded) this.replay(c);
      if (unlanded.length === 0) log.reset();
    }
  }

  /** A create queued by an earlier run of this mount that never landed: queue it again. */
  private replay(c: LoggedCreate): void {
    const made = c.made as Made;
    if (made.kind === "file") made.req = { ...made.req, open: false };
    const owner = made.kind === "file" ? made.req : made;
    this.createLocally({ uid: owner.uid, gid: owner.gid, pid: 0 }, c.parent, c.name, c.vino, made);
  }

  private firstReservation: Promise<void> = Promise.resolve();
  /** The root's attributes (its name scope): the first lookup of a fresh mount then costs one round trip, not two. */
  private readonly rootAttr = this.metaAttr(ROOT_INO).then(
    () => undefined,
    () => undefined,
  );

  /** Settles when the first block of inode numbers and the root's attributes are here (or failed). */
  async ready(): Promise<void> {
    await Promise.all([this.firstReservation, this.rootAttr]);
  }

  /** Waits until the queued create of `vino` reached the service (the data path's extents). */
  settle(vino: number): Promise<void> {
    return this.pending.settleCreate(vino);
  }

  /** For the write-back's commits: waits, or fails fast with UNAVAILABLE while the service is unreachable. */
  settleForCommit(vino: number): Promise<void> {
    return this.pending.settleUnlessUnreachable(vino);
  }

  /** Stops sending queued changes (forced unmount); the journal keeps them for the next mount. */
  stopNamespace(): void {
    this.pending.stop();
  }

  /** Waits until every queued namespace change reached the service (unmount). */
  drainNamespace(): Promise<void> {
    return this.pending.drain();
  }

  namespaceStats(): NamespaceStats {
    return {
      ...this.pending.stats(),
      conflicts: this.conflicts,
      localCreates: this.localCreates,
      reservedLeft: this.pool?.available() ?? 0,
    };
  }

  protected guardRootName(parent: number, name: string): void {
    if (parent === ROOT_INO && name === SNAPSHOTS_DIR_NAME && !this.baseSnapshot)
      throw fsError("EEXIST", `${SNAPSHOTS_DIR_NAME} is reserved for snapshots`);
    if (Buffer.byteLength(name) > 255) throw fsError("ENAMETOOLONG", name.slice(0, 32));
  }

  /** Local bookkeeping after a name was bound (here or at the service). */
  protected made(parent: number, name: string, attr: MetaAttr, vino = attr.ino): Entry {
    this.touchDir(parent);
    this.dirs.add(parent, name, vino);
    this.remember(vino, parent, name);
    return this.entry(attr, vino);
  }

  /** The directory changed here: its mtime moves on (kept local; the service has its own). */
  protected touchDir(dir: number): void {
    const now = Date.now();
    this.attrs.patch(dir, { mtime: now, ctime: now });
  }

  /** A reserved number when `name` can be created without asking the service first. */
  private localIno(parent: number, name: string): number | undefined {
    if (!this.pool || this.inodes.isVirtual(parent) || this.pending.full()) return undefined;
    if (this.pending.failure(parent) || !this.knownAbsent(parent, name)) return undefined;
    return this.pool.take();
  }

  /** Makes the inode here and queues the service call; returns its entry. */
  private createLocally(
    ctx: CallerContext,
    parent: number,
    name: string,
    vino: number,
    made: Made,
    onLanded?: (attr: MetaAttr, handle?: string) => void,
  ): Entry {
    const now = Date.now();
    const type: MetaFileType = made.kind === "file" ? "file" : made.kind === "node" ? made.type : made.kind;
    const attr: MetaAttr = {
      ino: vino,
      type,
      mode: "mode" in made ? made.mode : made.kind === "file" ? made.req.mode : 0o777,
      uid: ctx.uid,
      gid: ctx.gid,
      size: made.kind === "symlink" ? made.target.length : 0,
      atime: now,
      mtime: now,
      ctime: now,
      nlink: made.kind === "dir" ? 2 : 1,
      generation: 0,
      rdev: made.kind === "node" ? made.rdev : 0,
      ...(made.kind === "dir" ? { nameScope: vino } : {}),
      hasXattrs: false,
    };
    this.attrs.pin(vino, attr);
    if (made.kind === "dir") this.dirs.made(vino);
    this.localCreates++;
    this.nsLog?.created({ vino, parent, name, made });
    this.pending.add({
      vino,
      parent,
      after: [parent],
      creates: true,
      what: `${type} ${JSON.stringify(name)} (inode ${vino})`,
      run: async () => {
        let res: { attr: MetaAttr; handle?: string };
        try {
          res = await this.land(parent, name, vino, made);
        } catch (err) {
          // Refused by the service for good (logged and counted by the queue): not again after a restart.
          if (err instanceof MetaError && !transient(err)) this.logLanded(vino);
          throw err;
        }
        this.logLanded(vino);
        // Changes queued behind it (tar's chmod/utimes) are newer than the service's answer.
        if (this.pending.queuedFor(vino) <= 1) this.attrs.put(vino, res.attr);
        if (made.kind === "dir") this.dirs.landed(vino);
        onLanded?.(res.attr, res.handle);
      },
    });
    this.touchDir(parent);
    this.dirs.add(parent, name, vino);
    this.remember(vino, parent, name);
    return { attr: this.kattr(attr, vino), entryTimeout: this.ttl, attrTimeout: this.ttl, generation: 0 };
  }

  private logLanded(vino: number): void {
    if (!this.nsLog) return;
    if (this.pending.size() <= 1) this.nsLog.reset();
    else this.nsLog.landed(vino);
  }

  /** Already made under this name (a replay after a crash lost the "landed" line)? */
  private async alreadyThere(parent: number, name: string, vino: number) {
    const token = this.names.token(await this.scopeOf(parent), name);
    const found = await this.session.call((c) => this.api.lookup(c, { parent, name: token })).catch(() => undefined);
    return found?.attr.ino === vino ? found : undefined;
  }

  /** Sends a queued create; on EEXIST/ENOENT retries under a conflict name (see the top). */
  private async land(parent: number, name: string, vino: number, made: Made) {
    let at = parent;
    let as = name;
    let requestId = rid();
    for (let n = 1; ; n++) {
      try {
        const res = await this.send(at, as, vino, made, requestId);
        if (res.attr.ino !== vino) throw new MetaError("EINVAL", `service made inode ${res.attr.ino}, not ${vino}`);
        return res;
      } catch (err) {
        const code = err instanceof MetaError ? err.code : undefined;
        if (code === "EEXIST" || code === "EINVAL") {
          const there = await this.alreadyThere(at, as, vino);
          if (there) return there;
        }
        if ((code !== "EEXIST" && code !== "ENOENT") || n > 5) throw err;
        const parentGone = code === "ENOENT" && at !== ROOT_INO;
        if (code === "ENOENT" && !parentGone) throw err;
        const from = `${at}/${as}`;
        this.dirs.remove(at, as);
        if (parentGone) at = ROOT_INO;
        as = `${name}.conflict-${this.host}-${this.conflicts + 1}`;
        this.conflicts++;
        requestId = rid();
        this.dirs.invalidate(at);
        this.log(
          `conflict: queued ${made.kind} ${JSON.stringify(from)} (inode ${vino}) was refused (${code}); ` +
            `creating it as ${JSON.stringify(as)} in directory ${at} instead`,
        );
      }
    }
  }

  private async send(parent: number, name: string, ino: number, made: Made, requestId: string) {
    const sealed = this.names.seal(await this.scopeOf(parent), name);
    const base = { requestId, parent, name: sealed, ino };
    switch (made.kind) {
      case "file":
        return this.session.call((c) => this.api.create(c, { ...base, ...made.req, exclusive: true }));
      case "dir":
        return this.session.call((c) =>
          this.api.mkdir(c, { ...base, mode: made.mode, uid: made.uid, gid: made.gid }),
        ) as Promise<{ attr: MetaAttr; handle?: string }>;
      case "symlink":
        return this.session.call((c) =>
          this.api.symlink(c, { ...base, target: made.target, uid: made.uid, gid: made.gid }),
        ) as Promise<{ attr: MetaAttr; handle?: string }>;
      case "node":
        return this.session.call((c) =>
          this.api.mknod(c, {
            ...base,
            type: made.type,
            rdev: made.rdev,
            mode: made.mode,
            uid: made.uid,
            gid: made.gid,
          }),
        ) as Promise<{ attr: MetaAttr; handle?: string }>;
    }
  }

  // ---- the four creating operations ------------------------------------------------------------

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
      const entry = this.made(parent, name, res.attr);
      return { entry, open: { fh: this.newFh(handle(vino, res.handle)) } };
    });
  }
}
