/**
 * The WAN-client additions to the metadata API (interface contract of session 7):
 * reserveInodes + creates with a client-chosen `ino`, `hasXattrs` on every Attr, and
 * readdirplus pages of up to 10,000 entries. The same body runs in process and through a real
 * gRPC server + MetaClient on a loopback port; recovery (checkpoint image + journal replay) is
 * checked on the in-process service.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CallContext, type MetaApi, ROOT_INO } from "../../src/meta/api.js";
import { MetaError } from "../../src/meta/errors.js";
import { MetaClient } from "../../src/meta/grpc/client.js";
import { MetaGrpcServer } from "../../src/meta/grpc/server.js";
import { Namespace } from "../../src/meta/namespace/machine.js";
import { MetaService } from "../../src/meta/service/service.js";
import { codeOf, TestClient } from "./helpers/client.js";
import { dumpNamespace } from "./helpers/dump.js";
import { type InProcessFixture, inProcessFixture } from "./helpers/fixture.js";
import { MemoryJournal } from "./helpers/memory-journal.js";
import { nameToken, sealName } from "./helpers/names.js";

interface Setup {
  fx: InProcessFixture;
  api: MetaApi;
  ctx: CallContext;
  c: TestClient;
  close(): Promise<void>;
}

async function inProcess(): Promise<Setup> {
  const fx = inProcessFixture();
  return withSession(fx, fx.service, async () => fx.close());
}

async function overGrpc(): Promise<Setup> {
  const fx = inProcessFixture();
  const server = await MetaGrpcServer.start({ api: fx.service, listen: "127.0.0.1:0" });
  const client = new MetaClient({ address: server.address, retryBudgetMs: 2_000 });
  return withSession(fx, client, async () => {
    client.close();
    server.close();
    await fx.close();
  });
}

async function withSession(fx: InProcessFixture, api: MetaApi, close: () => Promise<void>): Promise<Setup> {
  const token = fx.issue({ client: "alice", mode: "rw", subtreeRoot: ROOT_INO });
  const s = await api.openSession({ token }, { requestId: "s1" });
  const ctx = { token, sessionId: s.sessionId };
  return { fx, api, ctx, c: new TestClient(api, ctx), close };
}

const own = { mode: 0o644, uid: 1000, gid: 1000 };

async function messageOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "(resolved)",
    (e: Error) => e.message,
  );
}

describe.each([
  ["in process", inProcess],
  ["over gRPC", overGrpc],
])("reserveInodes and client-chosen inode numbers (%s)", (_name, make) => {
  let s: Setup;
  beforeEach(async () => {
    s = await make();
  });
  afterEach(async () => s.close());

  it("hands out disjoint ranges past every existing inode; a retry gets the same range", async () => {
    const f = await s.c.create(ROOT_INO, "before");
    const a = await s.api.reserveInodes(s.ctx, { requestId: "r1", count: 100 });
    expect(a.count).toBe(100);
    expect(a.first).toBeGreaterThan(f.ino);
    expect(await s.api.reserveInodes(s.ctx, { requestId: "r1", count: 100 })).toEqual(a);
    const b = await s.api.reserveInodes(s.ctx, { requestId: "r2", count: 10_000 });
    expect(b.first).toBeGreaterThanOrEqual(a.first + a.count);
    // The service's own allocator moves past the reservations too.
    const g = await s.c.create(ROOT_INO, "after");
    expect(g.ino).toBeGreaterThanOrEqual(b.first + b.count);
  });

  it("validates count (1..10,000) naming the field, and needs a rw token", async () => {
    // (A fraction cannot cross the wire: uint32 truncates it; in process zod refuses it too.)
    for (const count of [0, 10_001]) {
      const p = s.api.reserveInodes(s.ctx, { requestId: randomUUID(), count });
      expect(await codeOf(p)).toBe("EINVAL");
      expect(await messageOf(s.api.reserveInodes(s.ctx, { requestId: randomUUID(), count }))).toContain("count");
    }
    const ro = { token: s.fx.issue({ client: "bob", mode: "ro", subtreeRoot: ROOT_INO }) };
    expect(await codeOf(s.api.reserveInodes(ro, { requestId: "x", count: 1 }))).toBe("EROFS");
  });

  it("creates files, directories, symlinks and nodes with reserved numbers", async () => {
    const { first } = await s.api.reserveInodes(s.ctx, { requestId: "r", count: 8 });
    const dir = await s.api.mkdir(s.ctx, {
      requestId: "mk",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "d"),
      ...own,
      mode: 0o755,
      ino: first + 3,
    });
    expect(dir.attr.ino).toBe(first + 3);
    expect(dir.attr.nameScope).toBe(first + 3);
    const file = await s.api.create(s.ctx, {
      requestId: "cr",
      parent: dir.attr.ino,
      name: sealName(first + 3, "f"),
      ...own,
      exclusive: true,
      open: true,
      ino: first,
    });
    expect(file).toMatchObject({ created: true, attr: { ino: first, type: "file" } });
    expect(file.handle).toBeDefined();
    const link = await s.api.symlink(s.ctx, {
      requestId: "sl",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "l"),
      target: Buffer.from("sealed-target"),
      uid: 0,
      gid: 0,
      ino: first + 7,
    });
    expect(link.attr).toMatchObject({ ino: first + 7, type: "symlink" });
    const fifo = await s.api.mknod(s.ctx, {
      requestId: "mn",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "p"),
      type: "fifo",
      ...own,
      ino: first + 1,
    });
    expect(fifo.attr).toMatchObject({ ino: first + 1, type: "fifo" });
    expect((await s.c.lookup(first + 3, "f")).ino).toBe(first);
    expect((await s.c.getattr(first + 7)).type).toBe("symlink");
    // A retry with the same requestId is deduplicated: same answer, no second effect.
    const again = await s.api.create(s.ctx, {
      requestId: "cr",
      parent: dir.attr.ino,
      name: sealName(first + 3, "f"),
      ...own,
      exclusive: true,
      open: true,
      ino: first,
    });
    expect(again).toEqual(file);
  });

  it("keeps a client's creation time (a queued create lands later); its directory's times never move back", async () => {
    const now = s.fx.clock.now;
    const { first } = await s.api.reserveInodes(s.ctx, { requestId: "r", count: 8 });
    const d = await s.api.mkdir(s.ctx, {
      requestId: "d",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "d"),
      ...own,
      ino: first,
      time: now - 60_000,
    });
    expect([d.attr.mtime, d.attr.ctime, d.attr.atime]).toEqual([now - 60_000, now - 60_000, now - 60_000]);
    expect((await s.c.getattr(ROOT_INO)).mtime).toBe(now - 60_000);
    const scope = first;
    const at = (i: number, time: number, kind: "create" | "symlink" | "mknod") => {
      const base = { requestId: randomUUID(), parent: first, name: sealName(scope, `e${i}`), ino: first + i, time };
      if (kind === "symlink") return s.api.symlink(s.ctx, { ...base, target: Buffer.from("t"), uid: 0, gid: 0 });
      if (kind === "mknod") return s.api.mknod(s.ctx, { ...base, ...own, type: "fifo" });
      return s.api.create(s.ctx, { ...base, ...own, exclusive: true });
    };
    expect((await at(1, now - 30_000, "create")).attr.ctime).toBe(now - 30_000);
    expect((await s.c.getattr(first)).mtime).toBe(now - 30_000);
    // Landing after a later one: the child keeps its time, the directory does not step back.
    expect((await at(2, now - 45_000, "symlink")).attr.mtime).toBe(now - 45_000);
    expect(await s.c.getattr(first)).toMatchObject({ mtime: now - 30_000, ctime: now - 30_000 });
    // Implausible times get the service's clock: ahead by more than a few seconds, or weeks old.
    expect((await at(3, now + 60_000, "mknod")).attr.ctime).toBe(now);
    expect((await at(4, now - 30 * 24 * 3600_000, "create")).attr.ctime).toBe(now);
    expect(await s.c.getattr(first)).toMatchObject({ mtime: now, ctime: now });
    // A fraction cannot cross the wire (int64); in process zod names the field.
    if (s.api === s.fx.service) expect(await messageOf(at(5, now + 0.5, "create"))).toContain("time");
    expect(await codeOf(at(6, -1, "create"))).toBe("EINVAL");
  });

  it("refuses numbers never handed out, numbers in use, and the root", async () => {
    const { first, count } = await s.api.reserveInodes(s.ctx, { requestId: "r", count: 4 });
    const create = (ino: number, name: string) =>
      s.api.create(s.ctx, { requestId: randomUUID(), parent: ROOT_INO, name: sealName(ROOT_INO, name), ...own, ino });
    expect(await codeOf(create(first + count, "a"))).toBe("EINVAL");
    expect(await messageOf(create(first + count + 1000, "a"))).toContain("never handed out");
    await create(first, "b");
    expect(await codeOf(create(first, "c"))).toBe("EINVAL");
    expect(await messageOf(create(first, "c"))).toContain("in use");
    expect(await codeOf(create(ROOT_INO, "d"))).toBe("EINVAL");
    // Nothing of the refused calls is visible.
    expect((await s.c.readdir(ROOT_INO)).map((e) => e.attr.ino)).toEqual([first]);
  });

  it("a non-exclusive create of an existing name opens the existing file (its attr, not the chosen ino)", async () => {
    const { first } = await s.api.reserveInodes(s.ctx, { requestId: "r", count: 2 });
    const name = sealName(ROOT_INO, "f");
    const a = await s.api.create(s.ctx, { requestId: "a", parent: ROOT_INO, name, ...own, ino: first });
    const b = await s.api.create(s.ctx, { requestId: "b", parent: ROOT_INO, name, ...own, ino: first + 1 });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.attr.ino).toBe(first);
    // first + 1 stayed unused and can still be used.
    const c = await s.api.create(s.ctx, {
      requestId: "c",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "g"),
      ...own,
      ino: first + 1,
    });
    expect(c.attr.ino).toBe(first + 1);
  });

  it("fills hasXattrs in every attr: lookup, getattr, readdirplus, create, setattr", async () => {
    const created = await s.api.create(s.ctx, {
      requestId: "c",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "x"),
      ...own,
    });
    expect(created.attr.hasXattrs).toBe(false);
    const ino = created.attr.ino;
    await s.api.setxattr(s.ctx, {
      requestId: "sx",
      ino,
      name: { token: nameToken(ino, "user.a"), sealed: Buffer.from("sealed") },
      value: Buffer.from("v"),
    });
    expect((await s.c.lookup(ROOT_INO, "x")).hasXattrs).toBe(true);
    expect((await s.c.getattr(ino)).hasXattrs).toBe(true);
    expect((await s.c.readdir(ROOT_INO))[0]!.attr.hasXattrs).toBe(true);
    const set = await s.api.setattr(s.ctx, { requestId: "sa", ino, mode: 0o600 });
    expect(set.attr.hasXattrs).toBe(true);
    expect((await s.c.getattr(ROOT_INO)).hasXattrs).toBe(false);
    await s.api.removexattr(s.ctx, { requestId: "rx", ino, name: nameToken(ino, "user.a") });
    expect((await s.c.getattr(ino)).hasXattrs).toBe(false);
  });

  it("readdirplus pages hold up to 10,000 entries", async () => {
    const { first } = await s.api.reserveInodes(s.ctx, { requestId: "r", count: 10_000 });
    // Build the directory in process (fast) and list it through the API under test.
    const sv = s.fx.service;
    const token = s.fx.issue({ client: "builder", mode: "rw", subtreeRoot: ROOT_INO });
    const d = await sv.mkdir({ token }, { requestId: "d", parent: ROOT_INO, name: sealName(ROOT_INO, "big"), ...own });
    const scope = d.attr.ino;
    await Promise.all(
      Array.from({ length: 10_050 }, (_, i) =>
        sv.create(
          { token },
          {
            requestId: `c${i}`,
            parent: scope,
            name: sealName(scope, `frame_${String(i).padStart(5, "0")}.exr`),
            ...own,
            ...(i < 10_000 ? { ino: first + i } : {}),
          },
        ),
      ),
    );
    const page = await s.api.readdirplus(s.ctx, { ino: scope, limit: 10_000 });
    expect(page.entries).toHaveLength(10_000);
    expect(page.cookie).toBeDefined();
    const rest = await s.api.readdirplus(s.ctx, { ino: scope, limit: 10_000, cookie: page.cookie! });
    expect(rest.entries).toHaveLength(50);
    expect(rest.cookie).toBeUndefined();
    const inos = new Set([...page.entries, ...rest.entries].map((e) => e.attr.ino));
    expect(inos.size).toBe(10_050);
  }, 60_000);
});

describe("readdirplus response size", () => {
  it("stops a page near 3 MiB when names are long; the cookie continues without loss", async () => {
    const s = await inProcess();
    const token = s.ctx.token;
    const sealed = (i: number) => Buffer.concat([Buffer.from(String(i).padStart(8, "0")), Buffer.alloc(500, 7)]);
    await Promise.all(
      Array.from({ length: 8_000 }, (_, i) =>
        s.api.create(
          { token },
          {
            requestId: `c${i}`,
            parent: ROOT_INO,
            name: { token: nameToken(ROOT_INO, `n${i}`), sealed: sealed(i) },
            ...own,
          },
        ),
      ),
    );
    const seen = new Set<number>();
    let cookie: string | undefined;
    let pages = 0;
    do {
      const page = await s.api.readdirplus(s.ctx, { ino: ROOT_INO, limit: 10_000, ...(cookie ? { cookie } : {}) });
      const bytes = page.entries.reduce((n, e) => n + e.name.sealed.length + e.name.token.length + 100, 0);
      expect(bytes).toBeLessThan(3.2 * 1024 * 1024);
      for (const e of page.entries) seen.add(e.attr.ino);
      cookie = page.cookie;
      pages++;
    } while (cookie !== undefined);
    expect(pages).toBeGreaterThan(1);
    expect(seen.size).toBe(8_000);
    await s.close();
  }, 60_000);
});

describe("reservations and chosen numbers survive recovery", () => {
  function recover(image: Buffer, tail: MemoryJournal["records"]): Namespace {
    const ns = Namespace.importImage(image);
    for (const e of tail) if (e.version > ns.version) ns.replay(e);
    return ns;
  }

  it("journal replay and a checkpoint image keep the allocator past every reservation", async () => {
    const s = await inProcess();
    const empty = new Namespace().exportImage();
    const a = await s.api.reserveInodes(s.ctx, { requestId: "a", count: 500 });
    await s.api.create(s.ctx, {
      requestId: "c",
      parent: ROOT_INO,
      name: sealName(ROOT_INO, "f"),
      ...own,
      ino: a.first + 17,
    });
    const mid = s.fx.service.ns.exportImage(); // a checkpoint after the first reservation
    const b = await s.api.reserveInodes(s.ctx, { requestId: "b", count: 30 });

    for (const [what, ns] of [
      ["replay from empty", recover(empty, s.fx.journal.records)],
      ["checkpoint + tail", recover(mid, s.fx.journal.records)],
    ] as const) {
      expect(dumpNamespace(ns), what).toEqual(dumpNamespace(s.fx.service.ns));
      expect(ns.nextIno, what).toBe(b.first + b.count);
      const restarted = new MetaService({
        journal: new MemoryJournal(ns.version),
        tokenKey: s.fx.key,
        namespace: ns,
        schedule: [],
      });
      // A retried reservation still gets its first answer; a new one starts after all of them.
      expect(await restarted.reserveInodes(s.ctx, { requestId: "a", count: 500 })).toEqual(a);
      const next = await restarted.reserveInodes(s.ctx, { requestId: "n", count: 1 });
      expect(next.first, what).toBe(b.first + b.count);
      // Numbers handed out before the restart are still usable, and the used one still refused.
      const ok = await restarted.create(s.ctx, {
        requestId: "c2",
        parent: ROOT_INO,
        name: sealName(ROOT_INO, "g"),
        ...own,
        ino: b.first,
      });
      expect(ok.attr.ino).toBe(b.first);
      const used = restarted.create(s.ctx, {
        requestId: "c3",
        parent: ROOT_INO,
        name: sealName(ROOT_INO, "h"),
        ...own,
        ino: a.first + 17,
      });
      await expect(used).rejects.toBeInstanceOf(MetaError);
      expect((await restarted.lookup(s.ctx, { parent: ROOT_INO, name: nameToken(ROOT_INO, "f") })).attr.ino).toBe(
        a.first + 17,
      );
      await restarted.close();
    }
    await s.close();
  });
});
