/**
 * Restart survival: hand a live mount to a successor process.
 *
 * The serving process listens on a unix socket. A successor connects; the server stops reading
 * /dev/fuse, lets every request it already read finish, then sends the descriptor (SCM_RIGHTS)
 * and a JSON payload: the mount point, the kernel's original INIT request (replayed into the
 * successor's libfuse session, since the kernel will not send another) and the VFS state the
 * successor needs (for MemoryVfs: everything, including lookup counts and open handles).
 * Requests the kernel issues meanwhile wait in /dev/fuse and are served by the successor, so
 * applications see a pause, not an error. Blocked lock waits are interrupted (EINTR): locks
 * are not carried over.
 */
import { z } from "zod";
import type { Vfs } from "../vfs/types.js";
import { loadNativeAddon } from "./native.js";
import { type Logger, NativeFuseMount } from "./native-mount.js";
import { FuseMountError, type MountOptions, parseMountOptions } from "./types.js";

const PayloadSchema = z.object({
  version: z.literal(1),
  mountpoint: z.string().min(1),
  init: z.string().min(1, "init: the predecessor's INIT request (base64) is required"),
  state: z.unknown(),
});

function addonOrThrow() {
  const { addon, reason } = loadNativeAddon();
  if (!addon) throw new FuseMountError(`hand-over needs the native binding: ${reason}`);
  return addon;
}

/**
 * Wait for one successor on `socketPath`, then hand `mount` over to it. Resolves once the
 * successor has the descriptor; the caller should then exit without unmounting.
 */
export async function serveHandover(mount: NativeFuseMount, socketPath: string, state: () => unknown): Promise<void> {
  const addon = addonOrThrow();
  const listenFd = addon.listenHandover(socketPath);
  try {
    const conn = await addon.acceptHandover(listenFd);
    try {
      const { fd, init } = await mount.detach();
      const payload = JSON.stringify({
        version: 1,
        mountpoint: mount.mountpoint,
        init: init.toString("base64"),
        state: state(),
      });
      addon.sendFd(conn, fd, Buffer.from(payload));
    } finally {
      addon.closeFd(conn);
    }
    mount.release();
  } finally {
    addon.closeFd(listenFd);
  }
}

/** Take over the mount served by the process listening on `socketPath`. */
export function adoptMount(
  socketPath: string,
  makeVfs: (state: unknown) => Vfs,
  options: MountOptions = {},
  log?: Logger,
): NativeFuseMount {
  const addon = addonOrThrow();
  const { fd, payload } = addon.receiveFd(socketPath);
  const parsed = PayloadSchema.safeParse(JSON.parse(payload.toString()));
  if (!parsed.success) {
    addon.closeFd(fd);
    throw new FuseMountError(`hand-over payload invalid: ${parsed.error.issues[0]?.message}`);
  }
  const { mountpoint, init, state } = parsed.data;
  return NativeFuseMount.adopt(
    addon,
    makeVfs(state),
    mountpoint,
    fd,
    Buffer.from(init, "base64"),
    parseMountOptions(options),
    log,
  );
}
