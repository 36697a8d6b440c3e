/**
 * The node store of MemoryVfs: inodes, their directory entries, open handles, and what keeps an
 * inode alive. An inode lives while it has a name (nlink), a kernel lookup reference or an open
 * handle; when the last of the three goes, it is freed. Namespace changes that move names
 * around are in memory-namespace.ts.
 */
import { FsError } from "./errors.js";
import { type Attr, type CallerContext, ROOT_INO, S_IFDIR, S_IFMT } from "./types.js";

export interface MemoryNode {
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
  entries?: Map<string, DirSlot>;
  nextCookie: number;
  parent: number;
  target?: string;
  xattrs: Map<string, Buffer>;
  lookups: number;
  opens: number;
}

/** A name in a directory: its inode and its readdir cookie. */
export interface DirSlot {
  ino: number;
  cookie: number;
}

export type DirNode = MemoryNode & { entries: Map<string, DirSlot> };

export interface MemoryHandle {
  ino: number;
  flags: number;
}

export const NAME_MAX = 255;
export const isDir = (n: MemoryNode) => (n.mode & S_IFMT) === S_IFDIR;

/** What the kernel sees of a node. */
export function attrOf(n: MemoryNode): Attr {
  const attr: Attr = {
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
  if (n.xattrs.size === 0) attr.noXattrs = true;
  return attr;
}

/** Everything a successor process needs to carry on with the same nodes and handles. */
export interface NodeStoreState {
  nodes: Map<number, MemoryNode>;
  handles: Map<number, MemoryHandle>;
  nextIno: number;
  nextFh: number;
}

export class NodeStore {
  readonly nodes: Map<number, MemoryNode>;
  readonly handles: Map<number, MemoryHandle>;
  private nextIno: number;
  private nextFh: number;

  /** A store with only the root directory, or the state a predecessor handed over. */
  constructor(state?: NodeStoreState) {
    this.nodes = state?.nodes ?? new Map();
    this.handles = state?.handles ?? new Map();
    this.nextIno = state?.nextIno ?? ROOT_INO + 1;
    this.nextFh = state?.nextFh ?? 1;
    if (state) return;
    const root = this.newNode({ uid: 0, gid: 0, pid: 0 }, S_IFDIR | 0o755, ROOT_INO);
    root.ino = ROOT_INO;
    root.parent = ROOT_INO;
    root.lookups = 1;
    this.nodes.set(ROOT_INO, root);
  }

  state(): NodeStoreState {
    return { nodes: this.nodes, handles: this.handles, nextIno: this.nextIno, nextFh: this.nextFh };
  }

  private newNode(ctx: CallerContext, mode: number, parent: number): MemoryNode {
    const now = Date.now();
    const dir = (mode & S_IFMT) === S_IFDIR;
    const node: MemoryNode = {
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

  node(ino: number): MemoryNode {
    const n = this.nodes.get(ino);
    if (!n) throw new FsError("ESTALE", `inode ${ino}`);
    return n;
  }

  dir(ino: number): DirNode {
    const n = this.node(ino);
    if (!n.entries) throw new FsError("ENOTDIR", `inode ${ino}`);
    return n as DirNode;
  }

  checkName(name: string): void {
    if (Buffer.byteLength(name) > NAME_MAX) throw new FsError("ENAMETOOLONG", name);
  }

  insert(parent: MemoryNode, name: string, child: MemoryNode): void {
    parent.entries?.set(name, { ino: child.ino, cookie: parent.nextCookie++ });
    parent.mtimeMs = parent.ctimeMs = Date.now();
  }

  /** A new inode named `name` in `parentIno`. */
  add(ctx: CallerContext, parentIno: number, name: string, mode: number): MemoryNode {
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
  dropLink(n: MemoryNode): void {
    n.nlink = isDir(n) ? 0 : n.nlink - 1;
    n.ctimeMs = Date.now();
    this.maybeFree(n);
  }

  maybeFree(n: MemoryNode): void {
    if (n.nlink === 0 && n.lookups <= 0 && n.opens <= 0 && n.ino !== ROOT_INO) this.nodes.delete(n.ino);
  }

  /** The kernel forgets `nlookup` references it took through lookups. */
  forget(ino: number, nlookup: number): void {
    const n = this.nodes.get(ino);
    if (!n) return;
    n.lookups -= nlookup;
    this.maybeFree(n);
  }

  /** Grow (doubling, at most 64 MiB ahead) or shrink a file's content. */
  resize(n: MemoryNode, size: number): void {
    if (size > n.data.length) {
      const grown = Buffer.alloc(Math.max(size, Math.min(n.data.length * 2, size + (64 << 20))));
      n.data.copy(grown, 0, 0, n.size);
      n.data = grown;
    } else if (size < n.size) {
      n.data.fill(0, size, n.size);
    }
    n.size = size;
  }

  // --- handles --------------------------------------------------------------------------

  /** A new handle on `n`; files count their opens (an open file outlives its last name). */
  open(n: MemoryNode, flags: number, counted = true): number {
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: n.ino, flags });
    if (counted) n.opens++;
    return fh;
  }

  handle(fh: number): MemoryHandle {
    const h = this.handles.get(fh);
    if (!h) throw new FsError("EBADF", `handle ${fh}`);
    return h;
  }

  /** Closes a counted handle; the inode may go with it. */
  close(fh: number): void {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    const n = this.nodes.get(h.ino);
    if (!n) return;
    n.opens--;
    this.maybeFree(n);
  }
}
