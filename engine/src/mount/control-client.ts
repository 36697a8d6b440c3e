/**
 * Client side of the control socket (used by `filespace unmount|stats|pin|warm|cache|snapshot`):
 * finds the mount that holds a path by trying the socket of each of its ancestors.
 */
import { existsSync, realpathSync } from "node:fs";
import { connect } from "node:net";
import { dirname, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { ControlAnswer, ControlRequest } from "./control-protocol.js";
import { NotMountedError } from "./errors.js";
import { socketCandidates } from "./socket-path.js";

export interface FoundMount {
  mountpoint: string;
  socket: string;
  /** `path` relative to the mount point ("" = the root). */
  relPath: string;
}

/** The mount that contains `path` (the mount point itself or anything below it). */
export function findMount(path: string): FoundMount {
  const abs = resolve(path);
  const tries = [abs];
  try {
    const real = realpathSync(abs);
    if (real !== abs) tries.push(real);
  } catch {}
  for (const start of tries) {
    let dir = start;
    for (;;) {
      for (const socket of socketCandidates(dir)) {
        if (existsSync(socket)) return { mountpoint: dir, socket, relPath: relative(dir, start) };
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new NotMountedError(`${path}: not inside a running filespace mount (no control socket found)`);
}

/** Sends one request; `onProgress` sees streamed lines; resolves with the final answer. */
export function controlRequest(
  socket: string,
  req: ControlRequest,
  onProgress?: (p: Record<string, unknown>) => void,
): Promise<ControlAnswer> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect(socket);
    let answered = false;
    sock.on("error", (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === "ECONNREFUSED" || (err as NodeJS.ErrnoException).code === "ENOENT"
          ? new NotMountedError(`the mount behind ${socket} is not running`)
          : err,
      ),
    );
    sock.once("connect", () => sock.write(`${JSON.stringify(req)}\n`));
    // readline re-emits the socket's errors; the socket handler above already rejects, and an
    // interface without an 'error' listener would throw them as unhandled (seen after kill -9).
    const lines = createInterface({ input: sock });
    lines.on("error", () => {});
    lines.on("line", (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if ("progress" in msg) onProgress?.(msg.progress as Record<string, unknown>);
      else {
        answered = true;
        resolvePromise(msg as ControlAnswer);
      }
    });
    sock.once("close", () => {
      if (!answered) reject(new Error("the mount closed the control connection without answering"));
    });
  });
}
