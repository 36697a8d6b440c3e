/** Extent lists against a byte-array model: newer writes shadow older ones, truncate cuts. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Extent } from "../../src/meta/api.js";
import { extentsInRange, overlay, truncateExtents } from "../../src/meta/namespace/extents.js";

const SIZE = 64;

/** Which (chunk, chunk offset) each byte comes from, or null for a hole. */
function render(list: readonly Extent[]): Array<string | null> {
  const bytes: Array<string | null> = new Array(SIZE).fill(null);
  for (const e of list) for (let i = 0; i < e.length; i++) bytes[e.offset + i] = `${e.chunk}@${e.chunkOffset + i}`;
  return bytes;
}

const write = fc.record({
  offset: fc.nat(SIZE - 1),
  length: fc.nat(16),
  chunk: fc.constantFrom("x", "y", "z"),
  chunkOffset: fc.nat(100),
});

describe("extents", () => {
  it("overlay and truncate match a byte model; the list stays sorted, disjoint and merged", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            write,
            fc.nat(SIZE).map((n) => ({ truncate: n })),
          ),
        ),
        (steps) => {
          let list: readonly Extent[] = [];
          let model: Array<string | null> = new Array(SIZE).fill(null);
          for (const s of steps) {
            if ("truncate" in s) {
              list = truncateExtents(list, s.truncate);
              model = model.map((b, i) => (i < s.truncate ? b : null));
            } else {
              const w = { ...s, length: Math.min(s.length, SIZE - s.offset) };
              list = overlay(list, w);
              for (let i = 0; i < w.length; i++) model[w.offset + i] = `${w.chunk}@${w.chunkOffset + i}`;
            }
            expect(render(list)).toEqual(model);
            for (let i = 0; i < list.length; i++) {
              const e = list[i]!;
              expect(e.length).toBeGreaterThan(0);
              const next = list[i + 1];
              if (!next) continue;
              expect(e.offset + e.length).toBeLessThanOrEqual(next.offset);
              const mergeable =
                e.chunk === next.chunk &&
                e.offset + e.length === next.offset &&
                e.chunkOffset + e.length === next.chunkOffset;
              expect(mergeable).toBe(false);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("a sequential writer in one chunk keeps a single extent", () => {
    let list: readonly Extent[] = [];
    for (let i = 0; i < 100; i++) list = overlay(list, { offset: i * 10, length: 10, chunk: "c", chunkOffset: i * 10 });
    expect(list).toEqual([{ offset: 0, length: 1000, chunk: "c", chunkOffset: 0 }]);
  });

  it("range queries clip to the range", () => {
    const list = [
      { offset: 0, length: 10, chunk: "a", chunkOffset: 0 },
      { offset: 20, length: 10, chunk: "b", chunkOffset: 5 },
    ];
    expect(extentsInRange(list, 5, 20)).toEqual([
      { offset: 5, length: 5, chunk: "a", chunkOffset: 5 },
      { offset: 20, length: 5, chunk: "b", chunkOffset: 5 },
    ]);
  });
});
