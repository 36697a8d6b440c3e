/**
 * Namespace and attribute ops of the native dispatcher: lookups, attributes, creating and
 * removing names, extended attributes, statfs. A lookup reference handed to the kernel that it
 * did not take is forgotten again.
 */
import { constants } from "node:os";
import type { Entry, SetAttr } from "../vfs/types.js";
import { num, type OpEnv, type OpHandler, str } from "./native-answer.js";
import { type NativeReq, Op, SetAttrBit } from "./native-ops.js";

const ERANGE = constants.errno.ERANGE;

/** The kernel's setattr arguments: which fields are valid, then every field. */
type SetAttrArgs = [
  ino: number,
  fh: number | undefined,
  valid: number,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  atimeMs: number,
  mtimeMs: number,
];

function decodeSetAttr(a: readonly unknown[]): { ino: number; fh: number | undefined; changes: SetAttr } {
  const [ino, fh, valid, mode, uid, gid, size, atime, mtime] = a as SetAttrArgs;
  const changes: SetAttr = {};
  if (valid & SetAttrBit.MODE) changes.mode = mode;
  if (valid & SetAttrBit.UID) changes.uid = uid;
  if (valid & SetAttrBit.GID) changes.gid = gid;
  if (valid & SetAttrBit.SIZE) changes.size = size;
  if (valid & SetAttrBit.ATIME) changes.atimeMs = valid & SetAttrBit.ATIME_NOW ? "now" : atime;
  if (valid & SetAttrBit.MTIME) changes.mtimeMs = valid & SetAttrBit.MTIME_NOW ? "now" : mtime;
  return { ino, fh, changes };
}

export function namespaceOps(env: OpEnv): Record<number, OpHandler> {
  const { addon, vfs, attrTimeout, answer, ok } = env;

  const entryReply = (req: NativeReq) => (e: Entry) => {
    if (addon.replyEntry(req, e) < 0) vfs.forget(e.attr.ino, 1);
  };

  /** getxattr/listxattr: size 0 asks for the length; too small a buffer is ERANGE. */
  const sizedReply = (req: NativeReq, size: number, value: Buffer) => {
    if (size === 0) addon.replyXattrSize(req, value.length);
    else if (value.length > size) addon.replyErr(req, ERANGE);
    else addon.replyBuf(req, value);
  };

  return {
    [Op.LOOKUP]: (op, req, ctx, a) => answer(req, op, () => vfs.lookup(ctx, num(a, 0), str(a, 1)), entryReply(req)),
    // FORGET has no reply.
    [Op.FORGET]: (_op, _req, _ctx, a) => vfs.forget(num(a, 0), num(a, 1)),
    [Op.GETATTR]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.getattr(ctx, num(a, 0), a[1] as number | undefined),
        (attr) => addon.replyAttr(req, attr, attrTimeout),
      ),
    [Op.SETATTR]: (op, req, ctx, a) => {
      const { ino, fh, changes } = decodeSetAttr(a);
      answer(
        req,
        op,
        () => vfs.setattr(ctx, ino, changes, fh),
        (attr) => addon.replyAttr(req, attr, attrTimeout),
      );
    },
    [Op.READLINK]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.readlink(ctx, num(a, 0)),
        (t) => addon.replyReadlink(req, t),
      ),
    [Op.MKNOD]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.mknod(ctx, num(a, 0), str(a, 1), num(a, 2), num(a, 3)), entryReply(req)),
    [Op.MKDIR]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.mkdir(ctx, num(a, 0), str(a, 1), num(a, 2)), entryReply(req)),
    [Op.SYMLINK]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.symlink(ctx, num(a, 0), str(a, 1), str(a, 2)), entryReply(req)),
    [Op.LINK]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.link(ctx, num(a, 0), num(a, 1), str(a, 2)), entryReply(req)),
    [Op.UNLINK]: (op, req, ctx, a) => answer(req, op, () => vfs.unlink(ctx, num(a, 0), str(a, 1)), ok(req)),
    [Op.RMDIR]: (op, req, ctx, a) => answer(req, op, () => vfs.rmdir(ctx, num(a, 0), str(a, 1)), ok(req)),
    [Op.RENAME]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.rename(ctx, num(a, 0), str(a, 1), num(a, 2), str(a, 3), num(a, 4)), ok(req)),
    [Op.STATFS]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.statfs(ctx, num(a, 0)),
        (st) => addon.replyStatfs(req, st),
      ),
    [Op.SETXATTR]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.setxattr(ctx, num(a, 0), str(a, 1), a[2] as Buffer, num(a, 3)), ok(req)),
    [Op.GETXATTR]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.getxattr(ctx, num(a, 0), str(a, 1)),
        (v) => sizedReply(req, num(a, 2), v),
      ),
    [Op.LISTXATTR]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.listxattr(ctx, num(a, 0)),
        (names) => sizedReply(req, num(a, 1), Buffer.from(names.map((x) => `${x}\0`).join(""))),
      ),
    [Op.REMOVEXATTR]: (op, req, ctx, a) => answer(req, op, () => vfs.removexattr(ctx, num(a, 0), str(a, 1)), ok(req)),
  };
}
