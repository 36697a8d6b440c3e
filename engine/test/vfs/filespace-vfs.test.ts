/**
 * FilespaceVfs without a kernel: the in-process metadata service over a memory journal, a
 * memory object store and a real DataPath (write-back log in a temp dir). Checks POSIX behaviour
 * through the Vfs interface, that the service only ever sees sealed names, and the snapshot view.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ChunkCodec, Keyring, NameSealer, newChunkId } from "../../src/crypto/index.js";
import { CachedExtentSource } from "../../src/data/extent-cache.js";
import { DataPath, parseDataPathConfig } from "../../src/data/index.js";
import { issueToken } from "../../src/meta/access/token.js";
import { MetaService } from "../../src/meta/service/service.js";
import { MemoryObjectStore } from "../../src/object/memory.js";
import type { FsError } from "../../src/vfs/errors.js";
import { FilespaceVfs } from "../../src/vfs/filespace-vfs.js";
import { MetaCommitSink, MetaExtentSource } from "../../src/vfs/fs-data.js";
import { InodeMap } from "../../src/vfs/fs-inodes.js";
import { NameCodec } from "../../src/vfs/fs-names.js";
import { MetaSession } from "../../src/vfs/fs-session.js";
import { ROOT_INO, S_IFLNK, XATTR_CREATE } from "../../src/vfs/types.js";
import { MemoryJournal } from "../meta/helpers/memory-journal.js";

const ctx = { uid: 1000, gid: 100, pid: 1 };
const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: FsError) => e.code,
  );

interface Rig {
  vfs: FilespaceVfs;
  data: DataPath;
  journal: MemoryJournal;
  service: MetaService;
  session: MetaSession;
  dir: string;
}

async function rig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "fs-vfs-"));
  const key = Buffer.alloc(32, 7);
  const journal = new MemoryJournal();
  const service = new MetaService({ journal, tokenKey: key, schedule: [] });
  const token = issueToken(key, { client: "test", mode: "admin", subtreeRoot: 1 });
  const session = await MetaSession.open(service, token, "test");
  const keyring = Keyring.generate();
  const inodes = new InodeMap();
  const extents = new CachedExtentSource(new MetaExtentSource(session, inodes));
  let vfs: FilespaceVfs | undefined;
  const sink = new MetaCommitSink(session, {
    committed: (v, a) => vfs?.onCommitted(v, a),
    dropped: (v) => vfs?.onCommitted(v, undefined),
  });
  const data = await DataPath.open(
    {
      store: new MemoryObjectStore(),
      codec: new ChunkCodec(keyring),
      extents,
      sink,
      newChunkId,
      logDir: join(dir, "wb"),
    },
    parseDataPathConfig({ memoryCacheBytes: 16 << 20, flushDelayMs: 10 }),
  );
  vfs = new FilespaceVfs({ session, names: new NameCodec(new NameSealer(keyring)), data, extents, inodes });
  return { vfs, data, journal, service, session, dir };
}

async function writeFile(v: FilespaceVfs, parent: number, name: string, text: string) {
  const { entry, open } = await v.create(ctx, parent, name, 0o644, 2);
  await v.write(ctx, entry.attr.ino, open.fh, 0, Buffer.from(text));
  await v.release(ctx, entry.attr.ino, open.fh);
  return entry.attr.ino;
}

async function readFile(v: FilespaceVfs, ino: number) {
  const { fh } = await v.open(ctx, ino, 0);
  const b = await v.read(ctx, ino, fh, 0, 1 << 20);
  await v.release(ctx, ino, fh);
  return b.toString();
}

async function names(v: FilespaceVfs, ino: number) {
  const { fh } = await v.opendir(ctx, ino);
  const list = await v.readdirplus(ctx, ino, fh, 0, 10_000);
  await v.releasedir(ctx, ino, fh);
  return list.map((e) => e.name).filter((n) => n !== "." && n !== "..");
}

describe("FilespaceVfs", () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(async () => {
    await r.data.close();
    await r.session.close();
    await r.service.close();
    rmSync(r.dir, { recursive: true, force: true });
  });

  it("creates, writes, reads back (before and after commit), lists, renames, unlinks", async () => {
    const d = await r.vfs.mkdir(ctx, ROOT_INO, "docs", 0o755);
    expect(d.attr.uid).toBe(1000);
    const ino = await writeFile(r.vfs, d.attr.ino, "a.txt", "hello world");
    expect(await readFile(r.vfs, ino)).toBe("hello world");
    await r.data.flush();
    expect((await r.vfs.getattr(ctx, ino)).size).toBe(11);
    expect(await readFile(r.vfs, ino)).toBe("hello world");
    expect(await names(r.vfs, d.attr.ino)).toEqual(["a.txt"]);
    await r.vfs.rename(ctx, d.attr.ino, "a.txt", ROOT_INO, "b.txt", 0);
    expect(await code(r.vfs.lookup(ctx, d.attr.ino, "a.txt"))).toBe("ENOENT");
    expect((await r.vfs.lookup(ctx, ROOT_INO, "b.txt")).attr.ino).toBe(ino);
    await r.vfs.unlink(ctx, ROOT_INO, "b.txt");
    expect(await code(r.vfs.lookup(ctx, ROOT_INO, "b.txt"))).toBe("ENOENT");
    expect(await code(r.vfs.rmdir(ctx, ROOT_INO, "nope"))).toBe("ENOENT");
  });

  it("truncate and extend are ordered with pending writes", async () => {
    const ino = await writeFile(r.vfs, ROOT_INO, "t", "0123456789");
    await r.vfs.setattr(ctx, ino, { size: 4 });
    await r.vfs.setattr(ctx, ino, { size: 8 });
    expect(await readFile(r.vfs, ino)).toBe("0123\0\0\0\0");
    await r.data.flush();
    expect((await r.vfs.getattr(ctx, ino)).size).toBe(8);
    expect(await readFile(r.vfs, ino)).toBe("0123\0\0\0\0");
  });

  it("symlinks and xattrs round-trip sealed; the service never sees a plaintext name", async () => {
    const ino = await writeFile(r.vfs, ROOT_INO, "secret-name.txt", "x");
    const l = await r.vfs.symlink(ctx, ROOT_INO, "link", "secret-target");
    expect(l.attr.mode & S_IFLNK).toBe(S_IFLNK);
    expect(l.attr.size).toBe("secret-target".length);
    expect(await r.vfs.readlink(ctx, l.attr.ino)).toBe("secret-target");
    await r.vfs.setxattr(ctx, ino, "user.secret-xattr", Buffer.from("secret-value"), XATTR_CREATE);
    expect((await r.vfs.getxattr(ctx, ino, "user.secret-xattr")).toString()).toBe("secret-value");
    expect(await r.vfs.listxattr(ctx, ino)).toEqual(["user.secret-xattr"]);
    expect(await code(r.vfs.setxattr(ctx, ino, "user.secret-xattr", Buffer.from("y"), XATTR_CREATE))).toBe("EEXIST");
    await r.vfs.removexattr(ctx, ino, "user.secret-xattr");
    expect(await code(r.vfs.getxattr(ctx, ino, "user.secret-xattr"))).toBe("ENODATA");
    expect(r.journal.records.length).toBeGreaterThan(3);
    const journal = JSON.stringify(r.journal.records);
    for (const s of ["secret-name", "secret-target", "secret-xattr", "secret-value"]) {
      expect(journal).not.toContain(s);
      expect(journal).not.toContain(Buffer.from(s).toString("base64").slice(0, 12));
    }
  });

  it("serves .snapshots/<name>/ read-only and hidden from the root listing", async () => {
    const ino = await writeFile(r.vfs, ROOT_INO, "f", "v1");
    await r.data.flush();
    await r.service.createSnapshot(r.session.ctx, { requestId: "snap-1", name: "s1" });
    const { fh } = await r.vfs.open(ctx, ino, 2 | 0o1000);
    await r.vfs.write(ctx, ino, fh, 0, Buffer.from("v2!"));
    await r.vfs.release(ctx, ino, fh);
    expect(await readFile(r.vfs, ino)).toBe("v2!");
    expect(await names(r.vfs, ROOT_INO)).toEqual(["f"]);
    const snaps = await r.vfs.lookup(ctx, ROOT_INO, ".snapshots");
    expect(await names(r.vfs, snaps.attr.ino)).toEqual(["s1"]);
    const s1 = await r.vfs.lookup(ctx, snaps.attr.ino, "s1");
    const old = await r.vfs.lookup(ctx, s1.attr.ino, "f");
    expect(old.attr.ino).not.toBe(ino);
    expect(await readFile(r.vfs, old.attr.ino)).toBe("v1");
    expect(await code(r.vfs.open(ctx, old.attr.ino, 2))).toBe("EROFS");
    expect(await code(r.vfs.create(ctx, s1.attr.ino, "new", 0o644, 2))).toBe("EROFS");
    expect(await code(r.vfs.lookup(ctx, snaps.attr.ino, "nope"))).toBe("ENOENT");
    expect(await code(r.vfs.mkdir(ctx, ROOT_INO, ".snapshots", 0o755))).toBe("EEXIST");
  });

  it("an unlinked file stays readable through a descriptor opened before", async () => {
    const ino = await writeFile(r.vfs, ROOT_INO, "victim", "old");
    await r.data.flush();
    const { fh } = await r.vfs.open(ctx, ino, 0);
    await writeFile(r.vfs, ROOT_INO, "incoming", "new");
    await r.vfs.rename(ctx, ROOT_INO, "incoming", ROOT_INO, "victim", 0);
    expect((await r.vfs.read(ctx, ino, fh, 0, 100)).toString()).toBe("old");
    await r.vfs.release(ctx, ino, fh);
    expect(await readFile(r.vfs, (await r.vfs.lookup(ctx, ROOT_INO, "victim")).attr.ino)).toBe("new");
  });

  it("predicts the next frames of a numbered sequence", async () => {
    for (const n of ["0001", "0002", "0003"]) await writeFile(r.vfs, ROOT_INO, `shot_${n}.exr`, `frame${n}`);
    const first = await r.vfs.lookup(ctx, ROOT_INO, "shot_0001.exr");
    const next = await r.vfs.predictNext(first.attr.ino, 4);
    expect(next.length).toBe(2);
    expect(next[0]?.ino).toBe((await r.vfs.lookup(ctx, ROOT_INO, "shot_0002.exr")).attr.ino);
  });
});
