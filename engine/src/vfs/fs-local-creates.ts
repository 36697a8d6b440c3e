/**
 * Creates without round trips. mkdir/create/symlink/mknod of a name this mount knows to be absent
 * (a complete directory, or a lookup that just said ENOENT) are answered at once: the inode
 * number comes from a block the service reserved for this mount (fs-inode-pool.ts), the
 * attributes are made here and pinned, and the service call goes to the namespace queue
 * (fs-pending.ts), which sends it with that number (`ino`), exclusive, retried with the same
 * request id while the service is unreachable (fs-create-landing.ts: conflicts on landing).
 * Queued creates are journaled (fs-pending-log.ts) and queued again by the next mount.
 *
 * A create the service refuses for good (quota, permission, a refused number) never exists; it
 * is logged and counted, and every later use of it (write-back commit, fsync, open) fails with
 * EIO. Everything else (no reservation at hand, a name not known to be absent, a full queue)
 * takes the synchronous path in fs-creates.ts: one round trip, as before.
 */
import type { Attr as MetaAttr, FileType as MetaFileType, SetattrRequest } from "../meta/api.js";
import { MetaError } from "../meta/errors.js";
import type { FilespaceVfsOptions } from "./fs-base.js";
import { CreateLander, type Landed, type Made, madeTime, stamped } from "./fs-create-landing.js";
import { InodePool } from "./fs-inode-pool.js";
import { FilespaceVfsListing } from "./fs-listing.js";
import { transient } from "./fs-pending.js";
import { type LoggedCreate, type LoggedSetattr, NamespaceLog } from "./fs-pending-log.js";
import { type CallerContext, type Entry, ROOT_INO } from "./types.js";

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

export abstract class FilespaceVfsLocalCreates extends FilespaceVfsListing {
  protected readonly pool: InodePool | undefined;
  protected readonly nsLog: NamespaceLog | undefined;
  private readonly lander: CreateLander;
  private localCreates = 0;
  private firstReservation: Promise<void> = Promise.resolve();
  /** The root's attributes (its name scope): the first lookup of a fresh mount then costs one round trip, not two. */
  private readonly rootAttr = this.metaAttr(ROOT_INO).then(
    () => undefined,
    () => undefined,
  );

