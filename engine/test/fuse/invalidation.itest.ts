/**
 * Kernel cache invalidation (native only; fuse-native has none): content and names changed
 * behind the kernel's back stay invisible while cached (keep_cache, 60 s timeouts) and become
 * visible to another process right after invalidateInode / invalidateEntry.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupDir, NATIVE_BUILT, type Server, startServer } from "./helpers.js";

const cat = (p: string) => execFileSync("cat", [p], { encoding: "utf8" });

describe.skipIf(!NATIVE_BUILT)("kernel cache invalidation (native binding)", () => {
  let srv: Server;
  beforeAll(async () => {
    srv = await startServer({ binding: "native", args: ["--keep-cache", "--cache-seconds", "60"] });
  });
  afterAll(async () => {
    await srv?.stop();
    if (srv) cleanupDir(srv.dir);
  });

  it("invalidateInode makes changed content visible", async () => {
    const f = join(srv.mnt, "f");
    writeFileSync(f, "AAAA");
    // Read twice: the first read after a write refreshes attributes (auto_inval_data may drop
    // pages then); after the second the page cache and attributes are settled.
    expect(cat(f)).toBe("AAAA");
    expect(cat(f)).toBe("AAAA");
    expect(await srv.send({ cmd: "write", path: "/f", data: "BBBB" })).toEqual({ ok: true });
    expect(cat(f)).toBe("AAAA"); // still the kernel's cached pages
    expect(await srv.send({ cmd: "invalidate-inode", path: "/f" })).toEqual({ ok: true });
    expect(cat(f)).toBe("BBBB");
  });

  it("invalidateEntry makes a renamed name disappear", async () => {
    writeFileSync(join(srv.mnt, "e1"), "e");
    const stat = (n: string) => spawnSync("stat", ["-c", "%i", join(srv.mnt, n)]).status;
    expect(stat("e1")).toBe(0);
    expect(await srv.send({ cmd: "rename", from: "/e1", to: "/e2" })).toEqual({ ok: true });
    expect(stat("e1")).toBe(0); // cached dentry
    expect(await srv.send({ cmd: "invalidate-entry", dir: "/", name: "e1" })).toEqual({ ok: true });
    expect(stat("e1")).not.toBe(0);
    expect(cat(join(srv.mnt, "e2"))).toBe("e");
  });

  // The reader threads answer getxattr of an inode whose attributes said "no xattrs" themselves
  // (xattr-memo.cc), for as long as the kernel keeps those attributes — like the attributes.
  it("answers absent xattrs natively while the attributes live, and forgets on change", async () => {
    const f = join(srv.mnt, "x1");
    writeFileSync(f, "x");
    const xattr = (p: string, name: string) =>
      spawnSync(
        "python3",
        [
          "-c",
          `import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2]).decode())\nexcept OSError as e: print(e.errno)`,
          p,
          name,
        ],
        {
          encoding: "utf8",
        },
      ).stdout.trim();
    expect(xattr(f, "user.k")).toBe("61"); // ENODATA, and now remembered
    expect(await srv.send({ cmd: "setxattr", path: "/x1", name: "user.k", value: "behind" })).toEqual({ ok: true });
    expect(xattr(f, "user.k")).toBe("61"); // the VFS was not asked: the memo answered
    expect(await srv.send({ cmd: "invalidate-inode", path: "/x1" })).toEqual({ ok: true });
    expect(xattr(f, "user.k")).toBe("behind");

    const g = join(srv.mnt, "x2");
    writeFileSync(g, "x");
    expect(xattr(g, "user.k")).toBe("61");
    execFileSync("python3", ["-c", "import os,sys; os.setxattr(sys.argv[1], 'user.k', b'mine')", g]);
    expect(xattr(g, "user.k")).toBe("mine"); // a setxattr through the mount drops the memo first
  });
});
