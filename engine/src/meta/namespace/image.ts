/**
 * Checkpoint image encoding. A 1M-inode tree must load in seconds, so inodes are written in
 * a compact binary form (fixed fields, then optional sections flagged in a bitmask) and read
 * back into a persistent map with mutable batching — no JSON for the bulk, no recursion.
 *
 *   u32 headerLength | header JSON | live tree | snapshot diffs (newest first)
 *   tree/diff := { f64 ino (0 ends), u8 present(1)/deleted(0), inode }*
 *
 * Snapshots are written as *diffs* against the next newer tree (live for the newest): the
 * inodes that differ by identity (shared structure means unchanged inodes are the same
 * object) plus the inode numbers that did not exist yet. Loading applies the diffs to the
 * newer map, so snapshot trees share structure again after a restart. Cost: exporting walks
 * every snapshot tree once (O(inodes × snapshots) identity checks).
 */
import { Map as IMap } from "immutable";
import type { Extent, FileType } from "../api.js";
import { BinReader, BinWriter } from "./binary.js";
import { type Dirent, type Inode, type Inodes, TOKEN_KEY_CHARS, tokenKey, type Xattr } from "./types.js";

const TYPES: readonly FileType[] = ["file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev"];
const TYPE_INDEX = new Map(TYPES.map((t, i) => [t, i]));

enum Has {
  ExtraParents = 1,
  NameScope = 2,
  Usage = 4,
  QuotaBytes = 8,
  QuotaFiles = 16,
  Target = 32,
  Xattrs = 64,
  Extents = 128,
  LockToken = 256,
  Entries = 512,
}

function writeInode(w: BinWriter, n: Inode): void {
  // Read `entries` only when not lazily held: touching the getter would decode it.
  const raw = lazyEntries.get(n);
  const entries = raw ? undefined : n.entries;
  w.u8(TYPE_INDEX.get(n.type)!);
  w.u16(n.mode);
  w.u32(n.uid);
  w.u32(n.gid);
  w.f64(n.size);
  w.f64(n.atime);
  w.f64(n.mtime);
  w.f64(n.ctime);
  w.u32(n.nlink);
  w.f64(n.generation);
  w.u32(n.rdev);
  w.f64(n.parent);
  const has =
    (n.extraParents ? Has.ExtraParents : 0) |
    (n.nameScope !== undefined ? Has.NameScope : 0) |
    (n.usageBytes !== undefined ? Has.Usage : 0) |
    (n.quotaBytes !== undefined ? Has.QuotaBytes : 0) |
    (n.quotaFiles !== undefined ? Has.QuotaFiles : 0) |
    (n.target ? Has.Target : 0) |
    (n.xattrs ? Has.Xattrs : 0) |
    (n.extents ? Has.Extents : 0) |
    (n.lockToken !== undefined ? Has.LockToken : 0) |
    (raw || entries ? Has.Entries : 0);
  w.u16(has);
  if (n.extraParents) {
    w.u32(n.extraParents.length);
    for (const p of n.extraParents) w.f64(p);
  }
  if (n.nameScope !== undefined) w.f64(n.nameScope);
  if (n.usageBytes !== undefined) {
    w.f64(n.usageBytes);
    w.f64(n.usageFiles ?? 0);
  }
  if (n.quotaBytes !== undefined) w.f64(n.quotaBytes);
  if (n.quotaFiles !== undefined) w.f64(n.quotaFiles);
  if (n.target) w.bytes(n.target);
  if (n.xattrs) {
    w.u32(n.xattrs.size);
    for (const x of n.xattrs.values()) {
      w.bytes(x.token);
      w.bytes(x.sealed);
      w.bytes(x.value);
    }
  }
  if (n.extents) {
    w.u32(n.extents.length);
    for (const e of n.extents) {
      w.f64(e.offset);
      w.f64(e.length);
      w.f64(e.chunkOffset);
      w.str(e.chunk, "utf8");
    }
  }
  if (n.lockToken !== undefined) w.f64(n.lockToken);
  if (raw) {
    w.u32(raw.count);
    w.bytes(raw.blob);
  } else if (entries) {
    const body = new BinWriter(Math.min(entries.size * 64, 4 << 20));
    for (const [key, e] of entries) {
      body.str(key, "utf16le");
      body.f64(e.ino);
      body.str(e.sealed, "latin1");
    }
    w.u32(entries.size);
    w.bytes(body.finish());
  }
}

/**
 * Directory entries are decoded lazily: recovery only copies each directory's encoded entries
 * and decodes them on first access (they are half of all map insertions in a typical tree).
 * A directory still undecoded at the next checkpoint is written back from its bytes.
 */
const lazyEntries = new WeakMap<object, { count: number; blob: Buffer }>();