  constructor(o: FilespaceVfsOptions) {
    super(o);
    this.lander = new CreateLander({
      session: this.session,
      names: this.names,
      dirs: this.dirs,
      scopeOf: (vino) => this.scopeOf(vino),
      hostName: o.hostName ?? "client",
      log: (l) => this.log(l),
    });
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
      const { creates, setattrs } = unlanded;
      if (creates.length + setattrs.length > 0)
        this.log(
          `namespace journal: sending ${creates.length} creates and ${setattrs.length} attribute changes queued before a restart`,
        );
      for (const c of creates) this.replay(c);
      for (const a of setattrs) this.queueSetattr(a);
      if (creates.length + setattrs.length === 0) log.reset();
    }
  }

  /**
   * What a queued change of `vino`'s times waits for: the file's pending writes committed and the
   * queued creates in it landed (each would move its mtime on landing).
   */
  protected abstract writesFirst(vino: number): Promise<void>;

  /**
   * A setattr right behind a queued create (tar's chmod/utimes): applied here, journaled with its
   * times resolved (a replay after a restart must not move them to "then"), and queued.
   */
  protected setattrLocally(vino: number, requestId: string, req: Omit<SetattrRequest, "requestId" | "size">): MetaAttr {
    const now = Date.now();
    const { atimeNow, mtimeNow, ...rest } = req;
    const resolved: LoggedSetattr["req"] = {
      ...rest,
      ...(atimeNow ? { atime: now } : {}),
      ...(mtimeNow ? { mtime: now } : {}),
    };
    const { ino: _, ...changed } = resolved;
    this.attrs.patch(vino, { ...changed, ctime: now });
    const queued: LoggedSetattr = { vino, requestId, req: resolved };
    this.nsLog?.setattr(queued);
    this.queueSetattr(queued);
    return { ...(this.attrs.any(vino) as MetaAttr), ...changed, ctime: now };
  }

  private queueSetattr(a: LoggedSetattr): void {
    const times = a.req.atime !== undefined || a.req.mtime !== undefined;
    this.pending.add({
      vino: a.vino,
      after: [],
      what: `setattr of inode ${a.vino}`,
      before: times ? () => this.writesFirst(a.vino).catch(() => undefined) : undefined,
      run: async () => {
        let res: Awaited<ReturnType<typeof this.api.setattr>>;
        try {
          res = await this.session.call((c) => this.api.setattr(c, { requestId: a.requestId, ...a.req }));
        } catch (err) {
          if (err instanceof MetaError && !transient(err)) this.logSetattrLanded(a.requestId);
          throw err;
        }
        this.logSetattrLanded(a.requestId);
        if (this.pending.queuedFor(a.vino) <= 1) this.attrs.put(a.vino, res.attr);
      },
    });
  }

  /** A create queued by an earlier run of this mount that never landed: queue it again. */
  private replay(c: LoggedCreate): void {
    const made = c.made as Made;
    if (made.kind === "file") made.req = { ...made.req, open: false };
    const owner = made.kind === "file" ? made.req : made;
    this.createLocally({ uid: owner.uid, gid: owner.gid, pid: 0 }, c.parent, c.name, c.vino, made);
  }

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
      conflicts: this.lander.conflicts,
      localCreates: this.localCreates,
      reservedLeft: this.pool?.available() ?? 0,
    };
  }

  /**
   * A name was made in `dir` at `t` — by this mount (the create carries `t` to the service) or by
   * the service for a create it answered (`t` is its time): the directory's times, size (its
   * entry count) and link count move as they do at the service, so a later refresh shows nothing
   * new (tar compares a directory's ctime and size before and after reading it).
   */
  protected grewDir(dir: number, t: number, subdir: boolean): void {
    const a = this.attrs.any(dir);
    if (!a) return;
    this.attrs.patch(dir, {
      mtime: Math.max(a.mtime, t),
      ctime: Math.max(a.ctime, t),
      size: a.size + 1,
      nlink: a.nlink + (subdir ? 1 : 0),
    });
  }

  /**
   * A create queued here landed in `dir`: the service stamped the directory's mtime and ctime
   * with the create's time `t` (the child's ctime) — the time this mount sent, unless the service
   * found it implausible and took its own. Show a later one now, not at the next refresh:
   * otherwise a directory nobody touched since would change its times later, under whoever
   * stats it twice — tar reports "file changed as we read it" and exits 1. Not while a change of
   * the directory itself is queued (its own landing brings its times).
   */
  private landedIn(dir: number, t: number): void {
    const cached = this.attrs.any(dir);
    if (!cached || this.pending.queuedFor(dir) > 0 || t <= cached.ctime) return;
    this.attrs.patch(dir, { mtime: t, ctime: t });
  }

  /** A reserved number when `name` can be created without asking the service first. */
  protected localIno(parent: number, name: string): number | undefined {
    if (!this.pool || this.inodes.isVirtual(parent) || this.pending.full()) return undefined;
    if (this.pending.failure(parent) || !this.knownAbsent(parent, name)) return undefined;
    return this.pool.take();
  }

  /** Makes the inode here and queues the service call; returns its entry. */
  protected createLocally(
    ctx: CallerContext,
    parent: number,
    name: string,
    vino: number,
    unstamped: Made,
    onLanded?: (attr: MetaAttr, handle?: string) => void,
  ): Entry {
    // The service gets this time too (a replay after a restart keeps the one it was made with).
    const replayed = madeTime(unstamped);
    const now = replayed ?? Date.now();
    const made = stamped(unstamped, now);
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
        let res: Landed;
        try {
          res = await this.lander.land(parent, name, vino, made);
        } catch (err) {
          // Refused by the service for good (logged and counted by the queue): not again after a restart.
          if (err instanceof MetaError && !transient(err)) this.logLanded(vino);
          throw err;
        }
        this.logLanded(vino);
        // Changes queued behind it (tar's chmod/utimes) are newer than the service's answer, and
        // so are a directory's times while creates in it are still queued.
        const shown = this.attrs.any(vino);
        if (this.pending.queuedFor(vino) <= 1)
          this.attrs.put(vino, shown ? this.withQueuedTimes(vino, res.attr, shown) : res.attr);
        this.landedIn(parent, res.attr.ctime);
        if (made.kind === "dir") this.dirs.landed(vino);
        onLanded?.(res.attr, res.handle);
      },
    });
    // A replay's directory shows its time when it lands (landedIn), not an old one now.
    if (replayed === undefined) this.grewDir(parent, now, made.kind === "dir");
    this.dirs.add(parent, name, vino);
    this.remember(vino, parent, name);
    return { attr: this.kattr(attr, vino), entryTimeout: this.ttl, attrTimeout: this.ttl, generation: 0 };
  }

  private logLanded(vino: number): void {
    if (!this.nsLog) return;
    if (this.pending.size() <= 1) this.nsLog.reset();
    else this.nsLog.landed(vino);
  }

  private logSetattrLanded(requestId: string): void {
    if (!this.nsLog) return;
    if (this.pending.size() <= 1) this.nsLog.reset();
    else this.nsLog.setattrLanded(requestId);
  }
}
