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
 *
 * Where things are: inodes, handles and inode lifetimes in memory-nodes.ts; link, unlink, rmdir
 * and rename in memory-namespace.ts; the hand-over form in memory-snapshot.ts. This module is the
 * Vfs face: kernel entries and attributes, file content, directories, xattrs, locks.
 */
import { FsError, fsError } from "./errors.js";
import { LockTable } from "./memory-locks.js";
import { linkNode, removeDir, renameEntry, unlinkName } from "./memory-namespace.js";
import { attrOf, isDir, type MemoryNode, NAME_MAX, NodeStore } from "./memory-nodes.js";
import { decodeNodeStore, encodeNodeStore, type MemoryVfsSnapshot } from "./memory-snapshot.js";
import {
  type Attr,
  type ByteRangeLock,
  type CallerContext,
  type DirEntry,
  type Entry,
  type FlockOp,
  type OpenResult,
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

export type { MemoryVfsSnapshot } from "./memory-snapshot.js";

export interface MemoryVfsOptions {
  /** Kernel cache lifetimes in seconds for entries and attributes (default 1). */
  cacheSeconds?: number;
  /** Open files with keep_cache (content changes only through this mount). */
  keepCache?: boolean;
}

export class MemoryVfs implements Vfs {
  private store = new NodeStore();
  readonly locks = new LockTable();
  private readonly ttl: number;
  private readonly keepCache: boolean;

  constructor(options: MemoryVfsOptions = {}) {
    this.ttl = options.cacheSeconds ?? 1;
    this.keepCache = options.keepCache ?? false;
  }

  private node(ino: number): MemoryNode {
    return this.store.node(ino);
  }

  /** An entry for the kernel, which holds one more lookup reference on the inode. */
  private entry(n: MemoryNode): Entry {
    n.lookups++;
    return { attr: attrOf(n), entryTimeout: this.ttl, attrTimeout: this.ttl };
  }

  // --- namespace ----------------------------------------------------------------------

  async lookup(_ctx: CallerContext, parent: number, name: string): Promise<Entry> {
    const p = this.store.dir(parent);
    if (name === ".") return this.entry(p);
    if (name === "..") return this.entry(this.node(p.parent));
    const e = p.entries.get(name);
    if (!e) throw new FsError("ENOENT", name);
    return this.entry(this.node(e.ino));
  }

  forget(ino: number, nlookup: number): void {
    this.store.forget(ino, nlookup);
  }

  async getattr(_ctx: CallerContext, ino: number): Promise<Attr> {
    return attrOf(this.node(ino));
  }

  async setattr(_ctx: CallerContext, ino: number, c: SetAttr): Promise<Attr> {
    const n = this.node(ino);
    const now = Date.now();
    if (c.mode !== undefined) n.mode = (n.mode & S_IFMT) | (c.mode & 0o7777);
    if (c.uid !== undefined) n.uid = c.uid;
    if (c.gid !== undefined) n.gid = c.gid;
    if (c.size !== undefined) {
      if (isDir(n)) throw new FsError("EISDIR");
      this.store.resize(n, c.size);
      n.mtimeMs = now;
    }
    if (c.atimeMs !== undefined) n.atimeMs = c.atimeMs === "now" ? now : c.atimeMs;
    if (c.mtimeMs !== undefined) n.mtimeMs = c.mtimeMs === "now" ? now : c.mtimeMs;
    n.ctimeMs = now;
    return attrOf(n);
  }

  async readlink(_ctx: CallerContext, ino: number): Promise<string> {
    const n = this.node(ino);
    if (n.target === undefined) throw new FsError("EINVAL", "not a symlink");
    return n.target;
  }

  async mknod(ctx: CallerContext, parent: number, name: string, mode: number, rdev: number) {
    const n = this.store.add(ctx, parent, name, mode);
    n.rdev = rdev;
    return this.entry(n);
  }

  async mkdir(ctx: CallerContext, parent: number, name: string, mode: number) {
    return this.entry(this.store.add(ctx, parent, name, S_IFDIR | (mode & 0o7777)));
  }

  async symlink(ctx: CallerContext, parent: number, name: string, target: string) {
    const n = this.store.add(ctx, parent, name, S_IFLNK | 0o777);
    n.target = target;
    n.size = Buffer.byteLength(target);
    return this.entry(n);
  }

  async link(_ctx: CallerContext, ino: number, newParent: number, newName: string) {
    return this.entry(linkNode(this.store, ino, newParent, newName));
  }

  async unlink(_ctx: CallerContext, parent: number, name: string) {
    unlinkName(this.store, parent, name);
  }

  async rmdir(_ctx: CallerContext, parent: number, name: string) {
    removeDir(this.store, parent, name);
  }

  async rename(_ctx: CallerContext, parent: number, name: string, newParent: number, newName: string, flags: number) {
    renameEntry(this.store, parent, name, newParent, newName, flags);
  }

  // --- files --------------------------------------------------------------------------

  private openHandle(n: MemoryNode, flags: number): OpenResult {
    return { fh: this.store.open(n, flags), keepCache: this.keepCache };
  }

  async open(_ctx: CallerContext, ino: number, flags: number): Promise<OpenResult> {
    const n = this.node(ino);
    if (isDir(n)) throw new FsError("EISDIR");
    return this.openHandle(n, flags);
  }

  async create(ctx: CallerContext, parent: number, name: string, mode: number, flags: number) {
    const n = this.store.add(ctx, parent, name, S_IFREG | (mode & 0o7777));
    return { entry: this.entry(n), open: this.openHandle(n, flags) };
  }

  async read(_ctx: CallerContext, _ino: number, fh: number, offset: number, size: number) {
    const n = this.node(this.store.handle(fh).ino);
    if (offset >= n.size) return Buffer.alloc(0);
    return n.data.subarray(offset, Math.min(n.size, offset + size));
  }

  async write(_ctx: CallerContext, _ino: number, fh: number, offset: number, data: Buffer) {
    const n = this.node(this.store.handle(fh).ino);
    const end = offset + data.length;
    if (end > n.size) this.store.resize(n, end);
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
    if (!this.store.handles.has(fh)) return;
    if (flockOwner !== undefined) this.locks.releaseFlock(ino, flockOwner);
    this.store.close(fh);
  }

  async fallocate(_ctx: CallerContext, _ino: number, fh: number, mode: number, offset: number, length: number) {
    if (mode !== 0) throw new FsError("EOPNOTSUPP", "only plain fallocate is supported");
    const n = this.node(this.store.handle(fh).ino);
    if (offset + length > n.size) this.store.resize(n, offset + length);
  }

  // --- directories --------------------------------------------------------------------

  async opendir(_ctx: CallerContext, ino: number): Promise<OpenResult> {
    return { fh: this.store.open(this.store.dir(ino), 0, false) };
  }

  async readdirplus(_ctx: CallerContext, ino: number, _fh: number, cookie: number, limit: number) {
    const d = this.store.dir(ino);
    const out: DirEntry[] = [];
    const plain = (n: MemoryNode): Entry => ({ attr: attrOf(n), entryTimeout: this.ttl, attrTimeout: this.ttl });
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
    this.store.handles.delete(fh);
  }

  async statfs(): Promise<StatFs> {
    let bytes = 0;
    for (const n of this.store.nodes.values()) bytes += n.size;
    const blocks = 1 << 24; // 64 GiB of 4 KiB blocks: a memory file system has no real limit
    const used = Math.ceil(bytes / 4096);
    return {
      bsize: 4096,
      frsize: 4096,
      blocks,
      bfree: blocks - used,
      bavail: blocks - used,
      files: 1 << 24,
      ffree: (1 << 24) - this.store.nodes.size,
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
    return encodeNodeStore(this.store.state());
  }

  static fromSnapshot(s: MemoryVfsSnapshot, options: MemoryVfsOptions = {}): MemoryVfs {
    const vfs = new MemoryVfs(options);
    vfs.store = new NodeStore(decodeNodeStore(s));
    return vfs;
  }
}
