/** Op codes of the filespace_fuse addon; keep in sync with engine/native/src/filespace_fuse.h. */
export const Op = {
  LOOKUP: 0,
  FORGET: 1,
  GETATTR: 2,
  SETATTR: 3,
  READLINK: 4,
  MKNOD: 5,
  MKDIR: 6,
  UNLINK: 7,
  RMDIR: 8,
  SYMLINK: 9,
  RENAME: 10,
  LINK: 11,
  OPEN: 12,
  READ: 13,
  WRITE: 14,
  FLUSH: 15,
  RELEASE: 16,
  FSYNC: 17,
  OPENDIR: 18,
  READDIRPLUS: 19,
  RELEASEDIR: 20,
  FSYNCDIR: 21,
  STATFS: 22,
  SETXATTR: 23,
  GETXATTR: 24,
  LISTXATTR: 25,
  REMOVEXATTR: 26,
  CREATE: 27,
  GETLK: 28,
  SETLK: 29,
  FLOCK: 30,
  FALLOCATE: 31,
  INTERRUPT: 32,
  CLOSED: 33,
} as const;

export const OpName: Record<number, string> = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k]));

/** setattr "valid" bits (fuse_lowlevel.h FUSE_SET_ATTR_*). */
export const SetAttrBit = {
  MODE: 1,
  UID: 2,
  GID: 4,
  SIZE: 8,
  ATIME: 16,
  MTIME: 32,
  ATIME_NOW: 128,
  MTIME_NOW: 256,
} as const;

/** Linux fcntl lock types and flock(2) operations. */
export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** An opaque kernel request as the addon hands it to JS. */
export type NativeReq = object;

/** The addon's exports (engine/native/src/module.cc, reply.cc, handover.cc). */
export interface NativeAddon {
  mount(
    mountpoint: string,
    args: string[],
    config: NativeSessionConfig,
    dispatch: (...args: never[]) => void,
  ): NativeSession;
  adopt(fd: number, init: Buffer, config: NativeSessionConfig, dispatch: (...args: never[]) => void): NativeSession;
  stop(s: NativeSession): Promise<number>;
  unmount(s: NativeSession, mountpoint: string): Promise<number>;
  release(s: NativeSession): void;
  invalInode(s: NativeSession, ino: number, offset: number, length: number): Promise<number>;
  invalEntry(s: NativeSession, parent: number, name: string): Promise<number>;
  info(s: NativeSession): { fd: number; inflight: number; init: Buffer };

  replyErr(req: NativeReq, errno: number): number;
  replyNone(req: NativeReq): number;
  replyEntry(req: NativeReq, entry: object): number;
  replyCreate(req: NativeReq, entry: object, open: object): number;
  replyAttr(req: NativeReq, attr: object, timeout: number): number;
  replyOpen(req: NativeReq, open: object): number;
  /**
   * One buffer, or up to 256 sent back to back (an iovec); more is refused with EINVAL. `done`,
   * when given, is called once the kernel has the bytes (at once for small replies, later for
   * large ones sent from a pool thread) and on every error path: only then may the buffers'
   * memory be reused.
   */
  replyBuf(req: NativeReq, data: Buffer | readonly Buffer[], done?: () => void): number;
  replyWrite(req: NativeReq, count: number): number;
  replyXattrSize(req: NativeReq, size: number): number;
  replyReadlink(req: NativeReq, target: string): number;
  replyStatfs(req: NativeReq, st: object): number;
  replyLock(req: NativeReq, type: number, start: number, len: number, pid: number): number;
  replyDirplus(req: NativeReq, size: number, entries: object[]): number;

  listenHandover(path: string): number;
  acceptHandover(listenFd: number): Promise<number>;
  sendFd(socketFd: number, fd: number, payload: Buffer): number;
  receiveFd(path: string): { fd: number; payload: Buffer };
  closeFd(fd: number): number;
}

export type NativeSession = object;

export interface NativeSessionConfig {
  threads: number;
  writebackCache: boolean;
  splice: boolean;
  locks: boolean;
}
