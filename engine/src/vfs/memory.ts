/**
 * MemoryVfs: the reference implementation of the Vfs interface, entirely in memory.
 *
 * POSIX semantics the FUSE test suite relies on: hard links (nlink, shared inode), rename with
 * replace / RENAME_NOREPLACE / RENAME_EXCHANGE, unlinked-but-open files (an inode lives while it
 * has a name, a kernel lookup reference or an open handle), xattrs, byte-range and flock locks
 * (./memory-locks.ts). Permission checks are left to the kernel (default_permissions).
 *
 * `snapshot()`/`MemoryVfs.fromSnapshot()` carry the whole state (inodes, lookup counts, open
 * handles) to a successor process when a mount is handed over; locks are not carried.
 */
import { FsError, fsError } from "./errors.js";
import { LockTable } from "./memory-locks.js";
import {
  type Attr,
  type ByteRangeLock,
  type CallerContext,
  type DirEntry,
  type Entry,
  type FlockOp,
  type OpenResult,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type SetAttr,
  type StatFs,
  type Vfs,
  XATTR_CREATE,
  XATTR_REPLACE,
} from "./types.js";

interface Node {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  data: Buffer;
  /** Directories: name → {ino, cookie}; Map order is cookie order. */
  entries?: Map<string, { ino: number; cookie: number }>;
  nextCookie: number;
  parent: number;
  target?: string;
  xattrs: Map<string, Buffer>;
  lookups: number;
  opens: number;
}

interface Handle {
  ino: number;
  flags: number;
}

export interface MemoryVfsOptions {
  /** Kernel cache lifetimes in seconds for entries and attributes (default 1). */
  cacheSeconds?: number;
  /** Open files with keep_cache (content changes only through this mount). */
  keepCache?: boolean;
}

const NAME_MAX = 255;
const isDir = (n: Node) => (n.mode & S_IFMT) === S_IFDIR;

export class MemoryVfs implements Vfs {
  private nodes = new Map<number, Node>();
  private handles = new Map<number, Handle>();
  private nextIno = ROOT_INO + 1;
  private nextFh = 1;
  readonly locks = new LockTable();
  private readonly ttl: number;
  private readonly keepCache: boolean;

  constructor(options: MemoryVfsOptions = {}) {
    this.ttl = options.cacheSeconds ?? 1;
    this.keepCache = options.keepCache ?? false;
    const root = this.newNode({ uid: 0, gid: 0, pid: 0 }, S_IFDIR | 0o755, ROOT_INO);
    root.ino = ROOT_INO;
    root.parent = ROOT_INO;
    root.lookups = 1;
    this.nodes.set(ROOT_INO, root);
  }

  // --- helpers -------------------------------------------------------------------------

