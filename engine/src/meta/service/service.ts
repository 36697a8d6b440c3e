/**
 * The in-process metadata service: `MetaApi` over a `Namespace` and a `Journal`.
 *
 * A mutation: verify the token and its rights → validate (zod) → answer from the dedupe
 * memory if this request id was seen → build a record with every choice made (ids, time) →
 * apply it in memory (errors answer here, nothing journaled) → append to the journal →
 * answer once durable. A retry of a request still in flight waits for the same append.
 * If an append fails the service stops accepting anything (fail-stop: memory is ahead of
 * the journal; only recovery can be trusted).
 *
 * Reads run against the live tree or a snapshot's tree; they may observe changes whose
 * append is still in flight (they become durable or the service stops).
 */
import { randomUUID } from "node:crypto";
import { TokenVerifier } from "../access/token.js";
import * as A from "../api.js";
import { MetaError } from "../errors.js";
import { attrOf } from "../namespace/attr.js";
import { Namespace } from "../namespace/machine.js";
import type { NsRecord } from "../namespace/records.js";
import { keyToken, type Tree } from "../namespace/types.js";
import * as V from "../namespace/views.js";
import type { Journal } from "../replication.js";
import { Caller } from "./context.js";
import { DEFAULT_SCHEDULE, runSchedule, type SchedulePolicy } from "./schedule.js";
import { parse, schemas } from "./schemas.js";

export interface MetaServiceOptions {
  journal: Journal<NsRecord>;
  /** Key that signs access tokens (≥ 32 bytes). */
  tokenKey: Buffer;
  /** Recovered state; a new empty filespace when omitted. */
  namespace?: Namespace;
  /** Service epoch (the durability layer bumps it on every start). */
  epoch?: number;
  clock?: () => number;
  /** Session and handle ids. */
  newId?: () => string;
  sessionTtlMs?: { default: number; min: number; max: number };
  /** Snapshot schedule; [] disables it. */
  schedule?: readonly SchedulePolicy[];
  /** Run the session sweeper and schedule on timers (off for tests that tick by hand). */
  timers?: boolean;
}

const b64 = (b: Buffer) => b.toString("base64");
const DEFAULT_TTL = { default: 30_000, min: 5_000, max: 600_000 };
const READDIR_MAX = 5_000;
type Need = "ro" | "rw" | "admin";

export class MetaService implements A.MetaApi {
  readonly ns: Namespace;
  readonly epoch: number;
  readonly #journal: Journal<NsRecord>;
  readonly #tokens: TokenVerifier;
  readonly #clock: () => number;
  readonly #newId: () => string;
  readonly #ttl: { default: number; min: number; max: number };
  readonly #schedule: readonly SchedulePolicy[];
  readonly #pending = new Map<string, Promise<unknown>>();
  /** Session leases live in memory only (heartbeats are not journaled); a restart grants a fresh lease. */
  readonly #leases = new Map<string, number>();
  readonly #timers: NodeJS.Timeout[] = [];
  #failed: Error | undefined;

  constructor(opts: MetaServiceOptions) {
    this.ns = opts.namespace ?? new Namespace();
    this.epoch = opts.epoch ?? 1;
    this.#journal = opts.journal;
    this.#clock = opts.clock ?? Date.now;
    this.#tokens = new TokenVerifier(opts.tokenKey, this.#clock);
    this.#newId = opts.newId ?? randomUUID;
    this.#ttl = opts.sessionTtlMs ?? DEFAULT_TTL;
    this.#schedule = opts.schedule ?? DEFAULT_SCHEDULE;
    const now = this.#clock();
    for (const [id, s] of this.ns.sessions) this.#leases.set(id, now + s.ttlMs);
    if (opts.timers) {
      this.#timers.push(setInterval(() => void this.sweepSessions().catch(() => {}), 1_000).unref());
      this.#timers.push(setInterval(() => void this.runSchedule().catch(() => {}), 60_000).unref());
    }
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#failed ??= new MetaError("UNAVAILABLE", "service closed");
  }

  // ---- plumbing ----------------------------------------------------------------------------

  #caller(ctx: A.CallContext, need: Need): Caller {
    if (this.#failed) throw new MetaError("UNAVAILABLE", "metadata service stopped", { cause: this.#failed });
    const claims = this.#tokens.verify(ctx?.token);
    if (need !== "ro" && claims.mode === "ro") throw new MetaError("EROFS", `token of ${claims.client} is read-only`);
    if (need === "admin" && claims.mode !== "admin")
      throw new MetaError("EACCES", `operation needs an admin token; ${claims.client} has ${claims.mode}`);
    return new Caller(claims, ctx.sessionId);
  }

