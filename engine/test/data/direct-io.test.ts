import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  allocAligned,
  DIRECT_ALIGN,
  directCapacity,
  directIoStats,
  readFileRange,
  writeFileAtomically,
  writeWholeFile,
} from "../../src/data/direct-io.js";
import { ioAddon } from "../../src/platform/io-addon.js";
import { pattern } from "./helpers.js";

const dirs: string[] = [];
function dirIn(parent: string): string {
  const d = mkdtempSync(path.join(parent, "direct-io-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const snapshot = () => ({ ...directIoStats });
const delta = (before: typeof directIoStats) =>
  Object.fromEntries(Object.entries(directIoStats).map(([k, v]) => [k, v - before[k as keyof typeof before]]));

describe("direct I/O for cache files", () => {
  it("writes and reads odd sizes and odd ranges around the page cache, byte-exact", async () => {
    const dir = dirIn(tmpdir()); // ext4 here: O_DIRECT works
    const before = snapshot();
    for (const size of [1, 4095, 4096, 65_570 * 3, 1_000_003]) {
      const data = pattern(size, size);
      const buf = allocAligned(directCapacity(size));
      data.copy(buf);
      const file = path.join(dir, `f${size}`);
      await writeWholeFile(file, buf.subarray(0, size));
      expect(statSync(file).size).toBe(size); // padded write, then truncated back
      expect(readFileSync(file).equals(data)).toBe(true);
      for (const [off, len] of [
        [0, size],
        [size >> 1, size - (size >> 1)],
        [Math.min(size - 1, 4097), 1],
      ] as const) {
        const into = allocAligned(directCapacity(len));
        const got = await readFileRange(file, off, into, len);
        expect(got.equals(data.subarray(off, off + len))).toBe(true);
      }
      // Past the end: a short view, never garbage.
      const tail = await readFileRange(file, size - 1, allocAligned(directCapacity(100)), 100);
      expect(tail.equals(data.subarray(size - 1))).toBe(true);
    }
    // the disk cache's way: tmp file, then renamed into place (one native job)
    for (const size of [1, 4096, 1_000_003]) {
      const buf = allocAligned(directCapacity(size));
      pattern(size, size + 1).copy(buf);
      const [tmp, file] = [path.join(dir, `t${size}`), path.join(dir, `r${size}`)];
      await writeFileAtomically(tmp, file, buf.subarray(0, size));
      expect(existsSync(tmp)).toBe(false);
      expect(readFileSync(file).equals(pattern(size, size + 1))).toBe(true);
    }
    const d = delta(before);
    expect(d.directWrites).toBe(8);
    expect(d.bufferedWrites).toBe(0);
    expect(d.directReads).toBe(20);
    expect(d.bufferedReads).toBe(0);
  });

  it("aligned buffers are aligned, shared ones too", () => {
    for (const shared of [false, true]) {
      const b = allocAligned(3 * DIRECT_ALIGN + 5, shared);
      expect(b.length).toBe(3 * DIRECT_ALIGN + 5);
      expect(b.buffer instanceof SharedArrayBuffer).toBe(shared);
    }
  });

  it("buffers of 2 MiB or more start on a huge-page boundary and ask for huge pages", () => {
    const io = ioAddon();
    if (!io) return; // no addon: plain buffers, nothing to check
    let thp = ""; // no such file: a kernel without transparent huge pages
    try {
      thp = readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8");
    } catch {}
    for (const shared of [false, true]) {
      const b = allocAligned(5 * 1024 * 1024, shared);
      expect(io.addressModulo(b, 2 * 1024 * 1024)).toBe(0);
      // asked again on the same range: accepted wherever huge pages are on
      const advised = io.adviseHugePages!(b);
      if (/\[(madvise|always)\]/.test(thp)) expect(advised).toBe(true);
    }
  });

  it("falls back to buffered I/O for unaligned buffers", async () => {
    const dir = dirIn(tmpdir());
    const data = pattern(10_000, 7);
    const before = snapshot();
    // An unaligned view: buffered, same bytes.
    const unaligned = allocAligned(directCapacity(10_001)).subarray(1);
    data.copy(unaligned);
    await writeWholeFile(path.join(dir, "u"), unaligned.subarray(0, data.length));
    expect(readFileSync(path.join(dir, "u")).equals(data)).toBe(true);
    await writeFileAtomically(path.join(dir, "t"), path.join(dir, "v"), unaligned.subarray(0, data.length));
    expect(readFileSync(path.join(dir, "v")).equals(data)).toBe(true);
    const got = await readFileRange(path.join(dir, "u"), 3, Buffer.alloc(20_000), 5000);
    expect(got.equals(data.subarray(3, 5003))).toBe(true);
    expect(delta(before)).toMatchObject({ directWrites: 0, bufferedWrites: 2, directReads: 0, bufferedReads: 1 });
  });

  it("a failed atomic write rejects like fs does (code, path) and leaves nothing behind", async () => {
    const dir = dirIn(tmpdir());
    const buf = allocAligned(directCapacity(5000));
    const missing = path.join(dir, "no-such-dir", "tmp");
    await expect(writeFileAtomically(missing, path.join(dir, "x"), buf.subarray(0, 5000))).rejects.toMatchObject({
      code: "ENOENT",
      path: missing,
    });
    expect(existsSync(path.join(dir, "x"))).toBe(false);
  });

  // ramfs has no direct I/O: open(O_DIRECT) fails with EINVAL (tmpfs accepts it since Linux 6.6).
  it.skipIf(!canMountRamfs())("a file system that refuses O_DIRECT: buffered from then on, byte-exact", async () => {
    const dir = dirIn(tmpdir());
    execFileSync("mount", ["-t", "ramfs", "-o", "size=64m", "none", dir]);
    try {
      const size = 200_001;
      const data = pattern(size, 9);
      const buf = allocAligned(directCapacity(size));
      data.copy(buf);
      const before = snapshot();
      // atomic writes first, in a directory of their own: their EINVAL fallback is exercised
      mkdirSync(path.join(dir, "w"));
      for (const name of ["a", "b"])
        await writeFileAtomically(path.join(dir, "w", `${name}.tmp`), path.join(dir, "w", name), buf.subarray(0, size));
      for (const name of ["a", "b"]) expect(readFileSync(path.join(dir, "w", name)).equals(data)).toBe(true);
      for (const name of ["a", "b"]) await writeWholeFile(path.join(dir, name), buf.subarray(0, size));
      const into = allocAligned(directCapacity(70_000));
      const got = await readFileRange(path.join(dir, "b"), 65_537, into, 70_000);
      expect(got.equals(data.subarray(65_537, 65_537 + 70_000))).toBe(true);
      expect(readFileSync(path.join(dir, "a")).equals(data)).toBe(true);
      expect(delta(before)).toEqual({ directWrites: 0, bufferedWrites: 4, directReads: 0, bufferedReads: 1 });
    } finally {
      execFileSync("umount", [dir]);
    }
  });
});

/** Root on Linux with ramfs available (CI runs as root; elsewhere the test is skipped). */
function canMountRamfs(): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  return readFileSync("/proc/filesystems", "utf8").includes("ramfs");
}
