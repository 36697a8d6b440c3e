/**
 * Real tools on a real mount at the sizes, results verified by checksum: cp -r and tar x
 * of a nested tree of 3,000+ files, rsync -a, git init/add/commit + fsck + a fresh clone from
 * the mount, sqlite3 (+ integrity_check), fio random read/write with verify, overwrite in the
 * middle of a 1 GiB file, truncate/extend, rename over an open file. Then unmount (drains every
 * upload), mount again with an empty cache and read everything back: the data went through the
 * object store. FILESPACE_BIG_MIB=64 shrinks the big file for a quick local run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PYTHON } from "../fuse/helpers.js";
import { cleanupDir, type Filespace, type Mounted, manifest, mount, newFilespace, sh } from "./helpers.js";

const BIG_MIB = Number(process.env.FILESPACE_BIG_MIB ?? 1024);
// 3,000 small files in 5 × 6 nested directories (sizes 1 B .. 3 KB, a few empty) for cp -r and tar.
const TREE = `
import os, random, sys
random.seed(5)
root = sys.argv[1]
for a in range(5):
    for b in range(6):
        d = os.path.join(root, f"a{a}", f"b{b}")
        os.makedirs(d)
        for f in range(100):
            with open(os.path.join(d, f"f{f:03}.bin"), "wb") as fh:
                fh.write(os.urandom(random.choice([0, 1, 17, 511, 4096]) if f % 10 == 0 else random.randint(1, 3000)))
`;
const have = (tool: string) => {
  try {
    execFileSync("which", [tool], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

describe("real tools on a real mount", () => {
  let fs: Filespace;
  let m: Mounted;
  let src: string;
  const sums: Record<string, string> = {};

  beforeAll(async () => {
    fs = newFilespace();
    src = join(fs.dir, "src");
    mkdirSync(src);
    await sh(`${PYTHON} -c '${TREE}' tree`, src);
    await sh(
      `head -c 3000000 /dev/urandom > tree/large.bin
       ln -s a0/b0/f001.bin tree/link && mkdir tree/empty-dir
       mkdir small && cp -r tree/a0/b0 tree/link small/
       tar cf tree.tar tree && test "$(find tree -type f | wc -l)" -ge 3000`,
      src,
    );
    m = await mount(fs);
  }, 180_000);

  // The steps share one mount: after a failure it may be wedged, and every later step would only
  // wait out its own timeouts (tens of minutes of CI). Skip them instead; the first failure is the news.
  let failed = "";
  beforeEach((ctx) => {
    if (failed) ctx.skip(`skipped: an earlier step failed on this mount (${failed})`);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    failed ||= ctx.task.name;
    // the mount's own log is the first thing to read when a step fails
    if (m) process.stderr.write(`--- mount log:\n${m.stderr()}\n`);
  });

  afterAll(async () => {
    await m?.cleanup();
    if (fs) cleanupDir(fs.dir);
  });

  it("cp -r and tar x of a nested tree of 3,000 files match by checksum", async () => {
    const want = await manifest(join(src, "tree"));
    // tar of the copy right away, while its creates are still landing: tar exits 0 — no "file
    // changed as we read it" (directories keep the times this mount showed; the creates carry
    // them to the service) — and lists every file.
    await sh(`cp -r ${src}/tree copy && tar -cf ${src}/out.tar -C copy .`, m.mnt, 300_000);
    const listed = await sh(`tar tf ${src}/out.tar | grep -c '\\.bin$'`, m.mnt);
    expect(Number(listed.trim())).toBe(3001);
    expect(await manifest(join(m.mnt, "copy"))).toBe(want);
    expect(want.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(3001);
    sums.tree = want;
    sums.small = await manifest(join(src, "small"));
    await sh(`mkdir untar && tar xf ${src}/tree.tar -C untar`, m.mnt, 180_000);
    expect(await manifest(join(m.mnt, "untar/tree"))).toBe(want);
    expect((await sh("readlink untar/tree/link && ls -d untar/tree/empty-dir", m.mnt)).trim()).toBe(
      "a0/b0/f001.bin\nuntar/tree/empty-dir",
    );
  }, 600_000);

  it.skipIf(!have("rsync"))("rsync -a copies and a second run transfers nothing", async () => {
    await sh(`rsync -a ${src}/small/ synced/`, m.mnt);
    expect(await manifest(join(m.mnt, "synced"))).toBe(sums.small);
    const again = await sh(`rsync -a --itemize-changes ${src}/small/ synced/`, m.mnt);
    expect(again.trim()).toBe("");
  });

  it.skipIf(!have("git"))("git init/add/commit and git fsck", async () => {
    await sh(
      `mkdir repo && cd repo && git init -q && cp -r ${src}/tree/a0/b0 d01 && cp -r ${src}/tree/a1/b1 d02 &&
       git add -A && git -c user.email=t@t -c user.name=t commit -qm one &&
       echo change >> d01/f001.bin && git -c user.email=t@t -c user.name=t commit -qam two &&
       git fsck --full --strict 2>&1 && git log --oneline | wc -l`,
      m.mnt,
    );
    expect((await sh("cd repo && git log --oneline | wc -l", m.mnt)).trim()).toBe("2");
    expect((await sh("cd repo && git status --porcelain", m.mnt)).trim()).toBe("");
    // A fresh clone from the mount (off it, onto local disk) has the same files and history.
    const clone = join(fs.dir, "clone");
    await sh(`git clone -q ${m.mnt}/repo ${clone} && cd ${clone} && git fsck --full --strict`, fs.dir);
    expect(await manifest(join(m.mnt, "repo/d01"))).toBe(await manifest(join(clone, "d01")));
    expect(await sh("git log --format=%s", clone)).toBe("two\none\n");
  });

  it.skipIf(!have("sqlite3"))("sqlite3 create/insert/query", async () => {
    const out = await sh(
      `sqlite3 db.sqlite "create table t(id integer primary key, v text);
        with recursive c(x) as (select 1 union all select x+1 from c where x<5000)
        insert into t(v) select hex(randomblob(64)) from c;
        select count(*), sum(length(v)) from t;" &&
       sqlite3 db.sqlite "update t set v='x' where id % 2 = 0; pragma integrity_check; select count(*) from t where v='x';"`,
      m.mnt,
    );
    expect(out.trim().split("\n")).toEqual(["5000|640000", "ok", "2500"]);
  });

  it.skipIf(!have("fio"))("fio random read/write with verify", async () => {
    await sh(
      `fio --name=rw --filename=fio.dat --size=16m --bs=4k --rw=randrw --ioengine=psync --direct=0 \
         --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=1 --numjobs=1 --runtime=30 --output=/dev/null`,
      m.mnt,
      180_000,
    );
  });

  it(`overwrites the middle of a ${BIG_MIB} MiB file, truncates and extends`, async () => {
    const ref = join(fs.dir, "big.ref");
    await sh(`head -c ${BIG_MIB}M /dev/urandom > ${ref} && cp ${ref} big.bin`, m.mnt, 300_000);
    // 3 MB across the chunk boundary in the middle (chunks are 4 MiB): two new extents.
    const off = BIG_MIB * 524288 - 1_500_000 + 12345;
    await sh(`head -c 3000000 /dev/urandom > ${fs.dir}/patch`, m.mnt);
    for (const target of [ref, "big.bin"])
      await sh(`dd if=${fs.dir}/patch of=${target} bs=1M seek=${off} oflag=seek_bytes conv=notrunc status=none`, m.mnt);
    expect((await sh("stat -c %s big.bin", m.mnt)).trim()).toBe(String(BIG_MIB * 1024 * 1024));
    sums.big = await sh(`md5sum < ${ref}`, m.mnt);
    expect(await sh("md5sum < big.bin", m.mnt, 300_000)).toBe(sums.big);
    await sh("head -c 100000 /dev/urandom > t.bin && truncate -s 5000 t.bin && truncate -s 20000 t.bin", m.mnt);
    const t = (await sh("stat -c %s t.bin && tail -c 15000 t.bin | tr -d '\\0' | wc -c", m.mnt)).trim().split("\n");
    expect(t).toEqual(["20000", "0"]);
    sums.t = await sh("md5sum < t.bin", m.mnt);
  }, 600_000);

  it("renames over an open file: the open descriptor keeps reading the old content", async () => {
    const out = await sh(
      `echo old-content > victim && echo new-content > incoming &&
       exec 3< victim && mv incoming victim && cat <&3 && cat victim && exec 3<&-`,
      m.mnt,
    );
    expect(out).toBe("old-content\nnew-content\n");
  });

  it("unmount drains uploads; a fresh mount with an empty cache reads everything back", async () => {
    const before = await manifest(m.mnt);
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    cleanupDir(m.cacheDir);
    m = await mount(fs, { cacheDir: join(fs.dir, "cache2") });
    expect(await manifest(m.mnt)).toBe(before);
    expect(before).toContain("./copy/a4/b5/f099.bin");
    expect(await sh("md5sum < big.bin", m.mnt)).toBe(sums.big);
    expect(
      (await sh("cd repo && git fsck --full 2>&1 && git log --oneline | wc -l", m.mnt)).trim().split("\n").pop(),
    ).toBe("2");
    expect(existsSync(join(m.mnt, "db.sqlite"))).toBe(true);
    expect(readdirSync(m.mnt)).not.toContain(".snapshots");
  }, 600_000);
});
