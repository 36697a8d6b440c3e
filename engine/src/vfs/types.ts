/**
 * The VFS interface: what the FUSE adapter calls, one async method per low-level FUSE op.
 *
 * Decisions (shared with every team):
 * - Inode ids are JS numbers (safe integers); the root directory is 1 (FUSE_ROOT_ID).
 * - Open files and directories are named by handle ids (numbers) the VFS allocates in
 *   open/opendir/create; the adapter passes them back unchanged.
 * - Lookup counts follow the kernel's rules: every successful lookup, create, mknod, mkdir,
 *   symlink, link, and every readdirplus entry other than "." and ".." counts one reference;
 *   forget(ino, n) drops n. An inode that is unlinked and has no references and no open handle
 *   may be freed. The adapter forgets entries that it could not deliver to the kernel.
 * - Errors are thrown as FsError(code) (./errors.ts); the adapter maps them to errno once.
 * - Permission checks are the kernel's job (mounts use default_permissions); the VFS records
 *   uid/gid/mode faithfully (new inodes take ctx.uid/ctx.gid) but does not deny by mode.
 * - Lock owners are the kernel's 64-bit lock_owner values (bigint). Blocking lock waits take an
 *   AbortSignal that fires when the kernel interrupts the request (the caller got a signal);
 *   the VFS then rejects with FsError("EINTR").
 */

/** Who is asking: from the FUSE request header. */
export interface CallerContext {
  uid: number;
  gid: number;
  pid: number;
}

export type FileType = "file" | "dir" | "symlink" | "fifo" | "socket" | "char" | "block";

/** Attributes of an inode. Times are in milliseconds since the epoch (fractions allowed). */
export interface Attr {
  ino: number;
  /** Full st_mode: file type bits | permission bits (e.g. 0o100644). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** 512-byte blocks. */
  blocks: number;
  rdev: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  /**
   * The inode had no extended attributes when these attributes were read. The FUSE adapter then
   * answers getxattr/listxattr without asking the VFS for as long as the kernel keeps the
   * attributes (`ls -l` asks two per entry). Absent = unknown.
   */
  noXattrs?: boolean;
}

/** A name resolved in a directory: the inode's attributes plus cache lifetimes for the kernel. */
export interface Entry {
  attr: Attr;
  /** Seconds the kernel may cache the name → inode binding; 0 = revalidate every time. */
  entryTimeout: number;
  /** Seconds the kernel may cache the attributes. */
  attrTimeout: number;
  /** Inode generation (for NFS export); 0 is fine when inode numbers are never reused. */
  generation?: number;
}

/** What setattr changes: only the present fields. `"now"` = the current time. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atimeMs?: number | "now";
  mtimeMs?: number | "now";
}

export interface OpenFlags {
  /** open(2) flags as the kernel passed them (O_RDONLY, O_TRUNC, O_APPEND, ...). */
  flags: number;
}

/** The result of open/opendir/create. */
export interface OpenResult {
  fh: number;
  /** Keep the kernel's page cache across opens (content known not to have changed). */
  keepCache?: boolean;
  /** Bypass the page cache for this handle. */
  directIo?: boolean;
  /** The file is not seekable (stream). */
  nonSeekable?: boolean;
}

export interface DirEntry {
  name: string;
  /** The cookie the kernel passes back to continue *after* this entry. */
  cookie: number;
  /** Filled for readdirplus; "." and ".." may carry attrs without counting as lookups. */
  entry: Entry;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
}

/** A POSIX byte-range lock; `end` is inclusive, Infinity = to end of file. */
export interface ByteRangeLock {
  type: "read" | "write" | "unlock";
  start: number;
  end: number;
  pid: number;
}

export type FlockOp = "shared" | "exclusive" | "unlock";

export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** The file system the FUSE adapter serves. All methods may throw FsError. */
export interface Vfs {
  lookup(ctx: CallerContext, parent: number, name: string): Promise<Entry>;
  /** Drop `nlookup` references (never throws; the kernel expects no answer). */
  forget(ino: number, nlookup: number): void;
  getattr(ctx: CallerContext, ino: number, fh?: number): Promise<Attr>;
  setattr(ctx: CallerContext, ino: number, changes: SetAttr, fh?: number): Promise<Attr>;
  readlink(ctx: CallerContext, ino: number): Promise<string>;

