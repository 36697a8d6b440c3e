import { describe, expect, it } from "vitest";
import { errnoOf, FsError } from "../../src/vfs/errors.js";
import { MemoryVfs } from "../../src/vfs/memory.js";
import {
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  ROOT_INO,
  S_IFREG,
  XATTR_CREATE,
  XATTR_REPLACE,
} from "../../src/vfs/types.js";

const ctx = { uid: 1000, gid: 100, pid: 1 };
const root = ROOT_INO;

async function file(v: MemoryVfs, name: string, text: string, parent = root) {
  const { entry, open } = await v.create(ctx, parent, name, 0o644, 2);
  await v.write(ctx, entry.attr.ino, open.fh, 0, Buffer.from(text));
  await v.release(ctx, entry.attr.ino, open.fh);
  return entry.attr.ino;
}
async function readAll(v: MemoryVfs, ino: number) {
  const { fh } = await v.open(ctx, ino, 0);
  const b = await v.read(ctx, ino, fh, 0, 1 << 20);
  await v.release(ctx, ino, fh);
  return b.toString();
}
const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: FsError) => e.code,
  );

describe("MemoryVfs", () => {
  it("creates with the caller's uid/gid and looks names up", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "hello");
    const e = await v.lookup(ctx, root, "a");
    expect(e.attr).toMatchObject({ ino, uid: 1000, gid: 100, size: 5, nlink: 1, mode: S_IFREG | 0o644 });
    expect(await code(v.lookup(ctx, root, "b"))).toBe("ENOENT");
    expect(await code(v.mkdir(ctx, root, "a", 0o755))).toBe("EEXIST");
    expect(await code(v.lookup(ctx, root, "x".repeat(256)))).toBe("ENOENT");
    expect(await code(v.mkdir(ctx, root, "x".repeat(256), 0o755))).toBe("ENAMETOOLONG");
  });

  it("counts hard links and keeps data shared", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "one");
    await v.link(ctx, ino, root, "b");
    expect((await v.getattr(ctx, ino)).nlink).toBe(2);
    await v.unlink(ctx, root, "a");
    expect(await readAll(v, (await v.lookup(ctx, root, "b")).attr.ino)).toBe("one");
    const d = await v.mkdir(ctx, root, "d", 0o755);
    expect(await code(v.link(ctx, d.attr.ino, root, "d2"))).toBe("EPERM");
  });

  it("keeps an unlinked inode while it is open or looked up, then frees it", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "data");
    const e = await v.lookup(ctx, root, "a"); // kernel reference
    const { fh } = await v.open(ctx, ino, 0);
    await v.unlink(ctx, root, "a");
    expect((await v.read(ctx, ino, fh, 0, 10)).toString()).toBe("data");
    await v.release(ctx, ino, fh);
    expect((await v.getattr(ctx, ino)).nlink).toBe(0); // still referenced by lookups
    v.forget(e.attr.ino, 2); // create + lookup
    expect(await code(v.getattr(ctx, ino))).toBe("ESTALE");
  });

  it("renames with replace, NOREPLACE and EXCHANGE", async () => {
    const v = new MemoryVfs();
    await file(v, "a", "A");
    await file(v, "b", "B");
    expect(await code(v.rename(ctx, root, "a", root, "b", RENAME_NOREPLACE))).toBe("EEXIST");
    await v.rename(ctx, root, "a", root, "b", RENAME_EXCHANGE);
    expect(await readAll(v, (await v.lookup(ctx, root, "a")).attr.ino)).toBe("B");
    await v.rename(ctx, root, "a", root, "b", 0);
    expect(await readAll(v, (await v.lookup(ctx, root, "b")).attr.ino)).toBe("B");
    expect(await code(v.lookup(ctx, root, "a"))).toBe("ENOENT");
    const d = await v.mkdir(ctx, root, "d", 0o755);
    await v.mkdir(ctx, d.attr.ino, "inner", 0o755);
    const e = await v.mkdir(ctx, root, "e", 0o755);
    expect(await code(v.rename(ctx, root, "e", root, "d", 0))).toBe("ENOTEMPTY");
    expect(await code(v.rename(ctx, root, "b", root, "e", 0))).toBe("EISDIR");
    expect(await code(v.rename(ctx, root, "e", root, "b", 0))).toBe("ENOTDIR");
    await v.rename(ctx, d.attr.ino, "inner", e.attr.ino, "moved", 0);
    expect((await v.getattr(ctx, d.attr.ino)).nlink).toBe(2);
    expect((await v.getattr(ctx, e.attr.ino)).nlink).toBe(3);
    expect((await v.lookup(ctx, (await v.lookup(ctx, e.attr.ino, "moved")).attr.ino, "..")).attr.ino).toBe(e.attr.ino);
  });

  it("pages readdirplus by cookie, stable under deletion", async () => {
    const v = new MemoryVfs();
    for (let i = 0; i < 10; i++) await file(v, `f${i}`, "");
    const { fh } = await v.opendir(ctx, root);
    const first = await v.readdirplus(ctx, root, fh, 0, 5);
    expect(first.map((e) => e.name)).toEqual([".", "..", "f0", "f1", "f2"]);
    await v.unlink(ctx, root, "f3");
    const rest = await v.readdirplus(ctx, root, fh, first[4]?.cookie ?? 0, 100);
    expect(rest.map((e) => e.name)).toEqual(["f4", "f5", "f6", "f7", "f8", "f9"]);
    expect(await v.readdirplus(ctx, root, fh, rest[5]?.cookie ?? 0, 100)).toEqual([]);
  });

  it("handles xattr create/replace flags", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "");
    expect(await code(v.setxattr(ctx, ino, "user.x", Buffer.from("1"), XATTR_REPLACE))).toBe("ENODATA");
    await v.setxattr(ctx, ino, "user.x", Buffer.from("1"), XATTR_CREATE);
    expect(await code(v.setxattr(ctx, ino, "user.x", Buffer.from("2"), XATTR_CREATE))).toBe("EEXIST");
    expect(await v.listxattr(ctx, ino)).toEqual(["user.x"]);
    await v.removexattr(ctx, ino, "user.x");
    expect(await code(v.getxattr(ctx, ino, "user.x"))).toBe("ENODATA");
  });

  it("truncates, extends sparse files and releases POSIX locks on flush", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "hello world");
    await v.setattr(ctx, ino, { size: 5 });
    await v.setattr(ctx, ino, { size: 7 });
    expect(await readAll(v, ino)).toBe("hello\0\0");
    const { fh } = await v.open(ctx, ino, 2);
    await v.setlk(ctx, ino, fh, 9n, { type: "write", start: 0, end: 10, pid: 1 }, false);
    expect((await v.getlk(ctx, ino, fh, 8n, { type: "read", start: 5, end: 5, pid: 2 })).type).toBe("write");
    await v.flush(ctx, ino, fh, 9n);
    expect((await v.getlk(ctx, ino, fh, 8n, { type: "read", start: 5, end: 5, pid: 2 })).type).toBe("unlock");
  });

  it("carries its whole state through snapshot/fromSnapshot", async () => {
    const v = new MemoryVfs();
    const ino = await file(v, "a", "persisted");
    const { fh } = await v.open(ctx, ino, 0);
    await v.setxattr(ctx, ino, "user.k", Buffer.from("v"), 0);
    const w = MemoryVfs.fromSnapshot(JSON.parse(JSON.stringify(v.snapshot())));
    expect((await w.read(ctx, ino, fh, 0, 100)).toString()).toBe("persisted");
    expect((await w.getxattr(ctx, ino, "user.k")).toString()).toBe("v");
    expect((await w.create(ctx, root, "b", 0o644, 0)).entry.attr.ino).toBeGreaterThan(ino);
  });

  it("maps errors to errno in one place", () => {
    expect(errnoOf(new FsError("ENOENT"))).toBe(2);
    expect(errnoOf(new FsError("ENODATA"))).toBe(61);
    expect(errnoOf(new FsError("EWOULDBLOCK"))).toBe(11);
    expect(errnoOf(new Error("bug"))).toBe(5);
  });
});
