/** The structural tree diff must equal the brute-force comparison, for any edit history. */
import fc from "fast-check";
import { Map as IMap } from "immutable";
import { describe, expect, it } from "vitest";
import { diffTrees } from "../../src/meta/namespace/diff.js";
import type { Inode, Inodes } from "../../src/meta/namespace/types.js";

const inode = (size: number): Inode => ({
  type: "file",
  mode: 0o644,
  uid: 0,
  gid: 0,
  size,
  atime: 0,
  mtime: 0,
  ctime: 0,
  nlink: 1,
  generation: 1,
  rdev: 0,
  parent: 1,
});

function brute(older: Inodes, newer: Inodes): Array<[number, number | null]> {
  const out: Array<[number, number | null]> = [];
  for (const [k, v] of older) if (newer.get(k) !== v) out.push([k, v.size]);
  for (const k of newer.keys()) if (!older.has(k)) out.push([k, null]);
  return out.sort((a, b) => a[0] - b[0]);
}

const edits = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 5000 })), { maxLength: 300 });

describe("diffTrees", () => {
  it("equals the brute-force diff for shared histories of any size", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), edits, edits, (base, e1, e2) => {
        let a: Inodes = IMap<number, Inode>().withMutations((m) => {
          for (let i = 1; i <= base; i++) m.set(i, inode(i));
        });
        for (const [del, k] of e1) a = del ? a.delete(k) : a.set(k, inode(-k));
        let b = a;
        for (const [del, k] of e2) b = del ? b.delete(k) : b.set(k, inode(k * 7));
        const got = [...diffTrees(a, b)].map(([k, v]) => [k, v ? v.size : null] as [number, number | null]);
        expect(got.sort((x, y) => x[0] - y[0])).toEqual(brute(a, b));
      }),
      { numRuns: 200 },
    );
  });

  it("touches only what changed in a large tree", () => {
    const big: Inodes = IMap<number, Inode>().withMutations((m) => {
      for (let i = 1; i <= 200_000; i++) m.set(i, inode(i));
    });
    const next = big.set(77, inode(1)).delete(99).set(300_000, inode(3));
    // Structural sharing: the diff must cost far less than one walk over the tree. Both are timed
    // here, under the same load, so the bound holds on a busy machine too (best of three each).
    const best = (f: () => unknown) =>
      Math.min(
        ...[0, 1, 2].map(() => {
          const t0 = performance.now();
          f();
          return performance.now() - t0;
        }),
      );
    let d: Array<[number, unknown]> = [];
    const diffMs = best(() => {
      d = [...diffTrees(big, next)];
    });
    const walkMs = best(() => {
      let n = 0;
      for (const _ of big) n++;
      return n;
    });
    expect(diffMs).toBeLessThan(walkMs / 10);
    expect(d.map(([k]) => k).sort((x, y) => x - y)).toEqual([77, 99, 300_000]);
  });
});