  #tree(snapshot: string | undefined): Tree {
    return snapshot === undefined ? this.ns.live : this.ns.snapshot(snapshot).tree;
  }

  /** Apply, journal, answer when durable; dedupe by request id. */
  async #mutate<T>(caller: Caller, requestId: string | undefined, build: (t: number) => NsRecord): Promise<T> {
    const key = requestId === undefined ? undefined : caller.dedupeKey(requestId);
    if (key !== undefined) {
      const inFlight = this.#pending.get(key);
      if (inFlight) return (await inFlight) as T;
      const prior = this.ns.remembered(key);
      if (prior !== undefined) return prior as T;
    }
    const record = build(this.#clock());
    if (key !== undefined) record.dedupe = key;
    const result = this.ns.apply(record);
    const version = this.ns.version;
    const durable = this.#journal.append({ version, record }).then(
      () => result,
      (cause: unknown) => {
        this.#failed ??= cause instanceof Error ? cause : new Error(String(cause));
        throw new MetaError("UNAVAILABLE", "journal append failed; service stopped", { cause });
      },
    );
    if (key !== undefined) {
      this.#pending.set(key, durable);
      const done = () => this.#pending.delete(key);
      durable.then(done, done);
    }
    return (await durable) as T;
  }

  #session(caller: Caller): string {
    const id = caller.sessionId;
    const s = id === undefined ? undefined : this.ns.sessions.get(id);
    if (!id || !s || s.client !== caller.claims.client)
      throw new MetaError("STALE_SESSION", "no live session for this call");
    return id;
  }

  #entry(caller: Caller, res: { attr: A.Attr }): A.EntryResponse {
    return { attr: caller.attr(res.attr) };
  }

  // ---- negotiation, sessions ---------------------------------------------------------------

  async hello(ctx: A.CallContext, req: A.HelloRequest): Promise<A.HelloResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.hello, req, "hello");
    const common = r.protocolVersions.filter((v) => v >= A.MIN_PROTOCOL_VERSION && v <= A.PROTOCOL_VERSION);
    if (common.length === 0)
      throw new MetaError(
        "UNSUPPORTED_PROTOCOL",
        `client speaks ${r.protocolVersions.join(",")}, service ${A.MIN_PROTOCOL_VERSION}..${A.PROTOCOL_VERSION}`,
      );
    const { client, mode, subtreeRoot } = caller.claims;
    return {
      protocolVersion: Math.max(...common),
      epoch: this.epoch,
      version: this.ns.version,
      access: { client, mode, subtreeRoot },
    };
  }

  async version(ctx: A.CallContext): Promise<A.VersionResponse> {
    this.#caller(ctx, "ro");
    return { version: this.ns.version, epoch: this.epoch };
  }

  async openSession(ctx: A.CallContext, req: A.OpenSessionRequest): Promise<A.SessionResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.openSession, req, "openSession");
    const ttlMs = Math.min(this.#ttl.max, Math.max(this.#ttl.min, r.ttlMs ?? this.#ttl.default));
    const sessionId = this.#newId();
    const res = await this.#mutate<{ sessionId: string; ttlMs: number }>(
      new Caller(caller.claims, undefined),
      r.requestId,
      (t) => ({ op: "openSession", t, sessionId, client: caller.claims.client, ttlMs }),
    );
    if (!this.#leases.has(res.sessionId)) this.#leases.set(res.sessionId, this.#clock() + res.ttlMs);
    return { ...res, expiresAt: this.#leases.get(res.sessionId)! };
  }

  async heartbeat(ctx: A.CallContext): Promise<A.SessionResponse> {
    const caller = this.#caller(ctx, "ro");
    const id = this.#session(caller);
    const ttlMs = this.ns.sessions.get(id)!.ttlMs;
    const expiresAt = this.#clock() + ttlMs;
    this.#leases.set(id, expiresAt);
    return { sessionId: id, ttlMs, expiresAt };
  }

  async closeSession(ctx: A.CallContext, req: A.CloseSessionRequest): Promise<A.Empty> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.closeSession, req, "closeSession");
    const id = caller.sessionId;
    if (!id) throw new MetaError("EINVAL", "closeSession: ctx.sessionId is required");
    await this.#mutate(caller, r.requestId, (t) => ({ op: "closeSession", t, sessionId: id }));
    this.#leases.delete(id);
    return {};
  }

  /** Close sessions whose lease ran out (releasing their handles). The timer calls this; tests may too. */
  async sweepSessions(): Promise<string[]> {
    const now = this.#clock();
    const expired = [...this.#leases].filter(([id, at]) => at <= now && this.ns.sessions.has(id)).map(([id]) => id);
    for (const id of expired) {
      this.#leases.delete(id);
      if (this.#failed) break;
      const system = new Caller({ client: "service", mode: "admin", subtreeRoot: A.ROOT_INO }, undefined);
      await this.#mutate(system, undefined, (t) => ({ op: "closeSession", t, sessionId: id }));
    }
    return expired;
  }

  // ---- reads -------------------------------------------------------------------------------

  async lookup(ctx: A.CallContext, req: A.LookupRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.lookup, req, "lookup");
    const tree = this.#tree(r.snapshot);
    const [ino, node] = V.lookup(tree, caller.in(tree, r.parent), r.name);
    return { attr: caller.attr(attrOf(ino, node)) };
  }

  async getattr(ctx: A.CallContext, req: A.GetattrRequest): Promise<A.GetattrResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.getattr, req, "getattr");
    const tree = this.#tree(r.snapshot);
    const items = r.inos.map((ino) => {
      try {
        return { attr: caller.attr(V.attr(tree, caller.in(tree, ino))) };
      } catch (err) {
        if (err instanceof MetaError) return { error: err.code };
        throw err;
      }
    });
    return { items };
  }

  async readdirplus(ctx: A.CallContext, req: A.ReaddirplusRequest): Promise<A.ReaddirplusResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.readdirplus, req, "readdirplus");
    const tree = this.#tree(r.snapshot);
    const page = V.readdir(tree, caller.in(tree, r.ino), r.cookie, Math.min(r.limit ?? 1000, READDIR_MAX));
    const entries = page.entries.map(([key, ent, node]) => ({
      name: { token: keyToken(key), sealed: Buffer.from(ent.sealed, "latin1") },
      attr: attrOf(ent.ino, node),
    }));
    return page.cookie === undefined ? { entries } : { entries, cookie: page.cookie };
  }

  async readlink(ctx: A.CallContext, req: A.InoRequest): Promise<A.ReadlinkResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.ino, req, "readlink");
    const tree = this.#tree(r.snapshot);
    return { target: V.readlink(tree, caller.in(tree, r.ino)) };
  }

  async getExtents(ctx: A.CallContext, req: A.GetExtentsRequest): Promise<A.GetExtentsResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.getExtents, req, "getExtents");
    const tree = this.#tree(r.snapshot);
    return V.extents(tree, caller.in(tree, r.ino), r.offset, r.length);
  }

  async statfs(ctx: A.CallContext, req?: A.Read): Promise<A.StatfsResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.statfs, req, "statfs");
    const root = V.node(this.#tree(r.snapshot), caller.root);
    return {
      usedBytes: root.usageBytes ?? 0,
      totalBytes: root.quotaBytes ?? 2 ** 50,
      files: root.usageFiles ?? 0,
      totalFiles: root.quotaFiles ?? 2 ** 40,
      blockSize: 4096,
      nameMax: 255,
    };
  }

  async usage(ctx: A.CallContext, req: A.InoRequest): Promise<A.UsageResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.ino, req, "usage");
    const tree = this.#tree(r.snapshot);
    return V.usage(tree, caller.in(tree, r.ino));
  }

  async getxattr(ctx: A.CallContext, req: A.GetxattrRequest): Promise<A.GetxattrResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.getxattr, req, "getxattr");
    const tree = this.#tree(r.snapshot);
    return { value: V.getxattr(tree, caller.in(tree, r.ino), r.name) };
  }

  async listxattr(ctx: A.CallContext, req: A.InoRequest): Promise<A.ListxattrResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.ino, req, "listxattr");
    const tree = this.#tree(r.snapshot);
    return { names: V.listxattr(tree, caller.in(tree, r.ino)) };
  }

  async getQuota(ctx: A.CallContext, req: A.InoRequest): Promise<A.QuotaResponse> {
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.ino, req, "getQuota");
    const tree = this.#tree(r.snapshot);
    const n = V.dirNode(tree, caller.in(tree, r.ino));
    const q: A.QuotaResponse = { usedBytes: n.usageBytes ?? 0, usedFiles: n.usageFiles ?? 0 };
    if (n.quotaBytes !== undefined) q.maxBytes = n.quotaBytes;
    if (n.quotaFiles !== undefined) q.maxFiles = n.quotaFiles;
    return q;
  }

  async listSnapshots(ctx: A.CallContext): Promise<A.ListSnapshotsResponse> {
    this.#caller(ctx, "ro");
    return { snapshots: this.#snapshotInfos() };
  }

  #snapshotInfos(): A.SnapshotInfo[] {
    return [...this.ns.snapshots.values()]
      .map((s) => ({
        name: s.name,
        version: s.tree.version,
        createdAt: s.createdAt,
        ...(s.schedule ? { schedule: s.schedule } : {}),
      }))
      .sort((a, b) => a.version - b.version);
  }

  async chunkReferences(ctx: A.CallContext): Promise<A.ChunkReferencesResponse> {
    this.#caller(ctx, "admin");
    return { version: this.ns.version, chunks: this.ns.chunkReferences() };
  }

  // ---- namespace mutations -----------------------------------------------------------------

  async create(ctx: A.CallContext, req: A.CreateRequest): Promise<A.CreateResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.create, req, "create");
    const parent = caller.in(this.ns.live, r.parent);
    const sessionId = r.open ? this.#session(caller) : undefined;
    const handle = r.open ? this.#newId() : undefined;
    const ino = this.ns.nextIno;
    const res = await this.#mutate<A.CreateResponse>(caller, r.requestId, (t) => ({
      op: "create",
      t,
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

  #make(caller: Caller, requestId: string, parent: number, name: A.SealedName, fields: Partial<NsRecord> & object) {
    const real = caller.in(this.ns.live, parent);
    const ino = this.ns.nextIno;
    return this.#mutate<{ attr: A.Attr }>(
      caller,
      requestId,
      (t) =>
        ({
          op: "make",
          t,
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
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.mknod, req, "mknod");
    const fields = { type: r.type, mode: r.mode, uid: r.uid, gid: r.gid, rdev: r.rdev ?? 0 };
    return this.#entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, fields));
  }

  async mkdir(ctx: A.CallContext, req: A.MkdirRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.mkdir, req, "mkdir");
    const fields = { type: "dir" as const, mode: r.mode, uid: r.uid, gid: r.gid };
    return this.#entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, fields));
  }

  async symlink(ctx: A.CallContext, req: A.SymlinkRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.symlink, req, "symlink");
    const fields = { type: "symlink" as const, mode: 0o777, uid: r.uid, gid: r.gid, target: b64(r.target) };
    return this.#entry(caller, await this.#make(caller, r.requestId, r.parent, r.name, fields));
  }

  async link(ctx: A.CallContext, req: A.LinkRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.link, req, "link");
    const ino = caller.in(this.ns.live, r.ino);
    const newParent = caller.in(this.ns.live, r.newParent);
    const res = await this.#mutate<{ attr: A.Attr }>(caller, r.requestId, (t) => ({
      op: "link",
      t,
      ino,
      newParent,
      token: b64(r.newName.token),
      sealed: b64(r.newName.sealed),
    }));
    return this.#entry(caller, res);
  }

  async unlink(ctx: A.CallContext, req: A.UnlinkRequest): Promise<A.UnlinkResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.unlink, req, "unlink");
    const parent = caller.in(this.ns.live, r.parent);
    const res = await this.#mutate<A.UnlinkResponse>(caller, r.requestId, (t) => ({
      op: "unlink",
      t,
      parent,
      token: b64(r.name),
      dir: false,
    }));
    return { ...res, ino: caller.out(res.ino) };
  }

  async rmdir(ctx: A.CallContext, req: A.UnlinkRequest): Promise<A.Empty> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.unlink, req, "rmdir");
    const parent = caller.in(this.ns.live, r.parent);
    return this.#mutate(caller, r.requestId, (t) => ({ op: "unlink", t, parent, token: b64(r.name), dir: true }));
  }

  async rename(ctx: A.CallContext, req: A.RenameRequest): Promise<A.RenameResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.rename, req, "rename");
    const parent = caller.in(this.ns.live, r.parent);
    const newParent = caller.in(this.ns.live, r.newParent);
    return this.#mutate(caller, r.requestId, (t) => ({
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
  }

  async setattr(ctx: A.CallContext, req: A.SetattrRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.setattr, req, "setattr");
    const ino = caller.in(this.ns.live, r.ino);
    const res = await this.#mutate<{ attr: A.Attr }>(caller, r.requestId, (t) => {
      const rec: NsRecord = { op: "setattr", t, ino };
      if (r.mode !== undefined) rec.mode = r.mode;
      if (r.uid !== undefined) rec.uid = r.uid;
      if (r.gid !== undefined) rec.gid = r.gid;
      if (r.size !== undefined) rec.size = r.size;
      if (r.atime !== undefined || r.atimeNow) rec.atime = r.atimeNow ? t : r.atime!;
      if (r.mtime !== undefined || r.mtimeNow) rec.mtime = r.mtimeNow ? t : r.mtime!;
      return rec;
    });
    return this.#entry(caller, res);
  }

  async setxattr(ctx: A.CallContext, req: A.SetxattrRequest): Promise<A.Empty> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.setxattr, req, "setxattr");
    const ino = caller.in(this.ns.live, r.ino);
    return this.#mutate(caller, r.requestId, (t) => ({
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
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.removexattr, req, "removexattr");
    const ino = caller.in(this.ns.live, r.ino);
    return this.#mutate(caller, r.requestId, (t) => ({ op: "removexattr", t, ino, token: b64(r.name) }));
  }

  // ---- data path ---------------------------------------------------------------------------

  async open(ctx: A.CallContext, req: A.OpenRequest): Promise<A.OpenResponse> {
    const r = parse(schemas.open, req, "open");
    const caller = this.#caller(ctx, r.write || r.truncate ? "rw" : "ro");
    const sessionId = this.#session(caller);
    const ino = caller.in(this.ns.live, r.ino);
    const handle = this.#newId();
    const res = await this.#mutate<A.OpenResponse>(caller, r.requestId, (t) => ({
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
    const caller = this.#caller(ctx, "ro");
    const r = parse(schemas.release, req, "release");
    const sessionId = this.#session(caller);
    return this.#mutate(caller, r.requestId, (t) => ({ op: "release", t, sessionId, handle: r.handle }));
  }

  async commitWrite(ctx: A.CallContext, req: A.CommitWriteRequest): Promise<A.CommitWriteResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.commitWrite, req, "commitWrite");
    const sessionId = this.#session(caller);
    const ino = caller.in(this.ns.live, r.ino);
    const res = await this.#mutate<A.CommitWriteResponse>(caller, r.requestId, (t) => ({
      op: "commitWrite",
      t,
      ino,
      sessionId,
      extents: r.extents,
      newSize: r.newSize,
      mtime: r.mtime,
      ...(r.lockToken !== undefined ? { lockToken: r.lockToken } : {}),
    }));
    return { ...res, attr: caller.attr(res.attr) };
  }

  // ---- quotas, snapshots -------------------------------------------------------------------

  async setQuota(ctx: A.CallContext, req: A.SetQuotaRequest): Promise<A.QuotaResponse> {
    const caller = this.#caller(ctx, "admin");
    const r = parse(schemas.setQuota, req, "setQuota");
    const ino = caller.in(this.ns.live, r.ino);
    return this.#mutate(caller, r.requestId, (t) => {
      const rec: NsRecord = { op: "setQuota", t, ino };
      if (r.maxBytes !== undefined) rec.maxBytes = r.maxBytes;
      if (r.maxFiles !== undefined) rec.maxFiles = r.maxFiles;
      return rec;
    });
  }

  async createSnapshot(ctx: A.CallContext, req: A.CreateSnapshotRequest): Promise<A.SnapshotInfo> {
    const caller = this.#caller(ctx, "admin");
    const r = parse(schemas.createSnapshot, req, "createSnapshot");
    return this.#mutate(caller, r.requestId, (t) => ({ op: "createSnapshot", t, name: r.name }));
  }

  async deleteSnapshot(ctx: A.CallContext, req: A.DeleteSnapshotRequest): Promise<A.Empty> {
    const caller = this.#caller(ctx, "admin");
    const r = parse(schemas.deleteSnapshot, req, "deleteSnapshot");
    return this.#mutate(caller, r.requestId, (t) => ({ op: "deleteSnapshot", t, name: r.name }));
  }

  async restore(ctx: A.CallContext, req: A.RestoreRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
    const r = parse(schemas.restore, req, "restore");
    return this.#restore(caller, r.requestId, r.snapshot, r.ino, r.parent, r.name, r.replace ?? false);
  }

  async clone(ctx: A.CallContext, req: A.CloneRequest): Promise<A.EntryResponse> {
    const caller = this.#caller(ctx, "rw");
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
    const res = await this.#mutate<{ attr: A.Attr }>(caller, requestId, (t) => ({
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
    return this.#entry(caller, res);
  }

  /** Run the snapshot schedule once (the timer calls this every minute). */
  async runSchedule(): Promise<void> {
    if (this.#schedule.length === 0 || this.#failed) return;
    const system = new Caller({ client: "service", mode: "admin", subtreeRoot: A.ROOT_INO }, undefined);
    await runSchedule(this.#schedule, this.#clock(), {
      list: () => this.#snapshotInfos(),
      create: (name, schedule) => this.#mutate(system, undefined, (t) => ({ op: "createSnapshot", t, name, schedule })),
      remove: (name) => this.#mutate(system, undefined, (t) => ({ op: "deleteSnapshot", t, name })),
    });
  }
}
