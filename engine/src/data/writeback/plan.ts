/**
 * Turns a sealed segment's records into ordered commit steps and packs their bytes into chunks.
 *
 * Steps: per inode, consecutive writes form one "write" step (later writes shadow earlier ones,
 * so overwritten bytes are never uploaded); a truncate closes the inode's open write step and
 * is its own step. Per-inode order is the log order; steps of different inodes are independent.
 * The plan is a pure function of the records, so after a restart the same step numbers mean
 * the same thing (the `.done` file and commit ids rely on that).
 *
 * Packing: a step's pieces are cut on the file's chunk grid (multiples of `chunkBytes`). A whole
 * grid cell gets a chunk of its own, so a file written sequentially is one object per cell
 * whatever shares its segment: a read or prefetch on the grid is one whole-object GET, and the
 * blocks of the object line up with the file's. Everything else (small files, the head and
 * tail of a file, scattered overwrites) is packed end to end into shared chunks of at most
 * `chunkBytes`; a fragment never straddles two chunks (it would cost a reader two GETs).
 * Laying pieces end to end regardless of the grid had cut a frame sequence's 8 MiB frames into
 * three objects each, the outer two shared with the neighbours (docs/benchmarks.md, session 13).
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
  /** The chunk partial cells are packed into (an index into `chunks`), -1 before the first. */
  let shared = -1;
  const startChunk = () => chunks.push({ parts: [], bytes: 0 }) - 1;
  for (const step of steps) {
    if (step.kind !== "write") continue;
    const list: PlannedExtent[] = [];
    extents.set(step.index, list);
    for (const cell of cellsOf(step.pieces, chunkBytes)) {
      const bytes = cell.reduce((n, f) => n + f.length, 0);
      let at: number;
      if (bytes === chunkBytes) at = startChunk();
      else {
        if (shared < 0 || chunks[shared]!.bytes + bytes > chunkBytes) shared = startChunk();
        at = shared;
      }
      const chunk = chunks[at]!;
      for (const f of cell) {
        const last = list.at(-1);
        if (
          last &&
          last.chunk === at &&
          last.offset + last.length === f.fileOffset &&
          last.chunkOffset + last.length === chunk.bytes
        ) {
          last.length += f.length; // one extent for a run of records (fewer extents to store and look up)
        } else list.push({ offset: f.fileOffset, length: f.length, chunk: at, chunkOffset: chunk.bytes });
        chunk.parts.push({ record: f.record, skip: f.skip, length: f.length });
        chunk.bytes += f.length;
      }
    }
  }
  return { chunks, extents };
}

/** A step's pieces (sorted, disjoint) cut on the chunk grid and grouped by grid cell. */
function* cellsOf(pieces: readonly Piece[], chunkBytes: number): Generator<Piece[]> {
  let cell: Piece[] = [];
  let cellIndex = -1;
  for (const p of pieces) {
    let done = 0;
    while (done < p.length) {
      const fileOffset = p.fileOffset + done;
      const index = Math.floor(fileOffset / chunkBytes);
      const length = Math.min(p.length - done, (index + 1) * chunkBytes - fileOffset);
      if (index !== cellIndex && cell.length > 0) {
        yield cell;
        cell = [];
      }
      cellIndex = index;
      cell.push({ fileOffset, length, record: p.record, skip: p.skip + done });
      done += length;
    }
  }
  if (cell.length > 0) yield cell;
}
