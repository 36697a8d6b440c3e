/**
 * Non-overlapping intervals over file offsets where a newer `set` shadows what it covers
 * (splitting older intervals). Used for the read-your-writes overlay and to drop shadowed bytes
 * before upload. Sorted array: writes are mostly appends, so inserts are near the end.
 */

export interface Interval<T> {
  start: number;
  end: number;
  value: T;
  /** Offset of `start` within the value's bytes (moves when an interval's front is cut off). */
  skip: number;
}

export class IntervalMap<T> {
  readonly items: Interval<T>[] = [];

  set(start: number, end: number, value: T): void {
    if (end <= start) return;
    this.cut(start, end);
    let i = this.items.length;
    while (i > 0 && this.items[i - 1]!.start > start) i--;
    this.items.splice(i, 0, { start, end, value, skip: 0 });
  }

  /** Remove everything in [start, end), splitting intervals that straddle the edges. */
  cut(start: number, end: number): void {
    const out: Interval<T>[] = [];
    for (const it of this.items) {
      if (it.end <= start || it.start >= end) {
        out.push(it);
        continue;
      }
      if (it.start < start) out.push({ start: it.start, end: start, value: it.value, skip: it.skip });
      if (it.end > end) out.push({ start: end, end: it.end, value: it.value, skip: it.skip + (end - it.start) });
    }
    this.items.length = 0;
    this.items.push(...out);
  }

  /** Intervals intersecting [start, end), clipped to it. */
  overlapping(start: number, end: number): Interval<T>[] {
    const out: Interval<T>[] = [];
    for (const it of this.items) {
      if (it.end <= start || it.start >= end) continue;
      const s = Math.max(it.start, start);
      out.push({ start: s, end: Math.min(it.end, end), value: it.value, skip: it.skip + (s - it.start) });
    }
    return out;
  }

  removeWhere(pred: (value: T) => boolean): void {
    const keep = this.items.filter((it) => !pred(it.value));
    this.items.length = 0;
    this.items.push(...keep);
  }

  get size(): number {
    return this.items.length;
  }
}
