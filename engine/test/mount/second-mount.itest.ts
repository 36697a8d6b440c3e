/**
 * One embedded metadata service per filespace: a second `filespace mount` of the same store
 * refuses clearly while the first runs; after a clean unmount it mounts at once. Also checks
 * the control-socket commands (stats, cache resize, warm, pin, snapshots, `.snapshots/`).
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupDir, cli, type Filespace, type Mounted, mount, newFilespace, sh } from "./helpers.js";

describe("mount lifecycle and control commands", () => {
  let fs: Filespace;
  let m: Mounted | undefined;

  afterAll(async () => {
    await m?.cleanup();
    if (fs) cleanupDir(fs.dir);
  });

  it("a second mount of the same filespace refuses while the first runs", async () => {
    fs = newFilespace();
    m = await mount(fs);
    const err = await mount(fs, { mnt: join(fs.dir, "mnt2"), cacheDir: join(fs.dir, "cache2") }).then(
      () => "mounted",
      (e: Error) => e.message,
    );
    expect(err).toMatch(/already mounted or served by/);
  }, 120_000);

  it("stats, cache resize, warm, pin and snapshots by mount point", async () => {
    if (!m) throw new Error("no mount");
    await sh("mkdir -p shots && for i in 1 2 3; do head -c 300000 /dev/urandom > shots/f_000$i.bin; done", m.mnt);
    await sh("echo v1 > doc.txt", m.mnt);
    const stats = JSON.parse(await cli(fs, ["stats", m.mnt, "--json"])) as { cache: { diskMaxBytes: number } };
    expect(stats.cache.diskMaxBytes).toBe(1024 ** 3);
    expect(await cli(fs, ["cache", "resize", m.mnt, "2GiB"])).toContain("2 GiB");
    const after = JSON.parse(await cli(fs, ["stats", m.mnt, "--json"])) as { cache: { diskMaxBytes: number } };
    expect(after.cache.diskMaxBytes).toBe(2 * 1024 ** 3);
    expect(await cli(fs, ["warm", join(m.mnt, "shots")])).toContain("warmed 3 files");
    expect(await cli(fs, ["pin", join(m.mnt, "shots")])).toContain("pinned");
    const pinned = JSON.parse(await cli(fs, ["stats", m.mnt, "--json"])) as { pins: string[] };
    expect(pinned.pins).toEqual(["shots"]);
    expect(await cli(fs, ["unpin", join(m.mnt, "shots")])).toContain("unpinned");

    expect(await cli(fs, ["snapshot", "create", "before", m.mnt])).toContain("before");
    await sh("echo v2 > doc.txt && rm shots/f_0001.bin", m.mnt);
    expect(await cli(fs, ["snapshot", "list", m.mnt])).toContain("before");
    // .snapshots is not listed, but reachable; its files are the old versions, read-only.
    expect(await sh("ls -a", m.mnt)).not.toContain(".snapshots");
    expect(await sh("ls .snapshots", m.mnt)).toContain("before");
    expect(await sh("cat .snapshots/before/doc.txt", m.mnt)).toBe("v1\n");
    await sh("cp .snapshots/before/shots/f_0001.bin restored.bin", m.mnt);
    expect(await sh("cmp restored.bin .snapshots/before/shots/f_0001.bin && echo same", m.mnt)).toBe("same\n");
    const ro = await sh("(echo x > .snapshots/before/doc.txt) 2>&1 || true", m.mnt);
    expect(ro).toMatch(/Read-only file system/);
    expect(await cli(fs, ["snapshot", "delete", "before", m.mnt])).toContain("deleted");
  }, 120_000);

  it("after a clean unmount the filespace mounts again at once", async () => {
    if (!m) throw new Error("no mount");
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = await mount(fs, { mnt: join(fs.dir, "mnt2"), cacheDir: join(fs.dir, "cache2") });
    expect(await sh("cat doc.txt", m.mnt)).toBe("v2\n");
  }, 120_000);
});
