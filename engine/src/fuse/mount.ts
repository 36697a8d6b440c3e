/** Mount a Vfs with the best available binding (native libfuse3 addon, else fuse-native). */
import type { Vfs } from "../vfs/types.js";
import { FuseNativeMount } from "./fuse-native-mount.js";
import { loadFuseNative, loadNativeAddon } from "./native.js";
import { type Logger, NativeFuseMount } from "./native-mount.js";
import { setReadAhead } from "./readahead.js";
import { type FuseMount, FuseMountError, type MountOptions, parseMountOptions } from "./types.js";

const defaultLog: Logger = (m, err) => console.error(`[fuse] ${m}`, err ?? "");

/**
 * Mount `vfs` at `mountpoint`. Must run in a process that does no I/O on this mount itself
 * (a process doing I/O on a mount it serves deadlocks).
 */
export async function mountVfs(
  vfs: Vfs,
  mountpoint: string,
  options: MountOptions = {},
  log: Logger = defaultLog,
): Promise<FuseMount> {
  const opts = parseMountOptions(options);
  const mounted = async (m: FuseMount) => {
    if (opts.readAheadKb > 0 && !(await setReadAhead(mountpoint, opts.readAheadKb))) {
      log(`could not set read_ahead_kb=${opts.readAheadKb} for ${mountpoint}; kernel default kept`);
    }
    return m;
  };
  if (opts.binding !== "fuse-native") {
    const { addon, reason } = loadNativeAddon();
    if (addon) return mounted(NativeFuseMount.mount(addon, vfs, mountpoint, opts, log));
    if (opts.binding === "native") throw new FuseMountError(reason ?? "native binding unavailable");
    log(`${reason}; falling back to fuse-native`);
  }
  const { Fuse, reason } = loadFuseNative();
  if (!Fuse) throw new FuseMountError(reason ?? "fuse-native unavailable");
  return mounted(await FuseNativeMount.mount(Fuse, vfs, mountpoint, opts, log));
}
