/**
 * How the native dispatcher answers kernel requests: every request is answered exactly once —
 * success through the op's reply, an FsError as its errno (errnoOf, the only place), anything
 * else as EIO plus a log line. Counts the VFS calls in flight so a hand-over can wait for them.
 */
import { errnoOf, isExpectedFsError } from "../vfs/errors.js";
import type { CallerContext, Vfs } from "../vfs/types.js";
import { type NativeAddon, type NativeReq, OpName } from "./native-ops.js";

/** What every op handler works with. */
export interface OpEnv {
  addon: NativeAddon;
  vfs: Vfs;
  attrTimeout: number;
  /** Run `work`, answer with `reply`; errors (also from reply) answer errno. */
  answer<T>(req: NativeReq, op: number, work: () => Promise<T>, reply: (v: T) => void): void;
  /** A reply that only reports success. */
  ok(req: NativeReq): () => void;
}

/** One kernel op: `a` holds the addon's arguments after the caller's uid, gid and pid. */
export type OpHandler = (op: number, req: NativeReq, ctx: CallerContext, a: readonly unknown[]) => void;

/** The addon's argument `i` as the number or string the op's signature says it is. */
export const num = (a: readonly unknown[], i: number) => a[i] as number;
export const str = (a: readonly unknown[], i: number) => a[i] as string;

export function createAnswerer(addon: NativeAddon, log: (message: string, err?: unknown) => void) {
  let inflight = 0;
  let idle: (() => void) | undefined;

  const fail = (req: NativeReq, op: number, err: unknown) => {
    if (!isExpectedFsError(err)) log(`${OpName[op]} failed`, err);
    addon.replyErr(req, errnoOf(err));
  };

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

  return {
    answer,
    ok: (req: NativeReq) => () => {
      addon.replyErr(req, 0);
    },
    /** Resolves when no VFS call is running (used before a hand-over). */
    drained(): Promise<void> {
      if (inflight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idle = () => {
          idle = undefined;
          resolve();
        };
      });
    },
  };
}
