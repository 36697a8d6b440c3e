import { describe, expect, it } from "vitest";
import { packChunks, planSteps } from "../../src/data/writeback/plan.js";
import type { LogRecord } from "../../src/data/writeback/segment-format.js";

const C = 64 * 1024;

/** Log records of writes `[ino, offset, length]` in log order (data positions are arbitrary). */
function records(writes: Array<[number, number, number]>): LogRecord[] {
  let pos = 0;
  return writes.map(([ino, offset, length], index) => {
    const r: LogRecord = {
      type: "write",
      ino,
      offset,
      sizeAfter: offset + length,
      mtime: 0,
      length,
      dataPos: pos,
      index,
    };
    pos += length + 100;
    return r;
  });
}

/** Sequential writes of `bytes` to `ino` from `from`, `piece` bytes each. */
function sequential(ino: number, from: number, bytes: number, piece: number): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let at = from; at < from + bytes; at += piece) out.push([ino, at, Math.min(piece, from + bytes - at)]);
  return out;
}

describe("packChunks", () => {
  it("gives each whole grid cell of a file its own chunk, whatever shares the segment", () => {
    // a small file first shifts everything after it: laid end to end, the big file's cells
    // would each straddle two chunks
    const recs = records([[1, 0, 10_000], ...sequential(2, 0, 2 * C + 5000, 16 * 1024), [3, 0, 3000]]);
    const steps = planSteps(recs);
    const { chunks, extents } = packChunks(steps, C);
    const big = extents.get(steps.find((s) => s.ino === 2)!.index)!;
    // the two whole cells: one extent each (four records merged), at offset 0 of a chunk of their own
    expect(big.slice(0, 2).map((e) => [e.offset, e.length, e.chunkOffset])).toEqual([
      [0, C, 0],
      [C, C, 0],
    ]);
    expect(chunks[big[0]!.chunk]!.bytes).toBe(C);
    expect(chunks[big[1]!.chunk]!.bytes).toBe(C);
    // the tail and the two small files share one chunk
    const tail = big[2]!;
    expect([tail.offset, tail.length]).toEqual([2 * C, 5000]);
    const small = [1, 3].map((ino) => extents.get(steps.find((s) => s.ino === ino)!.index)![0]!);
    expect(new Set([tail.chunk, small[0]!.chunk, small[1]!.chunk]).size).toBe(1);
    expect(chunks).toHaveLength(3);
  });

  it("maps every written byte exactly once, no chunk past chunkBytes, whole cells on their own", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 50; round++) {
      const writes: Array<[number, number, number]> = [];
      for (let i = 0; i < 40; i++) writes.push([1 + rand(4), rand(6 * C), 1 + rand(C + C / 2)]);
      const steps = planSteps(records(writes));
      const { chunks, extents } = packChunks(steps, C);
      for (const c of chunks) {
        expect(c.bytes).toBeLessThanOrEqual(C);
        expect(c.parts.reduce((n, p) => n + p.length, 0)).toBe(c.bytes);
      }
      const usedInChunk = chunks.map(() => [] as Array<[number, number]>);
      for (const step of steps) {
        if (step.kind !== "write") continue;
        const list = extents.get(step.index)!;
        // extents cover the step's pieces exactly, in order
        const covered = list.reduce((n, e) => n + e.length, 0);
        expect(covered).toBe(step.pieces.reduce((n, p) => n + p.length, 0));
        for (const e of list) usedInChunk[e.chunk]!.push([e.chunkOffset, e.chunkOffset + e.length]);
        // a cell the step wrote whole is one extent: all of a chunk of its own
        const inCell = new Map<number, number>();
        for (const p of step.pieces) {
          for (let at = p.fileOffset; at < p.fileOffset + p.length; ) {
            const k = Math.floor(at / C);
            const n = Math.min(p.fileOffset + p.length, (k + 1) * C) - at;
            inCell.set(k, (inCell.get(k) ?? 0) + n);
            at += n;
          }
        }
        for (const [k, n] of inCell) {
          if (n !== C) continue;
          const e = list.find((x) => x.offset <= k * C && k * C < x.offset + x.length)!;
          expect([e.offset, e.length, e.chunkOffset, chunks[e.chunk]!.bytes]).toEqual([k * C, C, 0, C]);
        }
      }
      // no two extents share chunk bytes, and together they fill each chunk
      usedInChunk.forEach((ranges, i) => {
        ranges.sort((a, b) => a[0] - b[0]);
        let at = 0;
        for (const [from, to] of ranges) {
          expect(from).toBe(at);
          at = to;
        }
        expect(at).toBe(chunks[i]!.bytes);
      });
    }
  });
});