  mknod(ctx: CallerContext, parent: number, name: string, mode: number, rdev: number): Promise<Entry>;
  mkdir(ctx: CallerContext, parent: number, name: string, mode: number): Promise<Entry>;
  symlink(ctx: CallerContext, parent: number, name: string, target: string): Promise<Entry>;
  link(ctx: CallerContext, ino: number, newParent: number, newName: string): Promise<Entry>;
  unlink(ctx: CallerContext, parent: number, name: string): Promise<void>;
  rmdir(ctx: CallerContext, parent: number, name: string): Promise<void>;
  /** flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
  rename(
    ctx: CallerContext,
    parent: number,
    name: string,
    newParent: number,
    newName: string,
    flags: number,
  ): Promise<void>;

  open(ctx: CallerContext, ino: number, flags: number): Promise<OpenResult>;
  create(
    ctx: CallerContext,
    parent: number,
    name: string,
    mode: number,
    flags: number,
  ): Promise<{ entry: Entry; open: OpenResult }>;
  /** Returns at most `size` bytes; fewer only at end of file. */
  read(ctx: CallerContext, ino: number, fh: number, offset: number, size: number): Promise<Buffer>;
  /**
   * Optional: `read` as a list of shared buffers (views of cached blocks) sent back to back, so
   * an adapter that can write an iovec answers without joining them. Never write into them.
   */
  readv?(ctx: CallerContext, ino: number, fh: number, offset: number, size: number): Promise<ReadvBuffers>;
  /** Returns the number of bytes written (all of them unless an error is thrown). */
  write(ctx: CallerContext, ino: number, fh: number, offset: number, data: Buffer): Promise<number>;
  /** Called on every close(2) of a descriptor; lockOwner's POSIX locks are released here. */
  flush(ctx: CallerContext, ino: number, fh: number, lockOwner: bigint): Promise<void>;
  fsync(ctx: CallerContext, ino: number, fh: number, dataOnly: boolean): Promise<void>;
  /** Last close of the handle; releases flock locks held through it when flockOwner is set. */
  release(ctx: CallerContext, ino: number, fh: number, flockOwner?: bigint): Promise<void>;
  fallocate(ctx: CallerContext, ino: number, fh: number, mode: number, offset: number, length: number): Promise<void>;

  opendir(ctx: CallerContext, ino: number): Promise<OpenResult>;
  /**
   * Entries after `cookie` (0 = from the start), at most `limit`. Each returned entry other
   * than "." and ".." counts one lookup reference.
   */
  readdirplus(ctx: CallerContext, ino: number, fh: number, cookie: number, limit: number): Promise<DirEntry[]>;
  releasedir(ctx: CallerContext, ino: number, fh: number): Promise<void>;

  statfs(ctx: CallerContext, ino: number): Promise<StatFs>;

  setxattr(ctx: CallerContext, ino: number, name: string, value: Buffer, flags: number): Promise<void>;
  getxattr(ctx: CallerContext, ino: number, name: string): Promise<Buffer>;
  listxattr(ctx: CallerContext, ino: number): Promise<string[]>;
  removexattr(ctx: CallerContext, ino: number, name: string): Promise<void>;

  /** The first lock that would conflict with `lock`, or `{type:"unlock"}` when none would. */
  getlk(ctx: CallerContext, ino: number, fh: number, owner: bigint, lock: ByteRangeLock): Promise<ByteRangeLock>;
  /** Acquire/release; with `wait` blocks until granted or `signal` aborts (EINTR). */
  setlk(
    ctx: CallerContext,
    ino: number,
    fh: number,
    owner: bigint,
    lock: ByteRangeLock,
    wait: boolean,
    signal?: AbortSignal,
  ): Promise<void>;
  flock(
    ctx: CallerContext,
    ino: number,
    fh: number,
    owner: bigint,
    op: FlockOp,
    wait: boolean,
    signal?: AbortSignal,
  ): Promise<void>;
}

/** File-type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export const ROOT_INO = 1;

/**
 * A vectored read's answer: views that may point into reused memory; the caller calls
 * `release` (when present) once it has sent or copied them.
 */
export type ReadvBuffers = Buffer[] & { release?(): void };
