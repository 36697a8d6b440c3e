/**
 * Lock ops of the native dispatcher: POSIX byte-range locks (getlk/setlk) and flock, and the
 * kernel's INTERRUPT of a blocked lock wait. A waiting request gets an AbortSignal keyed by its
 * request id; an interrupt may arrive before the wait is registered, so such ids are remembered
 * (a bounded set) and abort the wait as soon as it starts.
 */
import type { ByteRangeLock, FlockOp } from "../vfs/types.js";
import { num, type OpEnv, type OpHandler } from "./native-answer.js";
import { F_RDLCK, F_UNLCK, F_WRLCK, LOCK_EX, LOCK_NB, LOCK_SH, Op } from "./native-ops.js";

/** Interrupts remembered for waits not yet registered (a bound against ids that never wait). */
const MAX_EARLY_INTERRUPTS = 1024;

/** The kernel's lock as the VFS sees it (len 0 = to the end of the file). */
function toLock(type: number, start: number, len: number, pid: number): ByteRangeLock {
  return {
    type: type === F_RDLCK ? "read" : type === F_WRLCK ? "write" : "unlock",
    start,
    end: len === 0 ? Number.POSITIVE_INFINITY : start + len - 1,
    pid,
  };
}

export function lockOps(env: OpEnv): { ops: Record<number, OpHandler>; abortWaits(): void } {
  const { addon, vfs, answer, ok } = env;
  const aborts = new Map<number, AbortController>();
  const earlyInterrupts = new Set<number>();

  const lockSignal = (id: number): AbortSignal => {
    const ac = new AbortController();
    if (earlyInterrupts.delete(id)) ac.abort();
    aborts.set(id, ac);
    return ac.signal;
  };

  const ops: Record<number, OpHandler> = {
    [Op.GETLK]: (op, req, ctx, a) => {
      const [ino, fh, owner, type, start, len, lpid] = a as [number, number, bigint, number, number, number, number];
      answer(
        req,
        op,
        () => vfs.getlk(ctx, ino, fh, owner, toLock(type, start, len, lpid)),
        (l) => {
          const t = l.type === "read" ? F_RDLCK : l.type === "write" ? F_WRLCK : F_UNLCK;
          const length = l.end === Number.POSITIVE_INFINITY ? 0 : l.end - l.start + 1;
          addon.replyLock(req, t, l.start, length, l.pid);
        },
      );
    },
    [Op.SETLK]: (op, req, ctx, a) => {
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
      answer(
        req,
        op,
        () =>
          vfs
            .setlk(ctx, ino, fh, owner, toLock(type, start, len, lpid), sleep !== 0, signal)
            .finally(() => aborts.delete(id)),
        ok(req),
      );
    },
    [Op.FLOCK]: (op, req, ctx, a) => {
      const [ino, fh, owner, fop, id] = a as [number, number, bigint, number, number];
      const kind: FlockOp = fop & LOCK_SH ? "shared" : fop & LOCK_EX ? "exclusive" : "unlock";
      const wait = !(fop & LOCK_NB) && kind !== "unlock";
      const signal = wait ? lockSignal(id) : undefined;
      answer(
        req,
        op,
        () => vfs.flock(ctx, ino, fh, owner, kind, wait, signal).finally(() => aborts.delete(id)),
        ok(req),
      );
    },
    // INTERRUPT has no reply of its own: the interrupted request answers (EINTR from the VFS).
    [Op.INTERRUPT]: (_op, _req, _ctx, a) => {
      const id = num(a, 0);
      const ac = aborts.get(id);
      if (ac) ac.abort();
      else if (earlyInterrupts.size < MAX_EARLY_INTERRUPTS) earlyInterrupts.add(id);
    },
  };

  return {
    ops,
    /** Abort blocked lock waits (the successor cannot inherit them). */
    abortWaits(): void {
      for (const ac of aborts.values()) ac.abort();
    },
  };
}
