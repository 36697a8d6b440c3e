import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FsError } from "../../src/vfs/errors.js";
import { LockTable } from "../../src/vfs/memory-locks.js";
import type { ByteRangeLock } from "../../src/vfs/types.js";

const lock = (type: ByteRangeLock["type"], start: number, end: number): ByteRangeLock => ({ type, start, end, pid: 1 });
// Model domain: finite ranges stay within bytes 0..30; byte 31 stands for "31 to infinity",
// which only to-end-of-file locks reach.
const SIZE = 32;

describe("LockTable byte-range locks", () => {
  it("splits a write lock when a read lock is set in its middle", async () => {
    const t = new LockTable();
    await t.setlk(1, 1n, lock("write", 0, 99), false);
    await t.setlk(1, 1n, lock("read", 40, 59), false);
    expect(t.ranges(1).map((r) => [r.type, r.start, r.end])).toEqual([
      ["read", 40, 59],
      ["write", 0, 39],
      ["write", 60, 99],
    ]);
    await t.setlk(1, 1n, lock("write", 40, 59), false);
    expect(t.ranges(1).map((r) => [r.type, r.start, r.end])).toEqual([["write", 0, 99]]);
  });

  it("refuses conflicting locks without waiting and grants a waiter after release", async () => {
    const t = new LockTable();
    await t.setlk(1, 1n, lock("write", 10, Number.POSITIVE_INFINITY), false);
    await expect(t.setlk(1, 2n, lock("read", 100, 100), false)).rejects.toMatchObject({ code: "EAGAIN" });
    await t.setlk(1, 2n, lock("write", 0, 9), false);
    let granted = false;
    const waiting = t.setlk(1, 2n, lock("write", 5, 20), true).then(() => {
      granted = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(granted).toBe(false);
    t.releaseRanges(1, 1n);
    await waiting;
    expect(granted).toBe(true);
  });

  it("aborts a blocked wait with EINTR", async () => {
    const t = new LockTable();
    await t.setlk(1, 1n, lock("write", 0, 0), false);
    const ac = new AbortController();
    const waiting = t.setlk(1, 2n, lock("read", 0, 0), true, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(FsError);
    await expect(waiting).rejects.toMatchObject({ code: "EINTR" });
  });

  it("matches a byte-level model for random lock sequences", async () => {
    const op = fc.record({
      owner: fc.constantFrom(1n, 2n, 3n),
      type: fc.constantFrom("read", "write", "unlock") as fc.Arbitrary<ByteRangeLock["type"]>,
      start: fc.integer({ min: 0, max: 23 }),
      len: fc.integer({ min: 0, max: 8 }), // 0 = to end of file
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const t = new LockTable();
        const model = new Map<bigint, Array<"read" | "write" | undefined>>();
        for (const o of [1n, 2n, 3n]) model.set(o, Array(SIZE).fill(undefined));
        for (const { owner, type, start, len } of ops) {
          const end = len === 0 ? Number.POSITIVE_INFINITY : start + len - 1;
          const last = Math.min(end, SIZE - 1);
          let conflict = false;
          for (const [o, bytes] of model) {
            if (o === owner || type === "unlock") continue;
            for (let b = start; b <= last; b++) {
              if (bytes[b] === "write" || (type === "write" && bytes[b])) conflict = true;
            }
          }
          const res = await t.setlk(7, owner, lock(type, start, end), false).then(
            () => "ok",
            (e: FsError) => e.code,
          );
          expect(res).toBe(conflict ? "EAGAIN" : "ok");
          if (!conflict) {
            const bytes = model.get(owner) as Array<"read" | "write" | undefined>;
            for (let b = start; b <= last; b++) bytes[b] = type === "unlock" ? undefined : type;
          }
        }
        for (const [o, bytes] of model) {
          const actual = Array<"read" | "write" | undefined>(SIZE).fill(undefined);
          for (const r of t.ranges(7)) {
            if (r.owner !== o) continue;
            for (let b = r.start; b <= Math.min(r.end, SIZE - 1); b++) actual[b] = r.type;
          }
          expect(actual).toEqual(bytes);
        }
        // Merged: no two ranges of one owner and type touch.
        const rs = t.ranges(7);
        for (const a of rs)
          for (const b of rs)
            if (a !== b && a.owner === b.owner && a.type === b.type)
              expect(a.end + 1 < b.start || b.end + 1 < a.start).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe("LockTable flock", () => {
  it("shares, excludes, converts and interrupts", async () => {
    const t = new LockTable();
    await t.flock(1, 1n, "shared", false);
    await t.flock(1, 2n, "shared", false);
    await expect(t.flock(1, 3n, "exclusive", false)).rejects.toMatchObject({ code: "EWOULDBLOCK" });
    const ac = new AbortController();
    const w = t.flock(1, 3n, "exclusive", true, ac.signal);
    ac.abort();
    await expect(w).rejects.toMatchObject({ code: "EINTR" });
    const w2 = t.flock(1, 3n, "exclusive", true);
    t.releaseFlock(1, 1n);
    await t.flock(1, 2n, "unlock", false);
    await w2;
    await expect(t.flock(1, 1n, "shared", false)).rejects.toMatchObject({ code: "EWOULDBLOCK" });
  });
});
