/**
 * Maps kernel requests from the libfuse3 addon onto the Vfs. The adapter is thin on purpose:
 * call the VFS method, send the reply, or map the thrown error to errno (native-answer.ts).
 * The op table is put together from three groups: namespace and attributes
 * (native-namespace-ops.ts), open handles and data (native-handle-ops.ts), locks
 * (native-lock-ops.ts). An op code without a handler is answered ENOSYS.
 */
import { constants } from "node:os";
import type { CallerContext, Vfs } from "../vfs/types.js";
import { createAnswerer, type OpHandler } from "./native-answer.js";
import { handleOps } from "./native-handle-ops.js";
import { lockOps } from "./native-lock-ops.js";
import { namespaceOps } from "./native-namespace-ops.js";
import { type NativeAddon, type NativeReq, Op } from "./native-ops.js";

export interface DispatchHooks {
  onClosed(): void;
  log(message: string, err?: unknown): void;
}

export function createDispatcher(addon: NativeAddon, vfs: Vfs, attrTimeout: number, hooks: DispatchHooks) {
  const answerer = createAnswerer(addon, hooks.log);
  const env = { addon, vfs, attrTimeout, answer: answerer.answer, ok: answerer.ok };
  const locks = lockOps(env);
  const table: Record<number, OpHandler> = {
    ...namespaceOps(env),
    ...handleOps(env),
    ...locks.ops,
    // The session ended (unmounted, or the kernel closed /dev/fuse); there is no request.
    [Op.CLOSED]: () => hooks.onClosed(),
  };

  /** The addon's callback: op code, request, caller's uid/gid/pid, then the op's arguments. */
  function dispatch(op: number, req: NativeReq, uid: number, gid: number, pid: number, ...a: unknown[]) {
    const handler = table[op];
    if (handler) {
      const ctx: CallerContext = { uid, gid, pid };
      return handler(op, req, ctx, a);
    }
    if (req) addon.replyErr(req, constants.errno.ENOSYS);
  }

  return {
    dispatch,
    /** Resolves when no VFS call is running (used before a hand-over). */
    drained: answerer.drained,
    /** Abort blocked lock waits (the successor cannot inherit them). */
    abortWaits: locks.abortWaits,
  };
}