function decodeEntries(count: number, blob: Buffer): IMap<string, Dirent> {
  const r = new BinReader(blob);
  const m = IMap<string, Dirent>().asMutable();
  for (let i = count; i > 0; i--) {
    const key = r.str("utf16le");
    if (key.length !== TOKEN_KEY_CHARS) throw new RangeError("metadata image has a malformed entry token");
    const ino = r.f64();
    m.set(key, { ino, sealed: r.str("latin1") });
  }
  return m.asImmutable();
}

function defineLazyEntries(n: object, count: number, blob: Buffer): void {
  lazyEntries.set(n, { count, blob });
  Object.defineProperty(n, "entries", {
    configurable: true,
    enumerable: true,
    get(this: object) {
      const entries = decodeEntries(count, blob);
      Object.defineProperty(this, "entries", { value: entries, configurable: true, enumerable: true, writable: true });
      lazyEntries.delete(this);
      return entries;
    },
  });
}

function readInode(r: BinReader): Inode {
  const n: { -readonly [K in keyof Inode]: Inode[K] } = {
    type: TYPES[r.u8()]!,
    mode: r.u16(),
    uid: r.u32(),
    gid: r.u32(),
    size: r.f64(),
    atime: r.f64(),
    mtime: r.f64(),
    ctime: r.f64(),
    nlink: r.u32(),
    generation: r.f64(),
    rdev: r.u32(),
    parent: r.f64(),
  };
  const has = r.u16();
  if (has & Has.ExtraParents) {
    const ps: number[] = [];
    for (let i = r.u32(); i > 0; i--) ps.push(r.f64());
    n.extraParents = ps;
  }
  if (has & Has.NameScope) n.nameScope = r.f64();
  if (has & Has.Usage) {
    n.usageBytes = r.f64();
    n.usageFiles = r.f64();
  }
  if (has & Has.QuotaBytes) n.quotaBytes = r.f64();
  if (has & Has.QuotaFiles) n.quotaFiles = r.f64();
  if (has & Has.Target) n.target = r.bytes();
  if (has & Has.Xattrs) {
    const m = IMap<string, Xattr>().asMutable();
    for (let i = r.u32(); i > 0; i--) {
      const token = r.bytes();
      m.set(tokenKey(token), { token, sealed: r.bytes(), value: r.bytes() });
    }
    n.xattrs = m.asImmutable();
  }
  if (has & Has.Extents) {
    const list: Extent[] = [];
    for (let i = r.u32(); i > 0; i--) {
      const offset = r.f64();
      const length = r.f64();
      const chunkOffset = r.f64();
      list.push({ offset, length, chunk: r.str("utf8"), chunkOffset });
    }
    n.extents = list;
  }
  if (has & Has.LockToken) n.lockToken = r.f64();
  if (has & Has.Entries) {
    const count = r.u32();
    defineLazyEntries(n, count, r.bytes());
  }
  return n;
}

export class ImageWriter {
  readonly w = new BinWriter();

  json(value: unknown): void {
    this.w.str(JSON.stringify(value), "utf8");
  }

  /** A tree or diff: [ino, inode | null (deleted)] pairs, then the end marker. */
  inodes(pairs: Iterable<[number, Inode | null]>): void {
    runSlices(this.inodesInSlices(pairs, Number.POSITIVE_INFINITY));
  }

  /** Like `inodes`, pausing (yield) after every `every` inodes so the caller can let others run. */
  *inodesInSlices(pairs: Iterable<[number, Inode | null]>, every: number): Generator<void, void> {
    let count = 0;
    for (const [ino, n] of pairs) {
      this.w.f64(ino);
      this.w.u8(n ? 1 : 0);
      if (n) writeInode(this.w, n);
      if (++count >= every) {
        count = 0;
        yield;
      }
    }
    this.w.f64(0);
  }

  finish(): Buffer {
    return this.w.finish();
  }
}

/** Run a sliced serialisation to the end at once. */
export function runSlices<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Run a sliced serialisation, yielding to the event loop (setImmediate) between slices, so
 * journal appends and calls keep being served while a big image is written.
 */
export async function runSlicesYielding<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export class ImageReader {
  readonly r: BinReader;
  constructor(buf: Buffer) {
    this.r = new BinReader(buf);
  }

  json<T>(): T {
    return JSON.parse(this.r.str("utf8")) as T;
  }

  /** Apply a tree or diff onto `base` (empty for a full tree). */
  inodes(base: Inodes): Inodes {
    const m = base.asMutable();
    for (let ino = this.r.f64(); ino !== 0; ino = this.r.f64()) {
      if (this.r.u8() === 1) m.set(ino, readInode(this.r));
      else m.delete(ino);
    }
    return m.asImmutable();
  }
}
