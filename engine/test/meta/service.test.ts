/**
 * Service behaviour beyond the conformance suite: dedupe across a restart (image + journal
 * replay), session expiry releasing unlinked-open files, fail-stop on journal failure,
 * snapshots surviving a checkpoint image, the snapshot schedule with retention, tokens.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { issueToken, TokenVerifier } from "../../src/meta/access/token.js";
import { ROOT_INO } from "../../src/meta/api.js";
import { Namespace } from "../../src/meta/namespace/machine.js";
import { MetaService } from "../../src/meta/service/service.js";
import { codeOf, TestClient } from "./helpers/client.js";
import { dumpNamespace } from "./helpers/dump.js";
import { inProcessFixture } from "./helpers/fixture.js";
import { MemoryJournal } from "./helpers/memory-journal.js";

async function setup() {
  const fx = inProcessFixture();
  const token = fx.issue({ client: "alice", mode: "rw", subtreeRoot: ROOT_INO });
  const s = await fx.api.openSession({ token }, { requestId: "s1", ttlMs: 10_000 });
  const c = new TestClient(fx.api, { token, sessionId: s.sessionId });
  return { fx, c, token };
}

/** Recover as the durability layer does: checkpoint image + replay of the journal tail. */
function recover(image: Buffer, tail: MemoryJournal["records"]): Namespace {
  const ns = Namespace.importImage(image);
  for (const e of tail) if (e.version > ns.version) ns.replay(e);
  return ns;
}

