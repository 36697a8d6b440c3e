/**
 * Open-handle ops of the native dispatcher: open/create/release, read and write, flush/fsync,
 * directory handles and readdirplus. A handle or lookup reference handed to the kernel that it
 * did not take is released again.
 *
 * READ replies hold a lease: the blocks a readv returns may live in reused memory (the
 * plaintext slab), so their `release` runs only from replyBuf's `done`, which the addon calls
 * once the kernel has copied the bytes — a large reply is written from a pool thread after
 * replyBuf returns — or on its error paths.
 */
import type { ReadvBuffers } from "../vfs/types.js";
import { num, type OpEnv, type OpHandler, str } from "./native-answer.js";
import { Op } from "./native-ops.js";

/** The native reply takes at most this many buffers in one iovec (see reply.cc). */
const MAX_REPLY_IOV = 256;
/** Bytes one readdirplus entry takes at least (fuse_direntplus + a short name). */
const DIRENTPLUS_MIN = 160;

export function handleOps(env: OpEnv): Record<number, OpHandler> {
  const { addon, vfs, answer, ok } = env;

  const open: OpHandler = (op, req, ctx, a) => {
    const ino = num(a, 0);
    const dir = op === Op.OPENDIR;
    answer(
      req,
      op,
      () => (dir ? vfs.opendir(ctx, ino) : vfs.open(ctx, ino, num(a, 1))),
      (o) => {
        if (addon.replyOpen(req, o) < 0) void (dir ? vfs.releasedir(ctx, ino, o.fh) : vfs.release(ctx, ino, o.fh));
      },
    );
  };

  return {
    [Op.OPEN]: open,
    [Op.OPENDIR]: open,
    [Op.CREATE]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.create(ctx, num(a, 0), str(a, 1), num(a, 2), num(a, 3)),
        (r) => {
          if (addon.replyCreate(req, r.entry, r.open) < 0) {
            void vfs.release(ctx, r.entry.attr.ino, r.open.fh);
            vfs.forget(r.entry.attr.ino, 1);
          }
        },
      ),
    // Arguments: ino, fh, size, offset.
    [Op.READ]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        // readv: cached blocks go to the kernel as one iovec, without being joined first
        (): Promise<Buffer | Buffer[]> =>
          vfs.readv
            ? vfs.readv(ctx, num(a, 0), num(a, 1), num(a, 3), num(a, 2))
            : vfs.read(ctx, num(a, 0), num(a, 1), num(a, 3), num(a, 2)),
        (data) => {
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
      ),
    // Arguments: ino, fh, data, offset.
    [Op.WRITE]: (op, req, ctx, a) =>
      answer(
        req,
        op,
        () => vfs.write(ctx, num(a, 0), num(a, 1), num(a, 3), a[2] as Buffer),
        (cnt) => addon.replyWrite(req, cnt),
      ),
    [Op.FLUSH]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.flush(ctx, num(a, 0), num(a, 1), a[2] as bigint), ok(req)),
    [Op.RELEASE]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.release(ctx, num(a, 0), num(a, 1), a[2] as bigint | undefined), ok(req)),
    [Op.FSYNC]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.fsync(ctx, num(a, 0), num(a, 1), num(a, 2) !== 0), ok(req)),
    // Directories hold nothing to sync: written metadata is durable when acknowledged.
    [Op.FSYNCDIR]: (_op, req) => {
      addon.replyErr(req, 0);
    },
    [Op.READDIRPLUS]: (op, req, ctx, a) => {
      const [ino, fh, size, cookie] = a as [number, number, number, number];
      const limit = Math.max(1, Math.floor(size / DIRENTPLUS_MIN));
      answer(
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
    },
    [Op.RELEASEDIR]: (op, req, ctx, a) => answer(req, op, () => vfs.releasedir(ctx, num(a, 0), num(a, 1)), ok(req)),
    [Op.FALLOCATE]: (op, req, ctx, a) =>
      answer(req, op, () => vfs.fallocate(ctx, num(a, 0), num(a, 1), num(a, 2), num(a, 3), num(a, 4)), ok(req)),
  };
}
