/**
 * Namespace-level behaviour the durability and GC layers rely on: captureImage freezes the
 * state at capture time, chunk usage lists ranges, image round trips keep snapshots, and
 * replay refuses gaps.
 */
import { describe, expect, it } from "vitest";
import { Namespace } from "../../src/meta/namespace/machine.js";
import type { NsRecord } from "../../src/meta/namespace/records.js";
import { dumpNamespace } from "./helpers/dump.js";
import { nameToken } from "./helpers/names.js";

const tok = (name: string) => nameToken(1, name).toString("base64");
const sealed = (name: string) => Buffer.from(name).toString("base64");

function mkfile(ns: Namespace, name: string): number {
  const ino = ns.nextIno;
  ns.apply({
    op: "make",
    t: 1,
    parent: 1,
    token: tok(name),
    sealed: sealed(name),
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    rdev: 0,
    ino,
  });
  return ino;
}

function write(ns: Namespace, ino: number, chunk: string, offset: number, length: number, sessionId = "s"): void {
  ns.apply({
    op: "commitWrite",
    t: 2,
    ino,
    sessionId,
    extents: [{ offset, length, chunk, chunkOffset: offset }],
    newSize: 0,
    mtime: 2,
  });
}

describe("Namespace", () => {
  it("captureImage freezes the state at capture time", () => {
    const ns = new Namespace();
    ns.apply({ op: "openSession", t: 0, sessionId: "s", client: "c", ttlMs: 1000 });
    const a = mkfile(ns, "a");
    const before = dumpNamespace(ns);
    const thunk = ns.captureImage();
    mkfile(ns, "b");
    ns.apply({ op: "unlink", t: 3, parent: 1, token: tok("a"), dir: false });
    ns.apply({ op: "closeSession", t: 4, sessionId: "s" });
    const restored = Namespace.importImage(thunk());
    expect(dumpNamespace(restored)).toEqual(before);
    expect(restored.live.inodes.has(a)).toBe(true);
  });

  it("lists chunk usage across live tree, snapshots and unlinked-open files", () => {
    const ns = new Namespace();
    ns.apply({ op: "openSession", t: 0, sessionId: "s", client: "c", ttlMs: 1000 });
    const a = mkfile(ns, "a");
    const b = mkfile(ns, "b");
    write(ns, a, "c1", 0, 100);
    write(ns, b, "c2", 0, 50);
    ns.apply({ op: "createSnapshot", t: 5, name: "snap" });
    write(ns, a, "c3", 0, 100);
    ns.apply({ op: "open", t: 6, ino: b, sessionId: "s", handle: "h", truncate: false });
    ns.apply({ op: "unlink", t: 7, parent: 1, token: tok("b"), dir: false });
    expect(ns.chunkReferences()).toEqual(["c1", "c2", "c3"]);
    expect(ns.chunkUsage()).toEqual([
      { chunkId: "c1", ranges: [{ offset: 0, length: 100 }] },
      { chunkId: "c2", ranges: [{ offset: 0, length: 50 }] },
      { chunkId: "c3", ranges: [{ offset: 0, length: 100 }] },
    ]);
    ns.apply({ op: "deleteSnapshot", t: 8, name: "snap" });
    expect(ns.chunkReferences()).toEqual(["c2", "c3"]);
    ns.apply({ op: "release", t: 9, sessionId: "s", handle: "h" });
    expect(ns.chunkReferences()).toEqual(["c3"]);
  });

  it("re-exports directories that were never touched after a restart unchanged", () => {
    const ns = new Namespace();
    const d = ns.nextIno;
    ns.apply({
      op: "make",
      t: 1,
      parent: 1,
      token: tok("d"),
      sealed: sealed("d"),
      type: "dir",
      mode: 0o755,
      uid: 0,
      gid: 0,
      rdev: 0,
      ino: d,
    });
    for (let i = 0; i < 50; i++) {
      const ino = ns.nextIno;
      const token = nameToken(d, `f${i}`).toString("base64");
      ns.apply({
        op: "make",
        t: 1,
        parent: d,
        token,
        sealed: sealed(`f${i}`),
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        rdev: 0,
        ino,
      });
    }
    const want = dumpNamespace(ns);
    const once = Namespace.importImage(ns.exportImage());
    const twice = Namespace.importImage(once.exportImage()); // directories still undecoded in `once`
    expect(dumpNamespace(twice)).toEqual(want);
    expect(dumpNamespace(once)).toEqual(want);
  });

  it("a refused record changes nothing (atomic apply)", () => {
    const ns = new Namespace();
    mkfile(ns, "a");
    const before = dumpNamespace(ns);
    const bad: NsRecord = {
      op: "make",
      t: 1,
      parent: 1,
      token: tok("a"),
      sealed: sealed("a"),
      type: "dir",
      mode: 0o755,
      uid: 0,
      gid: 0,
      rdev: 0,
      ino: 99,
    };
    expect(() => ns.apply(bad)).toThrow(/EEXIST/);
    expect(dumpNamespace(ns)).toEqual(before);
  });

  it("replay refuses a gap in versions", () => {
    const ns = new Namespace();
    expect(() => ns.replay({ version: 2, record: { op: "createSnapshot", t: 1, name: "x" } })).toThrow(/gap/);
  });

  it("rejects an image of an unknown format", () => {
    expect(() => Namespace.importImage(Buffer.from([2, 0, 0, 0, 123, 125]))).toThrow(/format/);
  });
});
