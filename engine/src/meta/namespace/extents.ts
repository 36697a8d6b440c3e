/**
 * Extent lists: per file, sorted by offset, non-overlapping. A newer write shadows whatever
 * it overlaps, so `overlay` cuts the older pieces around it instead of keeping history;
 * pieces that continue each other in the same chunk are merged so a file written
 * sequentially in many commits still has one extent per chunk.
 */
import type { Extent } from "../api.js";

function cut(e: Extent, from: number, to: number): Extent {
  return { offset: from, length: to - from, chunk: e.chunk, chunkOffset: e.chunkOffset + (from - e.offset) };
}

/** Binary search: index of the first extent whose end is past `offset`. */
function firstEndingAfter(list: readonly Extent[], offset: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = list[mid]!;
    if (e.offset + e.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function continues(a: Extent, b: Extent): boolean {
  return a.chunk === b.chunk && a.offset + a.length === b.offset && a.chunkOffset + a.length === b.chunkOffset;
}

/** Lay one new extent over a list (returns a new list; the input is not modified). */
export function overlay(list: readonly Extent[], w: Extent): Extent[] {
  if (w.length === 0) return list.slice();
  const start = w.offset;
  const end = w.offset + w.length;
  const i = firstEndingAfter(list, start);
  const out = list.slice(0, i);
  let j = i;
  const pieces: Extent[] = [];
  while (j < list.length && list[j]!.offset < end) {
    const e = list[j]!;
    if (e.offset < start) pieces.push(cut(e, e.offset, start));
    if (e.offset + e.length > end) pieces.push(cut(e, end, e.offset + e.length));
    j++;
  }
  const before = pieces.length > 0 && pieces[0]!.offset < start ? pieces[0] : undefined;
  const after = pieces.find((p) => p.offset >= end);
  const fresh: Extent = { offset: w.offset, length: w.length, chunk: w.chunk, chunkOffset: w.chunkOffset };
  if (before) out.push(before);
  const last = out[out.length - 1];
  if (last && continues(last, fresh)) out[out.length - 1] = { ...last, length: last.length + fresh.length };
  else out.push(fresh);
  if (after) {
    const tail = out[out.length - 1]!;
    if (continues(tail, after)) out[out.length - 1] = { ...tail, length: tail.length + after.length };
    else out.push(after);
  }
  for (; j < list.length; j++) {
    const e = list[j]!;
    const tail = out[out.length - 1]!;
    if (continues(tail, e)) out[out.length - 1] = { ...tail, length: tail.length + e.length };
    else out.push(e);
  }
  return out;
}

/** Drop everything at or past `size`. */
export function truncateExtents(list: readonly Extent[], size: number): readonly Extent[] {
  const i = firstEndingAfter(list, size);
  if (i === list.length) return list;
  const out = list.slice(0, i);
  const e = list[i]!;
  if (e.offset < size) out.push(cut(e, e.offset, size));
  return out;
}

/** Extents overlapping [offset, offset+length), clipped to it. */
export function extentsInRange(list: readonly Extent[], offset: number, length: number): Extent[] {
  const end = offset + length;
  const out: Extent[] = [];
  for (let i = firstEndingAfter(list, offset); i < list.length && list[i]!.offset < end; i++) {
    const e = list[i]!;
    out.push(cut(e, Math.max(e.offset, offset), Math.min(e.offset + e.length, end)));
  }
  return out;
}

export function extentsEnd(list: readonly Extent[]): number {
  const last = list[list.length - 1];
  return last ? last.offset + last.length : 0;
}