  private newNode(ctx: CallerContext, mode: number, parent: number): Node {
    const now = Date.now();
    const dir = (mode & S_IFMT) === S_IFDIR;
    const node: Node = {
      ino: this.nextIno++,
      mode,
      uid: ctx.uid,
      gid: ctx.gid,
      nlink: dir ? 2 : 1,
      rdev: 0,
      atimeMs: now,
      mtimeMs: now,
      ctimeMs: now,
      size: 0,
      data: Buffer.alloc(0),
      nextCookie: 3,
      parent,
      xattrs: new Map(),
      lookups: 0,
      opens: 0,
    };
    if (dir) node.entries = new Map();
    return node;
  }

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) throw new FsError("ESTALE", `inode ${ino}`);
    return n;
  }

  private dir(ino: number): Node & { entries: Map<string, { ino: number; cookie: number }> } {
    const n = this.node(ino);
    if (!n.entries) throw new FsError("ENOTDIR", `inode ${ino}`);
    return n as Node & { entries: Map<string, { ino: number; cookie: number }> };
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new FsError("EBADF", `handle ${fh}`);
    return h;
  }

  private attr(n: Node): Attr {
    return {
      ino: n.ino,
      mode: n.mode,
      nlink: n.nlink,
      uid: n.uid,
      gid: n.gid,
      size: n.size,
      blocks: Math.ceil(n.size / 512),
      rdev: n.rdev,
      atimeMs: n.atimeMs,
      mtimeMs: n.mtimeMs,
      ctimeMs: n.ctimeMs,
    };
  }

  private entry(n: Node): Entry {
    n.lookups++;
    return { attr: this.attr(n), entryTimeout: this.ttl, attrTimeout: this.ttl };
  }

  private checkName(name: string): void {
    if (Buffer.byteLength(name) > NAME_MAX) throw new FsError("ENAMETOOLONG", name);
  }

  private insert(parent: Node, name: string, child: Node): void {
    parent.entries?.set(name, { ino: child.ino, cookie: parent.nextCookie++ });
    parent.mtimeMs = parent.ctimeMs = Date.now();
  }

  private add(ctx: CallerContext, parentIno: number, name: string, mode: number): Node {
    this.checkName(name);
    const parent = this.dir(parentIno);
    if (parent.entries.has(name)) throw new FsError("EEXIST", name);
    const child = this.newNode(ctx, mode, parentIno);
    // setgid directories pass their group on (as the kernel expects of the file system).
    if (parent.mode & 0o2000) {
      child.gid = parent.gid;
      if (isDir(child)) child.mode |= 0o2000;
    }
    this.nodes.set(child.ino, child);
    this.insert(parent, name, child);
    if (isDir(child)) parent.nlink++;
    return child;
  }

  /** Drop one name of `n`; frees it when nothing references it any more. */
  private dropLink(n: Node): void {
    n.nlink = isDir(n) ? 0 : n.nlink - 1;
    n.ctimeMs = Date.now();
    this.maybeFree(n);
  }

  private maybeFree(n: Node): void {
    if (n.nlink === 0 && n.lookups <= 0 && n.opens <= 0 && n.ino !== ROOT_INO) this.nodes.delete(n.ino);
  }

  private resize(n: Node, size: number): void {
    if (size > n.data.length) {
      const grown = Buffer.alloc(Math.max(size, Math.min(n.data.length * 2, size + (64 << 20))));
      n.data.copy(grown, 0, 0, n.size);
      n.data = grown;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
    n.size = size;
  }

  // --- namespace ----------------------------------------------------------------------

  async lookup(_ctx: CallerContext, parent: number, name: string): Promise<Entry> {
    const p = this.dir(parent);
    if (name === ".") return this.entry(p);
    if (name === "..") return this.entry(this.node(p.parent));
    const e = p.entries.get(name);
    if (!e) throw new FsError("ENOENT", name);
    return this.entry(this.node(e.ino));
  }

  forget(ino: number, nlookup: number): void {
    const n = this.nodes.get(ino);
    if (!n) return;
    n.lookups -= nlookup;
    this.maybeFree(n);
  }

  async getattr(_ctx: CallerContext, ino: number): Promise<Attr> {
    return this.attr(this.node(ino));
  }

  async setattr(_ctx: CallerContext, ino: number, c: SetAttr): Promise<Attr> {
    const n = this.node(ino);
    const now = Date.now();
    if (c.mode !== undefined) n.mode = (n.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) n.uid = c.uid;
    if (c.gid !== undefined) n.gid = c.gid;
    if (c.size !== undefined) {
      if (isDir(n)) throw new FsError("EISDIR");
      this.resize(n, c.size);
      n.mtimeMs = now;
    }
    if (c.atimeMs !== undefined) n.atimeMs = c.atimeMs === "now" ? now : c.atimeMs;
    if (c.mtimeMs !== undefined) n.mtimeMs = c.mtimeMs === "now" ? now : c.mtimeMs;
    n.ctimeMs = now;
    return this.attr(n);
  }

  async readlink(_ctx: CallerContext, ino: number): Promise<string> {
    const n = this.node(ino);
    if (n.target === undefined) throw new FsError("EINVAL", "not a symlink");
    return n.target;
  }

  async mknod(ctx: CallerContext, parent: number, name: string, mode: number, rdev: number) {
    const n = this.add(ctx, parent, name, mode);
    n.rdev = rdev;
    return this.entry(n);
  }

  async mkdir(ctx: CallerContext, parent: number, name: string, mode: number) {
    return this.entry(this.add(ctx, parent, name, S_IFDIR | (mode & 0o7777)));
  }

  async symlink(ctx: CallerContext, parent: number, name: string, target: string) {
    const n = this.add(ctx, parent, name, S_IFLNK | 0o777);
    n.target = target;
    n.size = Buffer.byteLength(target);
    return this.entry(n);
  }

  async link(_ctx: CallerContext, ino: number, newParent: number, newName: string) {
    this.checkName(newName);
    const n = this.node(ino);
    if (isDir(n)) throw new FsError("EPERM", "hard link to a directory");
    const p = this.dir(newParent);
    if (p.entries.has(newName)) throw new FsError("EEXIST", newName);
    this.insert(p, newName, n);
    n.nlink++;
    n.ctimeMs = Date.now();
    return this.entry(n);
  }

  async unlink(_ctx: CallerContext, parent: number, name: string) {
    const p = this.dir(parent);
    const e = p.entries.get(name);
    if (!e) throw new FsError("ENOENT", name);
    const n = this.node(e.ino);
    if (isDir(n)) throw new FsError("EISDIR", name);
    p.entries.delete(name);
    p.mtimeMs = p.ctimeMs = Date.now();
    this.dropLink(n);
  }

  async rmdir(_ctx: CallerContext, parent: number, name: string) {
    const p = this.dir(parent);
    const e = p.entries.get(name);
    if (!e) throw new FsError("ENOENT", name);
    const n = this.dir(e.ino);
    if (n.entries.size > 0) throw new FsError("ENOTEMPTY", name);
    p.entries.delete(name);
    p.nlink--;
    p.mtimeMs = p.ctimeMs = Date.now();
    this.dropLink(n);
  }

  async rename(_ctx: CallerContext, parent: number, name: string, newParent: number, newName: string, flags: number) {
    this.checkName(newName);
    const from = this.dir(parent);
    const to = this.dir(newParent);
    const src = from.entries.get(name);
    if (!src) throw new FsError("ENOENT", name);
    const srcNode = this.node(src.ino);
    const dst = to.entries.get(newName);
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError("EINVAL", "rename flags");
    if (flags & RENAME_NOREPLACE && dst) throw new FsError("EEXIST", newName);
    const now = Date.now();
    if (flags & RENAME_EXCHANGE) {
      if (!dst) throw new FsError("ENOENT", newName);
      const dstNode = this.node(dst.ino);
      from.entries.set(name, { ino: dst.ino, cookie: src.cookie });
      to.entries.set(newName, { ino: src.ino, cookie: dst.cookie });
      this.reparent(srcNode, from, to);
      this.reparent(dstNode, to, from);
      from.mtimeMs = to.mtimeMs = srcNode.ctimeMs = dstNode.ctimeMs = now;
      return;
    }
    if (dst) {
      if (dst.ino === src.ino) return; // two names of one inode: POSIX says do nothing
      const dstNode = this.node(dst.ino);
      if (isDir(srcNode) && !isDir(dstNode)) throw new FsError("ENOTDIR", newName);
      if (!isDir(srcNode) && isDir(dstNode)) throw new FsError("EISDIR", newName);
      if (dstNode.entries && dstNode.entries.size > 0) throw new FsError("ENOTEMPTY", newName);
      to.entries.delete(newName);
      if (isDir(dstNode)) to.nlink--;
      this.dropLink(dstNode);
    }
    from.entries.delete(name);
    this.insert(to, newName, srcNode);
    this.reparent(srcNode, from, to);
    from.mtimeMs = from.ctimeMs = srcNode.ctimeMs = now;
  }

  private reparent(n: Node, from: Node, to: Node): void {
    if (!isDir(n) || from === to) return;
    n.parent = to.ino;
    from.nlink--;
    to.nlink++;
  }

  // --- files --------------------------------------------------------------------------

  private openHandle(n: Node, flags: number): OpenResult {
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: n.ino, flags });
    n.opens++;
    return { fh, keepCache: this.keepCache };
  }

  async open(_ctx: CallerContext, ino: number, flags: number): Promise<OpenResult> {
    const n = this.node(ino);
    if (isDir(n)) throw new FsError("EISDIR");
    return this.openHandle(n, flags);
  }

  async create(ctx: CallerContext, parent: number, name: string, mode: number, flags: number) {
    const n = this.add(ctx, parent, name, S_IFREG | (mode & 0o7777));
    return { entry: this.entry(n), open: this.openHandle(n, flags) };
  }

  async read(_ctx: CallerContext, _ino: number, fh: number, offset: number, size: number) {
    const n = this.node(this.handle(fh).ino);
    if (offset >= n.size) return Buffer.alloc(0);
    return n.data.subarray(offset, Math.min(n.size, offset + size));
  }

  async write(_ctx: CallerContext, _ino: number, fh: number, offset: number, data: Buffer) {
    const n = this.node(this.handle(fh).ino);
    const end = offset + data.length;
    if (end > n.size) this.resize(n, end);
    data.copy(n.data, offset);
    n.mtimeMs = n.ctimeMs = Date.now();
    // Writes by anyone but the owner drop setuid/setgid, like local file systems do.
    n.mode &= ~0o6000;
    return data.length;
  }

  async flush(_ctx: CallerContext, ino: number, _fh: number, lockOwner: bigint) {
    this.locks.releaseRanges(ino, lockOwner);
  }

  async fsync() {}

  async release(_ctx: CallerContext, ino: number, fh: number, flockOwner?: bigint) {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (flockOwner !== undefined) this.locks.releaseFlock(ino, flockOwner);
    const n = this.nodes.get(h.ino);
    if (!n) return;
    n.opens--;
    this.maybeFree(n);
  }

  async fallocate(_ctx: CallerContext, _ino: number, fh: number, mode: number, offset: number, length: number) {
    if (mode !== 0) throw new FsError("EOPNOTSUPP", "only plain fallocate is supported");
    const n = this.node(this.handle(fh).ino);
    if (offset + length > n.size) this.resize(n, offset + length);
  }

  // --- directories --------------------------------------------------------------------

  async opendir(_ctx: CallerContext, ino: number): Promise<OpenResult> {
    const n = this.dir(ino);
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: n.ino, flags: 0 });
    return { fh };
  }

  async readdirplus(_ctx: CallerContext, ino: number, _fh: number, cookie: number, limit: number) {
    const d = this.dir(ino);
    const out: DirEntry[] = [];
    const plain = (n: Node): Entry => ({ attr: this.attr(n), entryTimeout: this.ttl, attrTimeout: this.ttl });
    if (cookie < 1 && out.length < limit) out.push({ name: ".", cookie: 1, entry: plain(d) });
    if (cookie < 2 && out.length < limit) out.push({ name: "..", cookie: 2, entry: plain(this.node(d.parent)) });
    for (const [name, e] of d.entries) {
      if (out.length >= limit) break;
      if (e.cookie <= cookie) continue;
      out.push({ name, cookie: e.cookie, entry: this.entry(this.node(e.ino)) });
    }
    return out;
  }

  async releasedir(_ctx: CallerContext, _ino: number, fh: number) {
    this.handles.delete(fh);
  }

  async statfs(): Promise<StatFs> {
    let bytes = 0;
    for (const n of this.nodes.values()) bytes += n.size;
    const blocks = 1 << 24; // 64 GiB of 4 KiB blocks: a memory file system has no real limit
    const used = Math.ceil(bytes / 4096);
    return {
      bsize: 4096,
      frsize: 4096,
      blocks,
      bfree: blocks - used,
      bavail: blocks - used,
      files: 1 << 24,
      ffree: (1 << 24) - this.nodes.size,
      namemax: NAME_MAX,
    };
  }

  // --- xattrs -------------------------------------------------------------------------

  async setxattr(_ctx: CallerContext, ino: number, name: string, value: Buffer, flags: number) {
    const n = this.node(ino);
    const exists = n.xattrs.has(name);
    if (flags & XATTR_CREATE && exists) throw new FsError("EEXIST", name);
    if (flags & XATTR_REPLACE && !exists) throw new FsError("ENODATA", name);
    n.xattrs.set(name, Buffer.from(value));
    n.ctimeMs = Date.now();
  }

  async getxattr(_ctx: CallerContext, ino: number, name: string) {
    const v = this.node(ino).xattrs.get(name);
    if (!v) throw fsError("ENODATA", name);
    return v;
  }

  async listxattr(_ctx: CallerContext, ino: number) {
    return [...this.node(ino).xattrs.keys()];
  }

  async removexattr(_ctx: CallerContext, ino: number, name: string) {
    if (!this.node(ino).xattrs.delete(name)) throw new FsError("ENODATA", name);
  }

  // --- locks --------------------------------------------------------------------------

  async getlk(_ctx: CallerContext, ino: number, _fh: number, owner: bigint, lock: ByteRangeLock) {
    return this.locks.conflict(ino, owner, lock) ?? { ...lock, type: "unlock" as const };
  }

  async setlk(
    _ctx: CallerContext,
    ino: number,
    _fh: number,
    owner: bigint,
    lock: ByteRangeLock,
    wait: boolean,
    signal?: AbortSignal,
  ) {
    await this.locks.setlk(ino, owner, lock, wait, signal);
  }

  async flock(
    _ctx: CallerContext,
    ino: number,
    _fh: number,
    owner: bigint,
    op: FlockOp,
    wait: boolean,
    signal?: AbortSignal,
  ) {
    await this.locks.flock(ino, owner, op, wait, signal);
  }

  // --- hand-over ----------------------------------------------------------------------

  /** Serializable state for a successor process (see fuse/handover). */
  snapshot(): MemoryVfsSnapshot {
    const nodes = [...this.nodes.values()].map((n) => ({
      ...n,
      data: n.data.subarray(0, n.size).toString("base64"),
      entries: n.entries ? [...n.entries] : undefined,
      xattrs: [...n.xattrs].map(([k, v]) => [k, v.toString("base64")] as [string, string]),
    }));
    return { nodes, handles: [...this.handles], nextIno: this.nextIno, nextFh: this.nextFh };
  }

  static fromSnapshot(s: MemoryVfsSnapshot, options: MemoryVfsOptions = {}): MemoryVfs {
    const vfs = new MemoryVfs(options);
    vfs.nodes = new Map(
      s.nodes.map((n) => [
        n.ino,
        {
          ...n,
          data: Buffer.from(n.data, "base64"),
          entries: n.entries ? new Map(n.entries) : undefined,
          xattrs: new Map(n.xattrs.map(([k, v]) => [k, Buffer.from(v, "base64")])),
        },
      ]),
    );
    vfs.handles = new Map(s.handles);
    vfs.nextIno = s.nextIno;
    vfs.nextFh = s.nextFh;
    return vfs;
  }
}

export interface MemoryVfsSnapshot {
  nodes: Array<
    Omit<Node, "data" | "entries" | "xattrs"> & {
      data: string;
      entries: Array<[string, { ino: number; cookie: number }]> | undefined;
      xattrs: Array<[string, string]>;
    }
  >;
  handles: Array<[number, Handle]>;
  nextIno: number;
  nextFh: number;
}