describe("MetaService", () => {
  it("a retry after a restart gets the first answer, without a second effect", async () => {
    const { fx, c } = await setup();
    const req = { requestId: "mk-1", parent: ROOT_INO, name: c.sealed(ROOT_INO, "d"), mode: 0o755, uid: 0, gid: 0 };
    const first = await fx.api.mkdir(c.ctx, req);
    const image = Namespace.importImage(new Namespace().exportImage()).exportImage(); // empty checkpoint
    const ns = recover(image, fx.journal.records);
    expect(dumpNamespace(ns)).toEqual(dumpNamespace(fx.service.ns));
    const restarted = new MetaService({
      journal: new MemoryJournal(ns.version),
      tokenKey: fx.key,
      namespace: ns,
      schedule: [],
    });
    expect(await restarted.mkdir(c.ctx, req)).toEqual(first);
    expect(ns.version).toBe(fx.service.ns.version);
    const other = await codeOf(restarted.mkdir(c.ctx, { ...req, requestId: "mk-2" }));
    expect(other).toBe("EEXIST");
  });

  it("sessions expire without heartbeats and release their unlinked-open files", async () => {
    const { fx, c } = await setup();
    const f = await c.create(ROOT_INO, "f", { open: true });
    await c.unlink(ROOT_INO, "f");
    fx.clock.now += 5_000;
    await fx.api.heartbeat(c.ctx);
    fx.clock.now += 9_000;
    expect(await fx.service.sweepSessions()).toEqual([]);
    expect((await c.getattr(f.ino)).nlink).toBe(0);
    fx.clock.now += 2_000;
    expect(await fx.service.sweepSessions()).toEqual([c.ctx.sessionId]);
    expect(await codeOf(c.getattr(f.ino))).toBe("ENOENT");
    expect(await codeOf(fx.api.heartbeat(c.ctx))).toBe("STALE_SESSION");
  });

  it("sessions and open handles survive a restart; the new service grants a fresh lease", async () => {
    const { fx, c } = await setup();
    const f = await c.create(ROOT_INO, "f", { open: true });
    await c.unlink(ROOT_INO, "f");
    const ns = Namespace.importImage(fx.service.ns.exportImage());
    const clock = { now: fx.clock.now + 60_000 };
    const svc = new MetaService({
      journal: new MemoryJournal(ns.version),
      tokenKey: fx.key,
      namespace: ns,
      clock: () => clock.now,
      schedule: [],
    });
    const c2 = new TestClient(svc, c.ctx);
    expect((await c2.getattr(f.ino)).nlink).toBe(0);
    await svc.heartbeat(c.ctx);
    clock.now += 11_000;
    await svc.sweepSessions();
    expect(await codeOf(c2.getattr(f.ino))).toBe("ENOENT");
  });

  it("stops for good when a journal append fails (fail-stop)", async () => {
    const { fx, c } = await setup();
    fx.journal.failAfter = 0;
    expect(await codeOf(c.mkdir(ROOT_INO, "x"))).toBe("UNAVAILABLE");
    expect(await codeOf(c.getattr(ROOT_INO))).toBe("UNAVAILABLE");
  });

  it("acknowledges only after the journal append resolved", async () => {
    const { fx, c } = await setup();
    fx.journal.delayMs = 50;
    const before = fx.journal.records.length;
    const p = c.mkdir(ROOT_INO, "slow");
    let done = false;
    void p.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(fx.journal.records.length).toBe(before + 1);
    expect(done).toBe(false);
    await p;
    expect(done).toBe(true);
  });

  it("snapshots survive a checkpoint image with structure shared again", async () => {
    const { fx, c } = await setup();
    const admin = { token: fx.issue({ client: "adm", mode: "admin", subtreeRoot: ROOT_INO }) };
    const d = await c.mkdir(ROOT_INO, "d");
    for (let i = 0; i < 20; i++) await c.create(d.ino, `f${i}`);
    await fx.api.createSnapshot(admin, { requestId: "s-a", name: "a" });
    await c.unlink(d.ino, "f3");
    await c.create(d.ino, "new");
    await fx.api.createSnapshot(admin, { requestId: "s-b", name: "b" });
    await c.rmdir(ROOT_INO, "d").catch(() => {});
    await c.unlink(d.ino, "f4");
    const ns = Namespace.importImage(fx.service.ns.exportImage());
    expect(dumpNamespace(ns)).toEqual(dumpNamespace(fx.service.ns));
    const a = ns.snapshot("a").tree.inodes;
    const b = ns.snapshot("b").tree.inodes;
    expect(a.get(d.ino + 10)).toBe(b.get(d.ino + 10)); // same object: shared, not duplicated
  });

  it("runs the snapshot schedule with retention", async () => {
    const fx = inProcessFixture({ start: Date.UTC(2026, 0, 1) });
    const svc = new MetaService({
      journal: new MemoryJournal(),
      tokenKey: fx.key,
      clock: () => fx.clock.now,
      schedule: [
        { name: "hourly", everyMs: 3_600_000, keep: 3 },
        { name: "daily", everyMs: 86_400_000, keep: 2 },
      ],
    });
    const admin = { token: fx.issue({ client: "adm", mode: "admin", subtreeRoot: ROOT_INO }) };
    await svc.createSnapshot(admin, { requestId: "manual", name: "manual" });
    for (let minute = 0; minute < 60 * 50; minute += 10) {
      await svc.runSchedule();
      fx.clock.now += 600_000;
    }
    const snaps = (await svc.listSnapshots(admin)).snapshots;
    // 50 hours of 10-minute ticks from Jan 1 00:00: the last three hourly ones remain.
    expect(snaps.filter((s) => s.schedule === "hourly").map((s) => s.name)).toEqual([
      "hourly-2026-01-02T23:00:00Z",
      "hourly-2026-01-03T00:00:00Z",
      "hourly-2026-01-03T01:00:00Z",
    ]);
    expect(snaps.filter((s) => s.schedule === "daily").length).toBe(2);
    expect(snaps.some((s) => s.name === "manual")).toBe(true);
  });

  it("tokens: expiry, forgery, subtree admin refused", () => {
    const key = randomBytes(32);
    let now = 1000;
    const v = new TokenVerifier(key, () => now);
    const t = issueToken(key, { client: "x", mode: "ro", subtreeRoot: 5, expiresAt: 2000 });
    expect(v.verify(t)).toEqual({ client: "x", mode: "ro", subtreeRoot: 5, expiresAt: 2000 });
    now = 2000;
    expect(() => v.verify(t)).toThrow(/expired/);
    const other = new TokenVerifier(randomBytes(32), () => 0);
    expect(() => other.verify(t)).toThrow(/signature/);
    expect(() => issueToken(key, { client: "x", mode: "admin", subtreeRoot: 5 })).toThrow(/subtree/);
  });
});
