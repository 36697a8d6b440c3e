/**
 * Zero knowledge through a real mount: names, directory names, xattr names and values, symlink
 * targets, file content (text and compressible) and the passphrase go in through the kernel;
 * then the object store (chunks, journal, checkpoints, lease), the disk cache and the write-back
 * log are scanned for every canary in every form (plain, base64 at all alignments, hex, UTF-16,
 * inside anything that inflates). The first scan runs while uploads cannot land (the store's
 * chunks/ directory is made immutable with chattr, which stops root too), so the write-back log
 * provably holds the records being scanned; the second after the uploads drained and unmount.
 */

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { scanForCanaries } from "../helpers/canaries.js";
import { CLI, cleanupDir, cli, type Filespace, type Mounted, mount, newFilespace, sh } from "./helpers.js";

const chattr = (flag: "+i" | "-i", dir: string) => execFileSync("chattr", [flag, dir]);

const tag = randomBytes(4).toString("hex");
const C = {
  passphrase: `CANARY-passphrase-b7e1-${tag}`,
  name: `CANARY-name-61fa0c-${tag}`,
  dirName: `CANARY-dir-2d93-${tag}`,
  xattrName: `CANARY-xattr-name-8c1e-${tag}`,
  xattrValue: `CANARY-xattr-value-f402-${tag}`,
  symlink: `../CANARY-symlink-target-77ad-${tag}`,
  text: `CANARY-content-text-0e5b-${tag}`,
  compressible: `CANARY-content-compressible-93c4-${tag}`,
};
const canaries = Object.values(C);

describe("zero knowledge through a real mount", () => {
  let fs: Filespace;
  let m: Mounted | undefined;

  afterAll(async () => {
    if (fs) chattr("-i", join(fs.storeDir, "chunks"));
    await m?.cleanup();
    if (fs) cleanupDir(fs.dir);
  });

  const scan = async (what: string, dir: string) => {
    const found = await scanForCanaries(dir, canaries, { step: 4096 });
    expect(found, `${what}: ${JSON.stringify(found.slice(0, 5))}`).toEqual([]);
  };

  it("canaries go in through the kernel while uploads cannot land: they wait in the write-back log", async () => {
    fs = newFilespace();
    writeFileSync(fs.passFile, `${C.passphrase}\n`);
    // re-create with the canary passphrase (newFilespace used a fixed one)
    cleanupDir(fs.storeDir);
    await sh(`mkdir -p ${fs.storeDir}`, fs.dir);
    await sh(`node ${CLI} init ${fs.storeUrl} --kdf-n 1024 --passphrase-file ${fs.passFile}`, fs.dir);
    m = await mount(fs);
    mkdirSync(join(fs.storeDir, "chunks"), { recursive: true });
    chattr("+i", join(fs.storeDir, "chunks")); // uploads fail and stay queued in the write-back log
    const py = `
import os, sys
d = os.path.join(sys.argv[1], sys.argv[2]); os.mkdir(d)
p = os.path.join(d, sys.argv[3])
with open(p, "w") as f: f.write(sys.argv[4])
with open(p + ".big", "w") as f: f.write(sys.argv[5] * 20000)
os.setxattr(p, "user." + sys.argv[6], sys.argv[7].encode())
os.symlink(sys.argv[8], os.path.join(d, "link"))
for fd in [os.open(p, os.O_RDONLY)]:
    os.fsync(fd); os.close(fd)
`;
    await sh(
      `python3 -c '${py}' ${m.mnt} ${C.dirName} ${C.name} ${C.text} ${C.compressible} ${C.xattrName} ${C.xattrValue} ${C.symlink}`,
      fs.dir,
    );
    expect(await sh(`cat ${C.dirName}/${C.name}`, m.mnt)).toBe(C.text);
    expect((await sh(`readlink ${C.dirName}/link`, m.mnt)).trim()).toBe(C.symlink);
    const { upload } = JSON.parse(await cli(fs, ["stats", m.mnt, "--json"])) as {
      upload: { backlogBytes: number; uploadedBytes: number };
    };
    expect(upload.backlogBytes).toBeGreaterThanOrEqual(C.compressible.length * 20000);
    expect(upload.uploadedBytes).toBe(0);
    expect(Number((await sh("du -sb writeback | cut -f1", m.cacheDir)).trim())).toBeGreaterThan(upload.backlogBytes);
    await scan("store (mounted, uploads held)", fs.storeDir);
  }, 120_000);

  // The log's record data is sealed at rest (engine/src/data/writeback/segment.ts); its clear
  // header fields (ino, offsets, sizes, mtime) hold no canary.
  it("the queued write-back log and the cache dir hold no canary (content sealed at rest)", async () => {
    if (!m) throw new Error("no mount");
    await scan("cache dir with a queued write-back log (mounted)", m.cacheDir);
  }, 120_000);

  it("after the uploads drain and unmount: no canary in the store, the cache or the write-back log", async () => {
    if (!m) throw new Error("no mount");
    chattr("-i", join(fs.storeDir, "chunks"));
    expect(await m.unmount()).toContain("every upload committed");
    await m.exited;
    m = undefined;
    expect(readdirSync(join(fs.storeDir, "chunks")).length).toBeGreaterThan(0);
    await scan("store", fs.storeDir);
    await scan("cache dir (blocks, metadata cache, write-back log)", join(fs.dir, "cache"));
  }, 180_000);
});
