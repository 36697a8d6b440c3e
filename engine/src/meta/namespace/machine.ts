/**
 * The namespace state machine: the live tree, snapshots (names bound to a tree at a version —
 * O(1), the persistent map shares everything unchanged), sessions with their open handles,
 * and the remembered answers of recent requests (dedupe). `apply` is deterministic: the same
 * records in the same order always give the same state, which is what recovery relies on.
 */
import { Map as IMap } from "immutable";
import { ROOT_INO } from "../api.js";
import { MetaError } from "../errors.js";
import type { JournalRecord, StateMachine } from "../replication.js";
import { attrOf } from "./attr.js";
import { diffTrees } from "./diff.js";
import { ImageReader, ImageWriter, runSlices, runSlicesYielding } from "./image.js";
import * as ops from "./ops.js";
import type { NsRecord } from "./records.js";
import { restore } from "./restore.js";
import { Txn } from "./txn.js";
import type { Dirent, Inode, SessionRecord, SnapshotRecord, Tree } from "./types.js";

/** How many request answers are remembered for dedupe (oldest forgotten first). */
export const REMEMBERED_REQUESTS = 50_000;
const IMAGE_FORMAT = 3;

function rootInode(): Inode {
  return {
    type: "dir",
    mode: 0o755,
    uid: 0,
    gid: 0,
    size: 0,
    atime: 0,
    mtime: 0,
    ctime: 0,
    nlink: 2,
    generation: 1,
    rdev: 0,
    parent: 0,
    nameScope: ROOT_INO,
    entries: IMap<string, Dirent>(),
    usageBytes: 0,
    usageFiles: 0,
  };
}

interface ImageHeader {
  format: number;
  version: number;
  nextIno: number;
  sessions: Array<[string, { client: string; ttlMs: number; handles: Array<[string, number]> }]>;
  requests: Array<[string, unknown]>;
  /** Newest first, matching the order of the diffs that follow the live tree. */
  snapshots: Array<{ name: string; createdAt: number; schedule?: string; version: number }>;
}

export class Namespace implements StateMachine<NsRecord> {
  #tree: Tree = { version: 0, inodes: IMap<number, Inode>().set(ROOT_INO, rootInode()) };
  #nextIno = ROOT_INO + 1;
  readonly #sessions = new Map<string, SessionRecord>();
  readonly #openCounts = new Map<number, number>();
  readonly #snapshots = new Map<string, SnapshotRecord>();
  readonly #requests = new Map<string, unknown>();
  readonly #isOpen = (ino: number) => (this.#openCounts.get(ino) ?? 0) > 0;

  get version(): number {
    return this.#tree.version;
  }
  get live(): Tree {
    return this.#tree;
  }
  /** The next unused inode number (the service allocates from here). */
  get nextIno(): number {
    return this.#nextIno;
  }
  get sessions(): ReadonlyMap<string, SessionRecord> {
    return this.#sessions;
  }
  get snapshots(): ReadonlyMap<string, SnapshotRecord> {
    return this.#snapshots;
  }

  snapshot(name: string): SnapshotRecord {
    const s = this.#snapshots.get(name);
    if (!s) throw new MetaError("NO_SNAPSHOT", `no snapshot named ${JSON.stringify(name)}`);
    return s;
  }

  /** The answer a request with this dedupe key got, if it is still remembered. */
  remembered(key: string): unknown {
    return this.#requests.get(key);
  }

  isOpen(ino: number): boolean {
    return this.#isOpen(ino);
  }

  replay(entry: JournalRecord<NsRecord>): void {
    if (entry.version !== this.version + 1)
      throw new RangeError(`journal gap: at version ${this.version}, got record ${entry.version}`);
    this.apply(entry.record);
  }

  /** Apply one record as the next version; throws MetaError (and changes nothing) if it is refused. */
  apply(r: NsRecord): unknown {
    const version = this.version + 1;
    const txn = new Txn(this.#tree.inodes, r.t, version);
    const after: Array<() => void> = [];
    const result = this.#run(txn, r, after);
    const inodes = txn.finish(true);
    this.#tree = { version, inodes };
    for (const f of after) f();
    if ("ino" in r && typeof r.ino === "number" && r.op !== "restore")
      this.#nextIno = Math.max(this.#nextIno, r.ino + 1);
    if (r.dedupe !== undefined) {
      this.#requests.set(r.dedupe, result);
      if (this.#requests.size > REMEMBERED_REQUESTS) this.#requests.delete(this.#requests.keys().next().value!);
    }
    return result;
  }

  #session(id: string): SessionRecord {
    const s = this.#sessions.get(id);
    if (!s) throw new MetaError("STALE_SESSION", `session ${id} is unknown or expired`);
    return s;
  }

  /** Register a handle (mutation of session state is deferred until the tree change succeeded). */
  #addHandle(after: Array<() => void>, session: SessionRecord, handle: string, ino: number): void {
    after.push(() => {
      session.handles.set(handle, ino);
      this.#openCounts.set(ino, (this.#openCounts.get(ino) ?? 0) + 1);
    });
  }

