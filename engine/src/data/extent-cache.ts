/**
 * Extent maps cached per file in aligned windows, so a sequential stream asks the metadata
 * service once per `windowBytes` rather than once per read (first byte stays at 2 round trips:
 * one for extents, one for the range GET). The VFS invalidates a file when it commits through
 * write-back or when an invalidation for it arrives (close-to-open).
 */
import type { Extent, ExtentSource } from "./types.js";

export class CachedExtentSource implements ExtentSource {
  private readonly files = new Map<number, Map<number, Promise<Extent[]>>>();

  constructor(
    private readonly inner: ExtentSource,
    /** 64 MiB: a few hundred extents at most for sequentially written files. */
    readonly windowBytes = 64 * 1024 * 1024,
  ) {}

  /**
   * Extents of the first window learned another way (a lookup that answered them): the open and
   * first read of a cold file then cost no extents round trip. Replaces what is cached there.
   */
  seedHead(ino: number, extents: Extent[]): void {
    let windows = this.files.get(ino);
    if (!windows) {
      windows = new Map();
      this.files.set(ino, windows);
    }
    windows.set(0, Promise.resolve(extents));
  }

  async getExtents(ino: number, offset: number, length: number): Promise<Extent[]> {
    let windows = this.files.get(ino);
    if (!windows) {
      windows = new Map();
      this.files.set(ino, windows);
    }
    const first = Math.floor(offset / this.windowBytes);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / this.windowBytes);
    const parts: Promise<Extent[]>[] = [];
    for (let w = first; w <= last; w++) {
      let p = windows.get(w);
      if (!p) {
        p = this.inner.getExtents(ino, w * this.windowBytes, this.windowBytes);
        windows.set(w, p);
        const map = windows;
        p.catch(() => map.delete(w));
      }
      parts.push(p);
    }
    const end = offset + length;
    const seen = new Set<string>();
    const out: Extent[] = [];
    for (const list of await Promise.all(parts)) {
      for (const e of list) {
        if (e.offset + e.length <= offset || e.offset >= end) continue;
        // an extent crossing a window edge comes back from both windows
        const key = `${e.offset}:${e.chunkId}:${e.chunkOffset}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(e);
      }
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  invalidate(ino: number): void {
    this.files.delete(ino);
  }

  clear(): void {
    this.files.clear();
  }
}
