/**
 * Maps kernel requests from the libfuse3 addon onto the Vfs. The adapter is thin on purpose:
 * call the VFS method, send the reply, or map the thrown error to errno (errnoOf, the only
 * place). Every request is answered exactly once: success, FsError → its errno, anything else →
 * EIO plus a log line. Lookups handed to the kernel that it did not take are forgotten again.
 */
import { constants } from "node:os";
import { errnoOf, isExpectedFsError } from "../vfs/errors.js";
import type { ByteRangeLock, CallerContext, FlockOp, ReadvBuffers, SetAttr, Vfs } from "../vfs/types.js";
import {
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  LOCK_EX,
  LOCK_NB,
  LOCK_SH,
  type NativeAddon,
  type NativeReq,
  Op,
  OpName,
  SetAttrBit,
} from "./native-ops.js";

/** The native reply takes at most this many buffers in one iovec (see reply.cc). */
const MAX_REPLY_IOV = 256;

export interface DispatchHooks {
  onClosed(): void;
  log(message: string, err?: unknown): void;
}

const ERANGE = constants.errno.ERANGE;
/** Bytes one readdirplus entry takes at least (fuse_direntplus + a short name). */
const DIRENTPLUS_MIN = 160;

export function createDispatcher(addon: NativeAddon, vfs: Vfs, attrTimeout: number, hooks: DispatchHooks) {
  const aborts = new Map<number, AbortController>();
  const earlyInterrupts = new Set<number>();
  let inflight = 0;
  let idle: (() => void) | undefined;

  const fail = (req: NativeReq, op: number, err: unknown) => {
    if (!isExpectedFsError(err)) hooks.log(`${OpName[op]} failed`, err);
    addon.replyErr(req, errnoOf(err));
  };

  /** Run `work`, answer with `reply`; errors (also from reply) answer errno. */
  const answer = <T>(req: NativeReq, op: number, work: () => Promise<T>, reply: (v: T) => void) => {
    inflight++;
    let p: Promise<T>;
    try {
      p = work();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(reply)
      .catch((err) => fail(req, op, err))
      .finally(() => {
        if (--inflight === 0) idle?.();
      });
  };
  const ok = () => (req: NativeReq) => () => addon.replyErr(req, 0);

  const lockSignal = (id: number): AbortSignal => {
    const ac = new AbortController();
    if (earlyInterrupts.delete(id)) ac.abort();
    aborts.set(id, ac);
    return ac.signal;
  };

  const toLock = (type: number, start: number, len: number, pid: number): ByteRangeLock => ({
    type: type === F_RDLCK ? "read" : type === F_WRLCK ? "write" : "unlock",
    start,
    end: len === 0 ? Number.POSITIVE_INFINITY : start + len - 1,
    pid,
  });

  function dispatch(op: number, req: NativeReq, uid: number, gid: number, pid: number, ...a: unknown[]) {
    const ctx: CallerContext = { uid, gid, pid };
    const n = (i: number) => a[i] as number;
    const s = (i: number) => a[i] as string;
    const entryReply = (e: Awaited<ReturnType<Vfs["lookup"]>>) => {
      if (addon.replyEntry(req, e) < 0) vfs.forget(e.attr.ino, 1);
    };
    switch (op) {
      case Op.LOOKUP:
        return answer(req, op, () => vfs.lookup(ctx, n(0), s(1)), entryReply);
      case Op.FORGET:
        return vfs.forget(n(0), n(1));
      case Op.GETATTR:
        return answer(
          req,
          op,
          () => vfs.getattr(ctx, n(0), a[1] as number | undefined),
          (attr) => addon.replyAttr(req, attr, attrTimeout),
        );
      case Op.SETATTR: {
        const [ino, fh, valid, mode, auid, agid, size, atime, mtime] = a as [
          number,
          number | undefined,
          number,
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        const c: SetAttr = {};
        if (valid & SetAttrBit.MODE) c.mode = mode;
        if (valid & SetAttrBit.UID) c.uid = auid;
        if (valid & SetAttrBit.GID) c.gid = agid;
        if (valid & SetAttrBit.SIZE) c.size = size;
        if (valid & SetAttrBit.ATIME) c.atimeMs = valid & SetAttrBit.ATIME_NOW ? "now" : atime;
        if (valid & SetAttrBit.MTIME) c.mtimeMs = valid & SetAttrBit.MTIME_NOW ? "now" : mtime;
        return answer(
          req,
          op,
          () => vfs.setattr(ctx, ino, c, fh),
          (attr) => addon.replyAttr(req, attr, attrTimeout),
        );
      }
      case Op.READLINK:
        return answer(
          req,
          op,
          () => vfs.readlink(ctx, n(0)),
          (t) => addon.replyReadlink(req, t),
        );
      case Op.MKNOD:
        return answer(req, op, () => vfs.mknod(ctx, n(0), s(1), n(2), n(3)), entryReply);
      case Op.MKDIR:
        return answer(req, op, () => vfs.mkdir(ctx, n(0), s(1), n(2)), entryReply);
      case Op.SYMLINK:
        return answer(req, op, () => vfs.symlink(ctx, n(0), s(1), s(2)), entryReply);
      case Op.LINK:
        return answer(req, op, () => vfs.link(ctx, n(0), n(1), s(2)), entryReply);
      case Op.UNLINK:
        return answer(req, op, () => vfs.unlink(ctx, n(0), s(1)), ok()(req));
      case Op.RMDIR:
        return answer(req, op, () => vfs.rmdir(ctx, n(0), s(1)), ok()(req));
      case Op.RENAME:
        return answer(req, op, () => vfs.rename(ctx, n(0), s(1), n(2), s(3), n(4)), ok()(req));
      case Op.OPEN:
      case Op.OPENDIR: {
        const ino = n(0);
        const dir = op === Op.OPENDIR;
        return answer(
          req,
          op,
          () => (dir ? vfs.opendir(ctx, ino) : vfs.open(ctx, ino, n(1))),
          (o) => {
            if (addon.replyOpen(req, o) < 0) void (dir ? vfs.releasedir(ctx, ino, o.fh) : vfs.release(ctx, ino, o.fh));
          },
        );
      }
      case Op.CREATE:
        return answer(
          req,
          op,
          () => vfs.create(ctx, n(0), s(1), n(2), n(3)),
          (r) => {
            if (addon.replyCreate(req, r.entry, r.open) < 0) {
              void vfs.release(ctx, r.entry.attr.ino, r.open.fh);
              vfs.forget(r.entry.attr.ino, 1);
            }
          },
        );
      case Op.READ:
        return answer(
          req,
          op,
          // readv: cached blocks go to the kernel as one iovec, without being joined first
          (): Promise<Buffer | Buffer[]> =>
            vfs.readv ? vfs.readv(ctx, n(0), n(1), n(3), n(2)) : vfs.read(ctx, n(0), n(1), n(3), n(2)),
          (data) => {
            // The blocks' memory may be reused once the kernel has the bytes (a large reply is
            // written from a pool thread after this returns): the addon calls `done` then.
            const release = Array.isArray(data) ? (data as ReadvBuffers).release : undefined;
            try {
              addon.replyBuf(
                req,
                Array.isArray(data) && data.length > MAX_REPLY_IOV ? Buffer.concat(data) : data,
                release,
              );
            } catch (err) {
              release?.();
              throw err;
            }
          },
        );
      case Op.WRITE:
        return answer(
          req,
          op,
          () => vfs.write(ctx, n(0), n(1), n(3), a[2] as Buffer),
          (cnt) => addon.replyWrite(req, cnt),
        );
      case Op.FLUSH:
        return answer(req, op, () => vfs.flush(ctx, n(0), n(1), a[2] as bigint), ok()(req));
      case Op.RELEASE:
        return answer(req, op, () => vfs.release(ctx, n(0), n(1), a[2] as bigint | undefined), ok()(req));
      case Op.FSYNC:
        return answer(req, op, () => vfs.fsync(ctx, n(0), n(1), n(2) !== 0), ok()(req));
      case Op.FSYNCDIR:
        return addon.replyErr(req, 0);
      case Op.READDIRPLUS: {
        const [ino, fh, size, cookie] = a as [number, number, number, number];
        const limit = Math.max(1, Math.floor(size / DIRENTPLUS_MIN));
        return answer(
          req,
          op,
          () => vfs.readdirplus(ctx, ino, fh, cookie, limit),
          (list) => {
            const sent = addon.replyDirplus(req, size, list);
            // Entries the kernel did not receive do not hold a lookup reference.
            for (const e of list.slice(Math.max(0, sent))) {
              if (e.name !== "." && e.name !== "..") vfs.forget(e.entry.attr.ino, 1);
            }
          },
        );
      }
      case Op.RELEASEDIR:
        return answer(req, op, () => vfs.releasedir(ctx, n(0), n(1)), ok()(req));
      case Op.STATFS:
        return answer(
          req,
          op,
          () => vfs.statfs(ctx, n(0)),
          (st) => addon.replyStatfs(req, st),
        );
      case Op.SETXATTR:
        return answer(req, op, () => vfs.setxattr(ctx, n(0), s(1), a[2] as Buffer, n(3)), ok()(req));
      case Op.GETXATTR:
        return answer(
          req,
          op,
          () => vfs.getxattr(ctx, n(0), s(1)),
          (v) => sizedReply(req, n(2), v),
        );
      case Op.LISTXATTR:
        return answer(
          req,
          op,
          () => vfs.listxattr(ctx, n(0)),
          (names) => sizedReply(req, n(1), Buffer.from(names.map((x) => `${x}\0`).join(""))),
        );
      case Op.REMOVEXATTR:
        return answer(req, op, () => vfs.removexattr(ctx, n(0), s(1)), ok()(req));
      case Op.GETLK: {
        const [ino, fh, owner, type, start, len, lpid] = a as [number, number, bigint, number, number, number, number];
        return answer(
          req,
          op,
          () => vfs.getlk(ctx, ino, fh, owner, toLock(type, start, len, lpid)),
          (l) => {
            const t = l.type === "read" ? F_RDLCK : l.type === "write" ? F_WRLCK : F_UNLCK;
            const length = l.end === Number.POSITIVE_INFINITY ? 0 : l.end - l.start + 1;
            addon.replyLock(req, t, l.start, length, l.pid);
          },
        );
      }
      case Op.SETLK: {
        const [ino, fh, owner, type, start, len, lpid, sleep, id] = a as [
          number,
          number,
          bigint,
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        const signal = sleep ? lockSignal(id) : undefined;
        return answer(
          req,
          op,
          () =>
            vfs
              .setlk(ctx, ino, fh, owner, toLock(type, start, len, lpid), sleep !== 0, signal)
              .finally(() => aborts.delete(id)),
          ok()(req),
        );
      }
      case Op.FLOCK: {
        const [ino, fh, owner, fop, id] = a as [number, number, bigint, number, number];
        const kind: FlockOp = fop & LOCK_SH ? "shared" : fop & LOCK_EX ? "exclusive" : "unlock";
        const wait = !(fop & LOCK_NB) && kind !== "unlock";
        const signal = wait ? lockSignal(id) : undefined;
        return answer(
          req,
          op,
          () => vfs.flock(ctx, ino, fh, owner, kind, wait, signal).finally(() => aborts.delete(id)),
          ok()(req),
        );
      }
      case Op.FALLOCATE:
        return answer(req, op, () => vfs.fallocate(ctx, n(0), n(1), n(2), n(3), n(4)), ok()(req));
      case Op.INTERRUPT: {
        const id = n(0);
        const ac = aborts.get(id);
        if (ac) ac.abort();
        else if (earlyInterrupts.size < 1024) earlyInterrupts.add(id);
        return;
      }
      case Op.CLOSED:
        return hooks.onClosed();
      default:
        if (req) addon.replyErr(req, constants.errno.ENOSYS);
    }
  }

  /** getxattr/listxattr: size 0 asks for the length; too small a buffer is ERANGE. */
  function sizedReply(req: NativeReq, size: number, value: Buffer) {
    if (size === 0) addon.replyXattrSize(req, value.length);
    else if (value.length > size) addon.replyErr(req, ERANGE);
    else addon.replyBuf(req, value);
  }

  return {
    dispatch,
    /** Resolves when no VFS call is running (used before a hand-over). */
    drained(): Promise<void> {
      if (inflight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        idle = () => {
          idle = undefined;
          resolve();
        };
      });
    },
    /** Abort blocked lock waits (the successor cannot inherit them). */
    abortWaits(): void {
      for (const ac of aborts.values()) ac.abort();
    },
  };
}
