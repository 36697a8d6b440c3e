/**
 * Read-your-writes: what the write-back log holds for a file that the metadata service does
 * not have yet. Intervals point into log segments (the data stays on local disk, not in RAM);
 * a pending truncate is a "floor" above which stored (base) data reads as zeros.
 *
 * A reader takes a `view` (synchronously, so no commit can slip in between) BEFORE it asks for
 * extents: either the view still holds a write, or its commit finished before the view and the
 * extents fetched afterwards include it. Released after each commit, in log order.
 */
import { IntervalMap } from "./interval-map.js";
import type { Segment } from "./segment.js";
import type { LogRecord } from "./segment-format.js";

interface Ref {
  seg: Segment;
  rec: LogRecord;
}

interface FileOverlay {
  map: IntervalMap<Ref>;
  floors: Ref[];
  latest: Ref;
}

export interface OverlayView {
  /** Stored data at or beyond this offset is gone (a pending truncate). */
  floor?: number;
  pieces: Array<{ offset: number; data: Buffer }>;
  /** The pieces cover the whole range: no need to read stored data. */
  covered: boolean;
}

const isAtOrBefore = (r: Ref, seq: number, index: number) =>
  r.seg.seq < seq || (r.seg.seq === seq && r.rec.index <= index);

export class WriteOverlay {
  private readonly files = new Map<number, FileOverlay>();

  private file(ino: number, ref: Ref): FileOverlay {
    let f = this.files.get(ino);
    if (!f) {
      f = { map: new IntervalMap<Ref>(), floors: [], latest: ref };
      this.files.set(ino, f);
    }
    f.latest = ref;
    return f;
  }

  apply(seg: Segment, rec: LogRecord): void {
    const ref = { seg, rec };
    const f = this.file(rec.ino, ref);
    if (rec.type === "write") f.map.set(rec.offset, rec.offset + rec.length, ref);
    else {
      f.map.cut(rec.offset, Number.MAX_SAFE_INTEGER);
      f.floors.push(ref);
    }
  }

  /** The writes and truncates of `ino` up to record `index` of segment `seq` are committed. */
  release(ino: number, seq: number, index: number): void {
    const f = this.files.get(ino);
    if (!f) return;
    f.map.removeWhere((r) => isAtOrBefore(r, seq, index));
    f.floors = f.floors.filter((r) => !isAtOrBefore(r, seq, index));
    if (isAtOrBefore(f.latest, seq, index)) this.files.delete(ino);
  }

  /** Size of the file as the pending log says, or undefined if nothing is pending for it. */
  pendingSize(ino: number): number | undefined {
    return this.files.get(ino)?.latest.rec.sizeAfter;
  }

  view(ino: number, offset: number, length: number): OverlayView {
    const f = this.files.get(ino);
    if (!f) return { pieces: [], covered: false };
    const end = offset + length;
    let covered = 0;
    const pieces = f.map.overlapping(offset, end).map((it) => {
      covered += it.end - it.start;
      return { offset: it.start, data: it.value.seg.read(it.value.rec, it.skip, it.end - it.start) };
    });
    const floor = f.floors.length > 0 ? Math.min(...f.floors.map((r) => r.rec.offset)) : undefined;
    return { floor, pieces, covered: covered === length };
  }

  get files_(): number {
    return this.files.size;
  }
}
