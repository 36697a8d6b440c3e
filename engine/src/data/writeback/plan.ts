/**
 * Turns a sealed segment's records into ordered commit steps and packs their bytes into chunks.
 *
 * Steps: per inode, consecutive writes form one "write" step (later writes shadow earlier ones,
 * so overwritten bytes are never uploaded); a truncate closes the inode's open write step and
 * is its own step. Per-inode order is the log order; steps of different inodes are independent.
 * The plan is a pure function of the records, so after a restart the same step numbers mean
 * the same thing (the `.done` file and commit ids rely on that).
 *
 * Packing: the write steps' pieces are laid end to end into chunks of at most `chunkBytes`
 * (several small files share a chunk; a big piece spans chunks).
 */
import { IntervalMap } from "./interval-map.js";
import type { LogRecord } from "./segment-format.js";

export interface Piece {
  fileOffset: number;
  length: number;
  record: LogRecord;
  /** Bytes into the record's data. */
  skip: number;
}

export type Step =
  | { kind: "write"; index: number; ino: number; lastRecord: number; pieces: Piece[]; newSize: number; mtime: number }
  | { kind: "truncate"; index: number; ino: number; lastRecord: number; size: number; mtime: number };

export function planSteps(records: readonly LogRecord[]): Step[] {
  const steps: Step[] = [];
  const open = new Map<number, { map: IntervalMap<LogRecord>; last: LogRecord }>();
  const close = (ino: number) => {
    const b = open.get(ino);
    if (!b) return;
    open.delete(ino);
    const pieces = b.map.items.map((it) => ({
      fileOffset: it.start,
      length: it.end - it.start,
      record: it.value,
      skip: it.skip,
    }));
    steps.push({
      kind: "write",
      index: steps.length,
      ino,
      lastRecord: b.last.index,
      pieces,
      newSize: b.last.sizeAfter,
      mtime: b.last.mtime,
    });
  };
  for (const r of records) {
    if (r.type === "truncate") {
      close(r.ino);
      steps.push({
        kind: "truncate",
        index: steps.length,
        ino: r.ino,
        lastRecord: r.index,
        size: r.offset,
        mtime: r.mtime,
      });
      continue;
    }
    let b = open.get(r.ino);
    if (!b) {
      b = { map: new IntervalMap<LogRecord>(), last: r };
      open.set(r.ino, b);
    }
    b.map.set(r.offset, r.offset + r.length, r);
    b.last = r;
  }
  for (const ino of [...open.keys()]) close(ino);
  return steps;
}

export interface ChunkPart {
  record: LogRecord;
  skip: number;
  length: number;
}

export interface PlannedChunk {
  parts: ChunkPart[];
  bytes: number;
}

/** Where a step's bytes went: extents with a chunk index to be replaced by the uploaded id. */
export interface PlannedExtent {
  offset: number;
  length: number;
  chunk: number;
  chunkOffset: number;
}

export function packChunks(
  steps: readonly Step[],
  chunkBytes: number,
): { chunks: PlannedChunk[]; extents: Map<number, PlannedExtent[]> } {
  const chunks: PlannedChunk[] = [];
  const extents = new Map<number, PlannedExtent[]>();
  let cur: PlannedChunk | undefined;
  for (const step of steps) {
    if (step.kind !== "write") continue;
    const list: PlannedExtent[] = [];
    extents.set(step.index, list);
    for (const p of step.pieces) {
      let done = 0;
      while (done < p.length) {
        if (!cur || cur.bytes >= chunkBytes) {
          cur = { parts: [], bytes: 0 };
          chunks.push(cur);
        }
        const n = Math.min(p.length - done, chunkBytes - cur.bytes);
        list.push({ offset: p.fileOffset + done, length: n, chunk: chunks.length - 1, chunkOffset: cur.bytes });
        cur.parts.push({ record: p.record, skip: p.skip + done, length: n });
        cur.bytes += n;
        done += n;
      }
    }
  }
  return { chunks, extents };
}