  /** Drop a handle; the last handle of an unlinked inode frees it. */
  #dropHandle(txn: Txn, after: Array<() => void>, session: SessionRecord, handle: string): void {
    const ino = session.handles.get(handle);
    if (ino === undefined) throw new MetaError("EBADF", `no open handle ${handle} in this session`);
    const left = (this.#openCounts.get(ino) ?? 1) - 1;
    const node = txn.find(ino);
    if (left === 0 && node && node.nlink === 0) txn.remove(ino);
    after.push(() => {
      session.handles.delete(handle);
      if (left === 0) this.#openCounts.delete(ino);
      else this.#openCounts.set(ino, left);
    });
  }

  #run(txn: Txn, r: NsRecord, after: Array<() => void>): unknown {
    switch (r.op) {
      case "openSession":
        if (this.#sessions.has(r.sessionId)) throw new MetaError("EEXIST", "session id in use");
        this.#sessions.set(r.sessionId, { client: r.client, ttlMs: r.ttlMs, handles: new Map() });
        return { sessionId: r.sessionId, ttlMs: r.ttlMs };
      case "closeSession": {
        const s = this.#sessions.get(r.sessionId);
        if (!s) return {};
        // Releasing one handle at a time keeps the open counts right when a session holds several on one inode.
        const handles = [...s.handles.keys()];
        const counts = new Map<number, number>();
        for (const h of handles) {
          const ino = s.handles.get(h)!;
          const left = (counts.get(ino) ?? this.#openCounts.get(ino) ?? 1) - 1;
          counts.set(ino, left);
          if (left === 0 && txn.find(ino)?.nlink === 0) txn.remove(ino);
        }
        after.push(() => {
          for (const [ino, left] of counts) {
            if (left === 0) this.#openCounts.delete(ino);
            else this.#openCounts.set(ino, left);
          }
          this.#sessions.delete(r.sessionId);
        });
        return {};
      }
      case "reserveInodes":
        after.push(() => {
          this.#nextIno = Math.max(this.#nextIno, r.first + r.count);
        });
        return { first: r.first, count: r.count };
      case "make":
        return { attr: ops.make(txn, r) };
      case "create": {
        const session = r.handle !== undefined ? this.#session(r.sessionId ?? "") : undefined;
        const { ino, created } = ops.create(txn, r);
        if (session && r.handle) this.#addHandle(after, session, r.handle, ino);
        const res: Record<string, unknown> = { attr: attrOf(ino, txn.get(ino)), created };
        if (r.handle) res.handle = r.handle;
        return res;
      }
      case "link":
        return { attr: ops.link(txn, r) };
      case "unlink": {
        const res = ops.unlink(txn, r, this.#isOpen);
        return r.dir ? {} : res;
      }
      case "rename":
        return ops.rename(txn, r, this.#isOpen);
      case "setattr":
        return { attr: ops.setattr(txn, r) };
      case "setxattr":
        ops.setxattr(txn, r);
        return {};
      case "removexattr":
        ops.removexattr(txn, r);
        return {};
      case "open": {
        const session = this.#session(r.sessionId);
        const node = txn.get(r.ino);
        if (r.truncate) ops.truncateOnOpen(txn, r.ino);
        this.#addHandle(after, session, r.handle, r.ino);
        return { handle: r.handle, attr: attrOf(r.ino, r.truncate ? txn.get(r.ino) : node) };
      }
      case "release":
        this.#dropHandle(txn, after, this.#session(r.sessionId), r.handle);
        return {};
      case "commitWrite":
        this.#session(r.sessionId);
        return { attr: ops.commitWrite(txn, r), version: txn.version };
      case "setQuota":
        return ops.setQuota(txn, r);
      case "createSnapshot": {
        if (this.#snapshots.has(r.name)) throw new MetaError("EEXIST", `snapshot ${r.name} exists`);
        const info = {
          name: r.name,
          createdAt: r.t,
          version: txn.version,
          ...(r.schedule ? { schedule: r.schedule } : {}),
        };
        // The snapshot record itself changes no inode, so the tree at this version is the current one.
        const inodes = this.#tree.inodes;
        after.push(() => this.#snapshots.set(r.name, { ...info, tree: { version: txn.version, inodes } }));
        return info;
      }
      case "deleteSnapshot":
        this.snapshot(r.name);
        after.push(() => this.#snapshots.delete(r.name));
        return {};
      case "restore": {
        const snap = this.snapshot(r.snapshot);
        const { attr, nextIno } = restore(txn, r, snap.tree, this.#isOpen);
        after.push(() => {
          this.#nextIno = Math.max(this.#nextIno, nextIno);
        });
        return { attr };
      }
    }
  }

  /** Inodes holding extents in the live tree or any snapshot (each version of an inode once). */
  #referencingInodes(): Inode[] {
    const seen = new Set<Inode>();
    for (const n of this.#tree.inodes.values()) if (n.extents) seen.add(n);
    // A snapshot differs from the next newer tree only where something changed: walk just that.
    let newer = this.#tree.inodes;
    const snaps = [...this.#snapshots.values()].sort((a, b) => b.tree.version - a.tree.version);
    for (const s of snaps) {
      for (const [, n] of diffTrees(s.tree.inodes, newer)) if (n?.extents) seen.add(n);
      newer = s.tree.inodes;
    }
    return [...seen];
  }

  /** Every chunk referenced by the live tree (incl. unlinked-but-open files) or a snapshot. Sorted. */
  chunkReferences(): string[] {
    const chunks = new Set<string>();
    for (const n of this.#referencingInodes()) for (const e of n.extents!) chunks.add(e.chunk);
    return [...chunks].sort();
  }

  /** Like chunkReferences, with the chunk ranges extents use (for fsck's range checks). */
  chunkUsage(): Array<{ chunkId: string; ranges: Array<{ offset: number; length: number }> }> {
    // The same extent usually appears in several versions of an inode: keep each range once.
    const byChunk = new Map<string, Map<string, { offset: number; length: number }>>();
    for (const n of this.#referencingInodes()) {
      for (const e of n.extents!) {
        const ranges = byChunk.get(e.chunk) ?? new Map();
        ranges.set(`${e.chunkOffset}:${e.length}`, { offset: e.chunkOffset, length: e.length });
        byChunk.set(e.chunk, ranges);
      }
    }
    return [...byChunk]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([chunkId, ranges]) => ({ chunkId, ranges: [...ranges.values()] }));
  }

  exportImage(): Buffer {
    return this.captureImage()();
  }

  /**
   * Freeze the state now (cheap: the trees are persistent; sessions and the dedupe memory are
   * copied) and return a thunk that serialises it later, off the append path.
   */
  captureImage(): () => Buffer {
    const steps = this.#captureSteps(Number.POSITIVE_INFINITY);
    return () => runSlices(steps());
  }

  /**
   * Like `captureImage`, but the thunk serialises in slices of `sliceInodes` and yields to the
   * event loop between them: the frozen trees stay consistent while the live state moves on,
   * and appends are not stalled for the seconds a 1M-inode image takes.
   */
  captureImageSliced(sliceInodes = 1_000): () => Promise<Buffer> {
    const steps = this.#captureSteps(sliceInodes);
    return () => runSlicesYielding(steps());
  }

  #captureSteps(every: number): () => Generator<void, Buffer> {
    const tree = this.#tree;
    const nextIno = this.#nextIno;
    const sessions: ImageHeader["sessions"] = [...this.#sessions].map(([id, s]) => [
      id,
      { client: s.client, ttlMs: s.ttlMs, handles: [...s.handles] },
    ]);
    const requests = [...this.#requests];
    const snaps = [...this.#snapshots.values()].sort((a, b) => b.tree.version - a.tree.version);
    return function* () {
      const w = new ImageWriter();
      const header: ImageHeader = {
        format: IMAGE_FORMAT,
        version: tree.version,
        nextIno,
        sessions,
        requests,
        snapshots: snaps.map((s) => ({
          name: s.name,
          createdAt: s.createdAt,
          version: s.tree.version,
          ...(s.schedule ? { schedule: s.schedule } : {}),
        })),
      };
      w.json(header);
      yield* w.inodesInSlices(tree.inodes, every);
      let newer = tree.inodes;
      for (const s of snaps) {
        yield* w.inodesInSlices(newer === s.tree.inodes ? [] : diffTrees(s.tree.inodes, newer), every);
        newer = s.tree.inodes;
        yield;
      }
      return w.finish();
    };
  }

  static importImage(image: Buffer): Namespace {
    const r = new ImageReader(image);
    const header = r.json<ImageHeader>();
    if (!header || header.format !== IMAGE_FORMAT)
      throw new RangeError(`unsupported metadata image format ${header?.format ?? "(none)"}`);
    const ns = new Namespace();
    const live = r.inodes(IMap<number, Inode>());
    ns.#tree = { version: header.version, inodes: live };
    ns.#nextIno = header.nextIno;
    for (const [id, s] of header.sessions) {
      ns.#sessions.set(id, { client: s.client, ttlMs: s.ttlMs, handles: new Map(s.handles) });
      for (const [, ino] of s.handles) ns.#openCounts.set(ino, (ns.#openCounts.get(ino) ?? 0) + 1);
    }
    for (const [k, v] of header.requests) ns.#requests.set(k, v);
    let newer = live;
    for (const s of header.snapshots) {
      const inodes = r.inodes(newer);
      newer = inodes;
      ns.#snapshots.set(s.name, {
        name: s.name,
        createdAt: s.createdAt,
        ...(s.schedule ? { schedule: s.schedule } : {}),
        tree: { version: s.version, inodes },
      });
    }
    return ns;
  }
}
