/**
 * The namespace conformance suite: POSIX semantics of every MetaApi operation, errors
 * included. Run it against any implementation:
 *
 *   describeMetaConformance("in-process", async () => inProcessFixture());
 *
 * The gRPC team runs the same body against their server + client. Error codes are compared
 * by `code` (MetaError code), so a transport must carry the code through unchanged.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CallContext, PROTOCOL_VERSION, ROOT_INO } from "../../src/meta/api.js";
import { codeOf, TestClient } from "./helpers/client.js";
import type { MetaFixture } from "./helpers/fixture.js";

export function describeMetaConformance(name: string, factory: () => Promise<MetaFixture>): void {
  describe(`MetaApi conformance: ${name}`, () => {
    let fx: MetaFixture;
    let admin: TestClient;
    let c: TestClient;
    let sessionCtx: CallContext;

    beforeEach(async () => {
      fx = await factory();
      admin = new TestClient(fx.api, { token: fx.issue({ client: "admin", mode: "admin", subtreeRoot: ROOT_INO }) });
      const rwToken = fx.issue({ client: "alice", mode: "rw", subtreeRoot: ROOT_INO });
      const s = await fx.api.openSession({ token: rwToken }, { requestId: "open-1", clientName: "test" });
      sessionCtx = { token: rwToken, sessionId: s.sessionId };
      c = new TestClient(fx.api, sessionCtx);
    });
    afterEach(async () => fx.close());

    describe("negotiation and access", () => {
      it("negotiates the highest common protocol version", async () => {
        const r = await fx.api.hello(c.ctx, { protocolVersions: [PROTOCOL_VERSION, PROTOCOL_VERSION + 7] });
        expect(r.protocolVersion).toBe(PROTOCOL_VERSION);
        expect(r.access).toEqual({ client: "alice", mode: "rw", subtreeRoot: ROOT_INO });
        expect(await codeOf(fx.api.hello(c.ctx, { protocolVersions: [999] }))).toBe("UNSUPPORTED_PROTOCOL");
      });

      it("refuses forged, malformed and missing tokens", async () => {
        const good = c.ctx.token;
        const forged = `${good.slice(0, -4)}AAAA`;
        expect(await codeOf(fx.api.version({ token: forged }))).toBe("UNAUTHENTICATED");
        expect(await codeOf(fx.api.version({ token: "nonsense" }))).toBe("UNAUTHENTICATED");
        expect(await codeOf(fx.api.version({ token: "" }))).toBe("UNAUTHENTICATED");
      });

      it("validates requests and names the field", async () => {
        const err = await fx.api
          .mkdir(c.ctx, {
            requestId: c.rid(),
            parent: ROOT_INO,
            name: { token: Buffer.alloc(3), sealed: Buffer.from("x") },
            mode: 0o755,
            uid: 0,
            gid: 0,
          })
          .catch((e: Error & { code: string }) => e);
        expect((err as { code: string }).code).toBe("EINVAL");
        expect((err as Error).message).toContain("name.token");
      });

      it("a read-only token can read but not mutate", async () => {
        const d = await c.mkdir(ROOT_INO, "docs");
        const ro = new TestClient(fx.api, { token: fx.issue({ client: "bob", mode: "ro", subtreeRoot: ROOT_INO }) });
        expect((await ro.lookup(ROOT_INO, "docs")).ino).toBe(d.ino);
        expect(await codeOf(ro.mkdir(ROOT_INO, "x"))).toBe("EROFS");
        expect(await codeOf(ro.create(d.ino, "f"))).toBe("EROFS");
        expect(await codeOf(ro.rmdir(ROOT_INO, "docs"))).toBe("EROFS");
        expect(await codeOf(ro.rename(ROOT_INO, "docs", ROOT_INO, "d2"))).toBe("EROFS");
        expect(await codeOf(fx.api.setattr(ro.ctx, { requestId: "r", ino: d.ino, mode: 0o700 }))).toBe("EROFS");
        expect(await c.names(ROOT_INO)).toEqual(["docs"]);
      });

      it("a subtree token sees its root as / and nothing outside", async () => {
        const home = await c.mkdir(ROOT_INO, "home");
        const secret = await c.create(ROOT_INO, "secret");
        const f = await c.create(home.ino, "mine");
        const sub = new TestClient(fx.api, { token: fx.issue({ client: "carol", mode: "rw", subtreeRoot: home.ino }) });
        sub.scopes.set(ROOT_INO, home.ino);
        const root = await sub.getattr(ROOT_INO);
        expect(root.ino).toBe(ROOT_INO);
        expect(root.type).toBe("dir");
        expect(await sub.names(ROOT_INO)).toEqual(["mine"]);
        expect((await sub.lookup(ROOT_INO, "mine")).ino).toBe(f.ino);
        expect(await codeOf(sub.getattr(secret.ino))).toBe("ENOENT");
        expect(await codeOf(sub.getattr(home.ino + 1000))).toBe("ENOENT");
        expect(await codeOf(fx.api.setattr(sub.ctx, { requestId: "x", ino: secret.ino, mode: 0 }))).toBe("ENOENT");
        // Cannot move things out of (or link into) the outside world either.
        sub.scopes.set(secret.ino, secret.ino);
        expect(await codeOf(sub.link(secret.ino, ROOT_INO, "stolen"))).toBe("ENOENT");
        await sub.mkdir(ROOT_INO, "made-inside");
        expect(await c.names(home.ino)).toEqual(["made-inside", "mine"]);
      });

      it("a read-only token may open for reading but not for writing", async () => {
        const f = await c.create(ROOT_INO, "f");
        const roToken = fx.issue({ client: "reader", mode: "ro", subtreeRoot: ROOT_INO });
        const s = await fx.api.openSession({ token: roToken }, { requestId: "ro-s" });
        const ro = { token: roToken, sessionId: s.sessionId };
        const h = await fx.api.open(ro, { requestId: "o1", ino: f.ino });
        await fx.api.release(ro, { requestId: "r1", handle: h.handle });
        expect(await codeOf(fx.api.open(ro, { requestId: "o2", ino: f.ino, write: true }))).toBe("EROFS");
        expect(
          await codeOf(fx.api.commitWrite(ro, { requestId: "w", ino: f.ino, extents: [], newSize: 1, mtime: 1 })),
        ).toBe("EROFS");
      });

      it("a session belongs to the client that opened it", async () => {
        const other = {
          token: fx.issue({ client: "mallory", mode: "rw", subtreeRoot: ROOT_INO }),
          sessionId: c.ctx.sessionId!,
        };
        expect(await codeOf(fx.api.heartbeat(other))).toBe("STALE_SESSION");
        const f = await c.create(ROOT_INO, "f");
        expect(await codeOf(fx.api.open(other, { requestId: "x", ino: f.ino }))).toBe("STALE_SESSION");
      });

      it("a subtree token reads snapshots only inside its subtree", async () => {
        const home = await c.mkdir(ROOT_INO, "home");
        await c.create(home.ino, "kept");
        const secret = await c.create(ROOT_INO, "secret");
        await fx.api.createSnapshot(admin.ctx, { requestId: c.rid(), name: "snap" });
        const sub = new TestClient(fx.api, { token: fx.issue({ client: "carol", mode: "ro", subtreeRoot: home.ino }) });
        sub.scopes.set(ROOT_INO, home.ino);
        expect(await sub.names(ROOT_INO, "snap")).toEqual(["kept"]);
        expect((await sub.getattr(ROOT_INO, "snap")).ino).toBe(ROOT_INO);
        expect(await codeOf(sub.getattr(secret.ino, "snap"))).toBe("ENOENT");
      });

      it("admin-only operations refuse rw tokens", async () => {
        const d = await c.mkdir(ROOT_INO, "q");
        expect(await codeOf(fx.api.setQuota(c.ctx, { requestId: c.rid(), ino: d.ino, maxBytes: 1 }))).toBe("EACCES");
        expect(await codeOf(fx.api.createSnapshot(c.ctx, { requestId: c.rid(), name: "s" }))).toBe("EACCES");
        expect(await codeOf(fx.api.chunkReferences(c.ctx))).toBe("EACCES");
      });
    });

    describe("directories and files", () => {
      it("mkdir, lookup, getattr with POSIX attributes", async () => {
        const d = await c.mkdir(ROOT_INO, "a", 0o750);
        expect(d).toMatchObject({ type: "dir", mode: 0o750, nlink: 2, size: 0, nameScope: d.ino });
        expect(await c.lookup(ROOT_INO, "a")).toEqual(d);
        expect((await c.getattr(ROOT_INO)).nlink).toBe(3);
        expect(await codeOf(c.mkdir(ROOT_INO, "a"))).toBe("EEXIST");
        expect(await codeOf(c.lookup(ROOT_INO, "missing"))).toBe("ENOENT");
        const f = await c.create(d.ino, "f");
        expect(f).toMatchObject({ type: "file", mode: 0o644, uid: 1000, gid: 1000, nlink: 1, size: 0 });
        expect(await codeOf(c.lookup(f.ino, "x"))).toBe("ENOTDIR");
        expect(await codeOf(c.mkdir(f.ino, "x"))).toBe("ENOTDIR");
        expect(await codeOf(c.mkdir(987654, "x"))).toBe("ENOENT");
      });

      it("create: exclusive, non-exclusive, over a directory", async () => {
        const f = await c.create(ROOT_INO, "f");
        expect(await codeOf(c.create(ROOT_INO, "f"))).toBe("EEXIST");
        const again = await fx.api.create(c.ctx, {
          requestId: c.rid(),
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "f"),
          mode: 0o600,
          uid: 0,
          gid: 0,
        });
        expect(again.created).toBe(false);
        expect(again.attr.ino).toBe(f.ino);
        await c.mkdir(ROOT_INO, "d");
        expect(await codeOf(c.create(ROOT_INO, "d", { exclusive: false }))).toBe("EISDIR");
      });

      it("getattr batches and reports missing inodes per item", async () => {
        const a = await c.create(ROOT_INO, "a");
        const b = await c.mkdir(ROOT_INO, "b");
        const r = await fx.api.getattr(c.ctx, { inos: [a.ino, 424242, b.ino, ROOT_INO] });
        expect(r.items.map((i) => i.attr?.ino ?? i.error)).toEqual([a.ino, "ENOENT", b.ino, ROOT_INO]);
      });

      it("readdirplus pages with cookies, each entry exactly once, with attributes", async () => {
        const d = await c.mkdir(ROOT_INO, "many");
        const want: string[] = [];
        for (let i = 0; i < 11; i++) {
          want.push(`f${i}`);
          await c.create(d.ino, `f${i}`);
        }
        const entries = await c.readdir(d.ino, { limit: 4 });
        expect(entries.map((e) => e.name.sealed.toString()).sort()).toEqual(want.sort());
        for (const e of entries) expect(e.attr.type).toBe("file");
        expect(await c.readdir((await c.mkdir(ROOT_INO, "empty")).ino)).toEqual([]);
        const f = await c.lookup(d.ino, "f1");
        expect(await codeOf(fx.api.readdirplus(c.ctx, { ino: f.ino }))).toBe("ENOTDIR");
      });

      it("readdirplus cookies survive concurrent removal of the last returned entry", async () => {
        const d = await c.mkdir(ROOT_INO, "dir");
        for (let i = 0; i < 6; i++) await c.create(d.ino, `n${i}`);
        const first = await fx.api.readdirplus(c.ctx, { ino: d.ino, limit: 3 });
        const lastName = first.entries[2]!.name.sealed.toString();
        await c.unlink(d.ino, lastName);
        const rest = await fx.api.readdirplus(c.ctx, { ino: d.ino, cookie: first.cookie!, limit: 10 });
        const seen = [...first.entries, ...rest.entries].map((e) => e.name.sealed.toString());
        expect(new Set(seen).size).toBe(6);
      });

      it("symlink and readlink; mknod", async () => {
        const l = await c.symlink(ROOT_INO, "ln", "sealed-target");
        expect(l).toMatchObject({ type: "symlink", size: "sealed-target".length });
        expect((await fx.api.readlink(c.ctx, { ino: l.ino })).target.toString()).toBe("sealed-target");
        const f = await c.create(ROOT_INO, "plain");
        expect(await codeOf(fx.api.readlink(c.ctx, { ino: f.ino }))).toBe("EINVAL");
        const fifo = await fx.api.mknod(c.ctx, {
          requestId: c.rid(),
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "fifo"),
          type: "fifo",
          mode: 0o600,
          uid: 0,
          gid: 0,
        });
        expect(fifo.attr.type).toBe("fifo");
      });

      it("link adds names to one inode; directories cannot be linked", async () => {
        const d = await c.mkdir(ROOT_INO, "d");
        const f = await c.create(ROOT_INO, "f");
        const l = await c.link(f.ino, d.ino, "g");
        expect(l.ino).toBe(f.ino);
        expect(l.nlink).toBe(2);
        expect((await c.lookup(d.ino, "g")).ino).toBe(f.ino);
        expect(await codeOf(c.link(f.ino, d.ino, "g"))).toBe("EEXIST");
        expect(await codeOf(c.link(d.ino, ROOT_INO, "dd"))).toBe("EPERM");
        await c.unlink(ROOT_INO, "f");
        expect((await c.getattr(f.ino)).nlink).toBe(1);
        await c.unlink(d.ino, "g");
        expect(await codeOf(c.getattr(f.ino))).toBe("ENOENT");
      });

      it("unlink and rmdir errors", async () => {
        const d = await c.mkdir(ROOT_INO, "d");
        await c.create(d.ino, "f");
        expect(await codeOf(c.unlink(ROOT_INO, "nope"))).toBe("ENOENT");
        expect(await codeOf(c.unlink(ROOT_INO, "d"))).toBe("EISDIR");
        expect(await codeOf(c.rmdir(ROOT_INO, "d"))).toBe("ENOTEMPTY");
        expect(await codeOf(c.rmdir(d.ino, "f"))).toBe("ENOTDIR");
        await c.unlink(d.ino, "f");
        const removed = await c.rmdir(ROOT_INO, "d");
        expect(await codeOf(c.getattr(d.ino))).toBe("ENOENT");
        expect((await c.getattr(ROOT_INO)).nlink).toBe(2);
        // The parent after the change comes along (the client need not ask again).
        expect(removed.dir).toEqual(await c.getattr(ROOT_INO));
      });
    });

    describe("rename", () => {
      it("moves across directories, keeps the inode, fixes link counts", async () => {
        const a = await c.mkdir(ROOT_INO, "a");
        const b = await c.mkdir(ROOT_INO, "b");
        const sub = await c.mkdir(a.ino, "sub");
        await c.rename(a.ino, "sub", b.ino, "moved");
        expect((await c.lookup(b.ino, "moved")).ino).toBe(sub.ino);
        expect(await codeOf(c.lookup(a.ino, "sub"))).toBe("ENOENT");
        expect((await c.getattr(a.ino)).nlink).toBe(2);
        expect((await c.getattr(b.ino)).nlink).toBe(3);
      });

      it("replaces files atomically and reports the replaced inode", async () => {
        const x = await c.create(ROOT_INO, "x");
        const y = await c.create(ROOT_INO, "y");
        const r = await c.rename(ROOT_INO, "x", ROOT_INO, "y");
        expect(r.replaced).toBe(y.ino);
        expect((await c.lookup(ROOT_INO, "y")).ino).toBe(x.ino);
        expect(await codeOf(c.getattr(y.ino))).toBe("ENOENT");
        expect(await c.names(ROOT_INO)).toEqual(["y"]);
      });

      it("enforces POSIX rules on the target", async () => {
        const d = await c.mkdir(ROOT_INO, "d");
        const full = await c.mkdir(ROOT_INO, "full");
        await c.create(full.ino, "f");
        await c.create(ROOT_INO, "file");
        await c.mkdir(ROOT_INO, "empty");
        expect(await codeOf(c.rename(ROOT_INO, "d", ROOT_INO, "full"))).toBe("ENOTEMPTY");
        expect(await codeOf(c.rename(ROOT_INO, "d", ROOT_INO, "file"))).toBe("ENOTDIR");
        expect(await codeOf(c.rename(ROOT_INO, "file", ROOT_INO, "d"))).toBe("EISDIR");
        expect(await codeOf(c.rename(ROOT_INO, "file", ROOT_INO, "empty", { noReplace: true }))).toBe("EEXIST");
        expect(await codeOf(c.rename(ROOT_INO, "ghost", ROOT_INO, "x"))).toBe("ENOENT");
        await c.rename(ROOT_INO, "d", ROOT_INO, "empty");
        expect((await c.lookup(ROOT_INO, "empty")).ino).toBe(d.ino);
      });

      it("never creates a cycle", async () => {
        const a = await c.mkdir(ROOT_INO, "a");
        const b = await c.mkdir(a.ino, "b");
        const cc = await c.mkdir(b.ino, "c");
        expect(await codeOf(c.rename(ROOT_INO, "a", cc.ino, "loop"))).toBe("EINVAL");
        expect(await codeOf(c.rename(ROOT_INO, "a", a.ino, "self"))).toBe("EINVAL");
        expect((await c.lookup(ROOT_INO, "a")).ino).toBe(a.ino);
      });

      it("exchange swaps two names atomically", async () => {
        const f = await c.create(ROOT_INO, "f");
        const d = await c.mkdir(ROOT_INO, "d");
        await c.rename(ROOT_INO, "f", ROOT_INO, "d", { exchange: true });
        expect((await c.lookup(ROOT_INO, "f")).ino).toBe(d.ino);
        expect((await c.lookup(ROOT_INO, "d")).ino).toBe(f.ino);
        expect(await codeOf(c.rename(ROOT_INO, "f", ROOT_INO, "zz", { exchange: true }))).toBe("ENOENT");
      });

      it("renaming onto another link of the same file does nothing", async () => {
        const f = await c.create(ROOT_INO, "f");
        await c.link(f.ino, ROOT_INO, "g");
        await c.rename(ROOT_INO, "f", ROOT_INO, "g");
        expect(await c.names(ROOT_INO)).toEqual(["f", "g"]);
        expect((await c.getattr(f.ino)).nlink).toBe(2);
      });
    });

    describe("attributes, xattrs, extents", () => {
      it("setattr changes mode, owner and times; truncate cuts extents", async () => {
        const f = await c.create(ROOT_INO, "f");
        const a = await fx.api.setattr(c.ctx, {
          requestId: c.rid(),
          ino: f.ino,
          mode: 0o600,
          uid: 7,
          gid: 8,
          atime: 1000,
          mtime: 2000,
        });
        expect(a.attr).toMatchObject({ mode: 0o600, uid: 7, gid: 8, atime: 1000, mtime: 2000 });
        await c.write(f.ino, 0, 100, "c1");
        await c.write(f.ino, 100, 100, "c2");
        const t = await fx.api.setattr(c.ctx, { requestId: c.rid(), ino: f.ino, size: 150 });
        expect(t.attr.size).toBe(150);
        const ex = await fx.api.getExtents(c.ctx, { ino: f.ino });
        expect(ex.extents).toEqual([
          { offset: 0, length: 100, chunk: "c1", chunkOffset: 0 },
          { offset: 100, length: 50, chunk: "c2", chunkOffset: 0 },
        ]);
        await fx.api.setattr(c.ctx, { requestId: c.rid(), ino: f.ino, size: 50 });
        expect((await fx.api.getExtents(c.ctx, { ino: f.ino })).extents).toEqual([
          { offset: 0, length: 50, chunk: "c1", chunkOffset: 0 },
        ]);
        await fx.api.setattr(c.ctx, { requestId: c.rid(), ino: f.ino, size: 4096 });
        expect((await c.getattr(f.ino)).size).toBe(4096);
        const d = await c.mkdir(ROOT_INO, "d");
        expect(await codeOf(fx.api.setattr(c.ctx, { requestId: c.rid(), ino: d.ino, size: 0 }))).toBe("EISDIR");
      });

      it("newer extents shadow older ones", async () => {
        const f = await c.create(ROOT_INO, "f");
        await c.write(f.ino, 0, 1000, "old");
        await c.write(f.ino, 200, 100, "new");
        const ex = await fx.api.getExtents(c.ctx, { ino: f.ino });
        expect(ex.size).toBe(1000);
        expect(ex.extents).toEqual([
          { offset: 0, length: 200, chunk: "old", chunkOffset: 0 },
          { offset: 200, length: 100, chunk: "new", chunkOffset: 0 },
          { offset: 300, length: 700, chunk: "old", chunkOffset: 300 },
        ]);
        const part = await fx.api.getExtents(c.ctx, { ino: f.ino, offset: 250, length: 100 });
        expect(part.extents).toEqual([
          { offset: 250, length: 50, chunk: "new", chunkOffset: 50 },
          { offset: 300, length: 50, chunk: "old", chunkOffset: 300 },
        ]);
      });

      it("lookup with headExtentsBytes answers a file's first extents, nothing for a directory", async () => {
        const f = await c.create(ROOT_INO, "headed");
        await c.write(f.ino, 0, 1000, "old");
        await c.write(f.ino, 200, 100, "new");
        const name = c.token(ROOT_INO, "headed");
        const res = await fx.api.lookup(c.ctx, { parent: ROOT_INO, name, headExtentsBytes: 250 });
        expect(res.attr.ino).toBe(f.ino);
        expect(res.headExtents?.extents).toEqual([
          { offset: 0, length: 200, chunk: "old", chunkOffset: 0 },
          { offset: 200, length: 50, chunk: "new", chunkOffset: 0 },
        ]);
        expect((await fx.api.lookup(c.ctx, { parent: ROOT_INO, name })).headExtents).toBeUndefined();
        const empty = await c.create(ROOT_INO, "empty");
        const none = await fx.api.lookup(c.ctx, {
          parent: ROOT_INO,
          name: c.token(ROOT_INO, "empty"),
          headExtentsBytes: 1 << 20,
        });
        expect([none.attr.ino, none.headExtents?.extents]).toEqual([empty.ino, []]);
        await c.mkdir(ROOT_INO, "adir");
        const dir = await fx.api.lookup(c.ctx, {
          parent: ROOT_INO,
          name: c.token(ROOT_INO, "adir"),
          headExtentsBytes: 1 << 20,
        });
        expect(dir.headExtents).toBeUndefined();
        expect(await codeOf(fx.api.lookup(c.ctx, { parent: ROOT_INO, name, headExtentsBytes: 2 ** 27 }))).toBe(
          "EINVAL",
        );
      });

      it("xattrs: set, get, list, remove with create/replace modes", async () => {
        const f = await c.create(ROOT_INO, "f");
        const name = c.sealed(0, "user.tag");
        await fx.api.setxattr(c.ctx, { requestId: c.rid(), ino: f.ino, name, value: Buffer.from("v1") });
        expect((await fx.api.getxattr(c.ctx, { ino: f.ino, name: name.token })).value.toString()).toBe("v1");
        expect(
          await codeOf(
            fx.api.setxattr(c.ctx, { requestId: c.rid(), ino: f.ino, name, value: Buffer.from("v2"), mode: "create" }),
          ),
        ).toBe("EEXIST");
        await fx.api.setxattr(c.ctx, {
          requestId: c.rid(),
          ino: f.ino,
          name,
          value: Buffer.from("v2"),
          mode: "replace",
        });
        const list = await fx.api.listxattr(c.ctx, { ino: f.ino });
        expect(list.names.map((n) => n.sealed.toString())).toEqual(["user.tag"]);
        await fx.api.removexattr(c.ctx, { requestId: c.rid(), ino: f.ino, name: name.token });
        expect(await codeOf(fx.api.getxattr(c.ctx, { ino: f.ino, name: name.token }))).toBe("ENODATA");
        expect(await codeOf(fx.api.removexattr(c.ctx, { requestId: c.rid(), ino: f.ino, name: name.token }))).toBe(
          "ENODATA",
        );
        const other = c.sealed(0, "user.other");
        expect(
          await codeOf(
            fx.api.setxattr(c.ctx, {
              requestId: c.rid(),
              ino: f.ino,
              name: other,
              value: Buffer.from("x"),
              mode: "replace",
            }),
          ),
        ).toBe("ENODATA");
      });

      it("commitWrite needs a live session; lock tokens fence older writers", async () => {
        const f = await c.create(ROOT_INO, "f");
        const noSession = { token: c.ctx.token };
        const req = { requestId: c.rid(), ino: f.ino, extents: [], newSize: 10, mtime: 5 };
        expect(await codeOf(fx.api.commitWrite(noSession, req))).toBe("STALE_SESSION");
        await fx.api.commitWrite(c.ctx, { ...req, requestId: c.rid(), lockToken: 5 });
        expect(await codeOf(fx.api.commitWrite(c.ctx, { ...req, requestId: c.rid(), lockToken: 4 }))).toBe("FENCED");
        const ok = await fx.api.commitWrite(c.ctx, { ...req, requestId: c.rid(), newSize: 20, lockToken: 6 });
        expect(ok.attr.size).toBe(20);
        await fx.api.closeSession(c.ctx, { requestId: c.rid() });
        expect(await codeOf(fx.api.commitWrite(c.ctx, { ...req, requestId: c.rid() }))).toBe("STALE_SESSION");
      });
    });

    describe("sessions, handles, unlinked-but-open files", () => {
      it("an unlinked open file keeps its data until the last handle is released", async () => {
        const f = await c.create(ROOT_INO, "f");
        await c.write(f.ino, 0, 10, "chunk-a");
        const h = await fx.api.open(c.ctx, { requestId: c.rid(), ino: f.ino });
        const u = await c.unlink(ROOT_INO, "f");
        expect(u).toMatchObject({ ino: f.ino, nlink: 0, stillOpen: true });
        // The directory after the change comes along (the client need not ask again).
        expect(u.dir).toEqual(await c.getattr(ROOT_INO));
        expect(await codeOf(c.lookup(ROOT_INO, "f"))).toBe("ENOENT");
        expect((await c.getattr(f.ino)).nlink).toBe(0);
        expect((await fx.api.getExtents(c.ctx, { ino: f.ino })).extents[0]?.chunk).toBe("chunk-a");
        await c.write(f.ino, 10, 10, "chunk-b");
        expect((await fx.api.chunkReferences(admin.ctx)).chunks).toEqual(["chunk-a", "chunk-b"]);
        await fx.api.release(c.ctx, { requestId: c.rid(), handle: h.handle });
        expect(await codeOf(c.getattr(f.ino))).toBe("ENOENT");
        expect((await fx.api.chunkReferences(admin.ctx)).chunks).toEqual([]);
        expect(await codeOf(fx.api.release(c.ctx, { requestId: c.rid(), handle: h.handle }))).toBe("EBADF");
      });

      it("closing a session releases its handles", async () => {
        const f = await c.create(ROOT_INO, "f", { open: true });
        await c.unlink(ROOT_INO, "f");
        expect((await c.getattr(f.ino)).nlink).toBe(0);
        await fx.api.closeSession(c.ctx, { requestId: c.rid() });
        expect(await codeOf(c.getattr(f.ino))).toBe("ENOENT");
        expect(await codeOf(fx.api.heartbeat(c.ctx))).toBe("STALE_SESSION");
      });

      it("open with truncate empties the file", async () => {
        const f = await c.create(ROOT_INO, "f");
        await c.write(f.ino, 0, 10, "c");
        const o = await fx.api.open(c.ctx, { requestId: c.rid(), ino: f.ino, truncate: true, write: true });
        expect(o.attr.size).toBe(0);
        expect((await fx.api.getExtents(c.ctx, { ino: f.ino })).extents).toEqual([]);
      });

      it("heartbeat extends the lease", async () => {
        const h = await fx.api.heartbeat(c.ctx);
        expect(h.sessionId).toBe(c.ctx.sessionId);
        expect(h.ttlMs).toBeGreaterThan(0);
      });
    });

    describe("dedupe", () => {
      it("the same request id twice gives the same answer and one effect", async () => {
        const req = {
          requestId: "same-id",
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "d"),
          mode: 0o755,
          uid: 0,
          gid: 0,
        };
        const a = await fx.api.mkdir(c.ctx, req);
        const b = await fx.api.mkdir(c.ctx, req);
        expect(b).toEqual(a);
        expect(await c.names(ROOT_INO)).toEqual(["d"]);
        const u1 = await fx.api.rmdir(c.ctx, { requestId: "rm", parent: ROOT_INO, name: c.token(ROOT_INO, "d") });
        const u2 = await fx.api.rmdir(c.ctx, { requestId: "rm", parent: ROOT_INO, name: c.token(ROOT_INO, "d") });
        expect(u2).toEqual(u1);
      });

      it("concurrent retries of one request resolve to one effect", async () => {
        const req = {
          requestId: "conc",
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "f"),
          mode: 0o644,
          uid: 0,
          gid: 0,
          exclusive: true,
        };
        const [a, b] = await Promise.all([fx.api.create(c.ctx, req), fx.api.create(c.ctx, req)]);
        expect(a).toEqual(b);
      });
    });

    describe("usage and quotas", () => {
      it("keeps recursive bytes and file counts", async () => {
        const a = await c.mkdir(ROOT_INO, "a");
        const b = await c.mkdir(a.ino, "b");
        const f = await c.create(b.ino, "f");
        await c.write(f.ino, 0, 1000, "c");
        expect(await fx.api.usage(c.ctx, { ino: a.ino })).toEqual({ bytes: 1000, files: 2 });
        expect(await fx.api.usage(c.ctx, { ino: ROOT_INO })).toEqual({ bytes: 1000, files: 3 });
        await c.rename(b.ino, "f", ROOT_INO, "f");
        expect(await fx.api.usage(c.ctx, { ino: a.ino })).toEqual({ bytes: 0, files: 1 });
        expect(await fx.api.usage(c.ctx, { ino: ROOT_INO })).toEqual({ bytes: 1000, files: 3 });
        const st = await fx.api.statfs(c.ctx);
        expect(st.usedBytes).toBe(1000);
        expect(st.files).toBe(3);
      });

      it("a quota stops writes and creates with EDQUOT", async () => {
        const q = await c.mkdir(ROOT_INO, "q");
        await fx.api.setQuota(admin.ctx, { requestId: c.rid(), ino: q.ino, maxBytes: 1500, maxFiles: 2 });
        const f = await c.create(q.ino, "f");
        await c.write(f.ino, 0, 1000, "c1");
        expect(await codeOf(c.write(f.ino, 1000, 1000, "c2"))).toBe("EDQUOT");
        expect((await c.getattr(f.ino)).size).toBe(1000);
        await c.write(f.ino, 1000, 500, "c3");
        await c.create(q.ino, "g");
        expect(await codeOf(c.create(q.ino, "h"))).toBe("EDQUOT");
        expect(await codeOf(fx.api.setattr(c.ctx, { requestId: c.rid(), ino: f.ino, size: 5000 }))).toBe("EDQUOT");
        const outside = await c.create(ROOT_INO, "big");
        await c.write(outside.ino, 0, 10_000, "c4");
        expect(await codeOf(c.rename(ROOT_INO, "big", q.ino, "big"))).toBe("EDQUOT");
        expect(await fx.api.getQuota(c.ctx, { ino: q.ino })).toEqual({
          maxBytes: 1500,
          maxFiles: 2,
          usedBytes: 1500,
          usedFiles: 2,
        });
        await fx.api.setQuota(admin.ctx, { requestId: c.rid(), ino: q.ino });
        await c.rename(ROOT_INO, "big", q.ino, "big");
      });
    });

    describe("snapshots", () => {
      it("reads answer as of the snapshot; the snapshot is read-only", async () => {
        const d = await c.mkdir(ROOT_INO, "d");
        const f = await c.create(d.ino, "f");
        await c.write(f.ino, 0, 100, "v1");
        const snap = await fx.api.createSnapshot(admin.ctx, { requestId: c.rid(), name: "s1" });
        expect(snap.name).toBe("s1");
        await c.write(f.ino, 0, 50, "v2");
        await c.unlink(d.ino, "f");
        await c.create(d.ino, "new");
        expect(await c.names(d.ino, "s1")).toEqual(["f"]);
        expect(await c.names(d.ino)).toEqual(["new"]);
        const old = await fx.api.getExtents(c.ctx, { ino: f.ino, snapshot: "s1" });
        expect(old.extents).toEqual([{ offset: 0, length: 100, chunk: "v1", chunkOffset: 0 }]);
        expect((await c.lookup(d.ino, "f", "s1")).ino).toBe(f.ino);
        expect(await codeOf(c.getattr(f.ino, "nope"))).toBe("NO_SNAPSHOT");
        expect(await codeOf(fx.api.createSnapshot(admin.ctx, { requestId: c.rid(), name: "s1" }))).toBe("EEXIST");
        expect((await fx.api.listSnapshots(c.ctx)).snapshots.map((s) => s.name)).toEqual(["s1"]);
        expect((await fx.api.chunkReferences(admin.ctx)).chunks).toEqual(["v1"]);
        await fx.api.deleteSnapshot(admin.ctx, { requestId: c.rid(), name: "s1" });
        expect((await fx.api.listSnapshots(c.ctx)).snapshots).toEqual([]);
        expect(await codeOf(c.getattr(f.ino, "s1"))).toBe("NO_SNAPSHOT");
      });

      it("restores a deleted directory tree sharing its chunks, and clones a snapshot", async () => {
        const d = await c.mkdir(ROOT_INO, "proj");
        const sub = await c.mkdir(d.ino, "sub");
        const f = await c.create(sub.ino, "f");
        await c.write(f.ino, 0, 64, "chunk-f");
        await c.link(f.ino, d.ino, "hard");
        await fx.api.createSnapshot(admin.ctx, { requestId: c.rid(), name: "before" });
        await c.unlink(sub.ino, "f");
        await c.unlink(d.ino, "hard");
        await c.rmdir(d.ino, "sub");
        await c.rmdir(ROOT_INO, "proj");
        const r = await fx.api.restore(c.ctx, {
          requestId: c.rid(),
          snapshot: "before",
          ino: d.ino,
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "proj"),
        });
        expect(r.attr.type).toBe("dir");
        expect(r.attr.nameScope).toBe(d.ino);
        c.scopes.set(r.attr.ino, r.attr.nameScope!);
        expect(await c.names(r.attr.ino)).toEqual(["hard", "sub"]);
        const rsub = await c.lookup(r.attr.ino, "sub");
        const rf = await c.lookup(rsub.ino, "f");
        expect(rf.nlink).toBe(2);
        expect((await c.lookup(r.attr.ino, "hard")).ino).toBe(rf.ino);
        expect((await fx.api.getExtents(c.ctx, { ino: rf.ino })).extents).toEqual([
          { offset: 0, length: 64, chunk: "chunk-f", chunkOffset: 0 },
        ]);
        expect(await fx.api.usage(c.ctx, { ino: r.attr.ino })).toEqual({ bytes: 64, files: 2 });
        expect(
          await codeOf(
            fx.api.restore(c.ctx, {
              requestId: c.rid(),
              snapshot: "before",
              ino: d.ino,
              parent: ROOT_INO,
              name: c.sealed(ROOT_INO, "proj"),
            }),
          ),
        ).toBe("EEXIST");

        // Restoring over an existing empty directory needs `replace`.
        const empty = await c.mkdir(ROOT_INO, "again");
        const rep = await fx.api.restore(c.ctx, {
          requestId: c.rid(),
          snapshot: "before",
          ino: sub.ino,
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "again"),
          replace: true,
        });
        expect(rep.attr.ino).not.toBe(empty.ino);
        c.scopes.set(rep.attr.ino, rep.attr.nameScope!);
        expect(await c.names(rep.attr.ino)).toEqual(["f"]);
        expect(await codeOf(c.getattr(empty.ino))).toBe("ENOENT");
        await c.rmdir(ROOT_INO, "again").catch(() => undefined);
        await c.unlink(rep.attr.ino, "f");
        await c.rmdir(ROOT_INO, "again");

        const cl = await fx.api.clone(c.ctx, {
          requestId: c.rid(),
          snapshot: "before",
          parent: ROOT_INO,
          name: c.sealed(ROOT_INO, "clone"),
        });
        c.scopes.set(cl.attr.ino, cl.attr.nameScope!);
        expect(await c.names(cl.attr.ino)).toEqual(["proj"]);
        expect(await fx.api.usage(c.ctx, { ino: ROOT_INO })).toEqual({ bytes: 128, files: 7 });
        expect((await fx.api.chunkReferences(admin.ctx)).chunks).toEqual(["chunk-f"]);
      });
    });
  });
}
