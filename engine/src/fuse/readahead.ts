/**
 * Kernel readahead for a FUSE mount. The kernel caps a FUSE mount's readahead at 128 KiB
 * whatever max_readahead the file system asks for, so sequential reads arrive as 128 KiB
 * requests, one at a time; every request costs a hop into JS. Raising the mount's bdi
 * read_ahead_kb to 1 MiB lets the kernel ask for 1 MiB at once (measured: see
 * docs/benchmarks.md "FUSE bindings").
 *
 * The device number comes from /proc/self/mountinfo, never from stat(mountpoint): the serving
 * process must not do I/O on its own mount.
 */
import { readFile, writeFile } from "node:fs/promises";

/** "major:minor" of the file system mounted at `mountpoint`, from mountinfo (last match wins). */
export async function mountDevice(mountpoint: string): Promise<string | undefined> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  let dev: string | undefined;
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f[4] === mountpoint.replace(/ /g, "\\040")) dev = f[2];
  }
  return dev;
}

/** Set read_ahead_kb of the mount's backing device; returns false when not possible. */
export async function setReadAhead(mountpoint: string, kb: number): Promise<boolean> {
  const dev = await mountDevice(mountpoint);
  if (!dev) return false;
  try {
    await writeFile(`/sys/class/bdi/${dev}/read_ahead_kb`, String(kb));
    return true;
  } catch {
    return false; // not root, or sysfs read-only: keep the kernel default
  }
}
