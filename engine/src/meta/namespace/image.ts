/**
 * Checkpoint image encoding. A 1M-inode tree must load in seconds, so the image is a
 * sequence of length-prefixed frames, each a JSON array of a few thousand inodes (no single
 * giant JSON.parse, no recursion), rebuilt into a persistent map with mutable batching.
 *
 *   u32 headerLength | header JSON | live tree frames | u32 0 | snapshot diffs ...
 *
 * Snapshots are written newest first, each as a *diff* against the next newer tree (live
 * for the newest): the inodes that differ (by identity — shared structure means unchanged
 * inodes are the same object) plus the inode numbers that did not exist yet. Loading applies
 * those diffs to the newer map, so snapshot trees share structure again after a restart.
 * Cost: exporting walks every snapshot tree once (O(inodes × snapshots) identity checks).
 */
import { Map as IMap } from "immutable";
import type { Extent } from "../api.js";
import { type Dirent, type Inode, type Inodes, tokenKey, type Xattr } from "./types.js";

const FRAME_INODES = 4096;

type Encoded = Record<string, unknown>;

function encodeInode(n: Inode): Encoded {
  const o: Encoded = { ...n };
  if (n.entries)
    o.entries = [...n.entries.values()].map((d) => [d.token.toString("base64"), d.ino, d.sealed.toString("base64")]);
  if (n.xattrs)
    o.xattrs = [...n.xattrs.values()].map((x) => [
      x.token.toString("base64"),
      x.sealed.toString("base64"),
      x.value.toString("base64"),
    ]);
  if (n.target) o.target = n.target.toString("base64");
  return o;
}

function decodeInode(o: Encoded): Inode {
  const n = o as unknown as { -readonly [K in keyof Inode]: Inode[K] };
  if (o.entries) {
    const m = IMap<string, Dirent>().asMutable();
    for (const [t, ino, s] of o.entries as Array<[string, number, string]>) {
      const token = Buffer.from(t, "base64");
      m.set(tokenKey(token), { ino, token, sealed: Buffer.from(s, "base64") });
    }
    n.entries = m.asImmutable();
  }
  if (o.xattrs) {
    const m = IMap<string, Xattr>().asMutable();
    for (const [t, s, v] of o.xattrs as Array<[string, string, string]>) {
      const token = Buffer.from(t, "base64");
      m.set(tokenKey(token), { token, sealed: Buffer.from(s, "base64"), value: Buffer.from(v, "base64") });
    }
    n.xattrs = m.asImmutable();
  }
  if (typeof o.target === "string") n.target = Buffer.from(o.target, "base64");
  if (o.extents) n.extents = o.extents as Extent[];
  return n;
}

export class ImageWriter {
  readonly #parts: Buffer[] = [];

  json(value: unknown): void {
    const body = Buffer.from(JSON.stringify(value));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(body.length);
    this.#parts.push(len, body);
  }

  end(): void {
    this.#parts.push(Buffer.alloc(4));
  }

  /** Frames of [ino, inode|null] pairs; null = delete. */
  inodes(pairs: Iterable<[number, Inode | null]>): void {
    let frame: unknown[] = [];
    for (const [ino, n] of pairs) {
      frame.push(ino, n ? encodeInode(n) : null);
      if (frame.length >= FRAME_INODES * 2) {
        this.json(frame);
        frame = [];
      }
    }
    if (frame.length > 0) this.json(frame);
    this.end();
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

export class ImageReader {
  #pos = 0;
  constructor(readonly buf: Buffer) {}

  /** Next frame's JSON, or undefined at an end marker. */
  json<T>(): T | undefined {
    if (this.#pos + 4 > this.buf.length) throw new RangeError("metadata image is truncated");
    const len = this.buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    if (len === 0) return undefined;
    if (this.#pos + len > this.buf.length) throw new RangeError("metadata image is truncated");
    const text = this.buf.toString("utf8", this.#pos, this.#pos + len);
    this.#pos += len;
    return JSON.parse(text) as T;
  }

  /** Apply frames of inode pairs onto `base` (empty for a full tree). */
  inodes(base: Inodes): Inodes {
    const m = base.asMutable();
    for (let frame = this.json<unknown[]>(); frame; frame = this.json<unknown[]>()) {
      for (let i = 0; i < frame.length; i += 2) {
        const ino = frame[i] as number;
        const o = frame[i + 1] as Encoded | null;
        if (o === null) m.delete(ino);
        else m.set(ino, decodeInode(o));
      }
    }
    return m.asImmutable();
  }
}

/** Inodes of `older` that differ from `newer` (changed, or gone in newer), and those `older` lacks. */
export function* diffTrees(older: Inodes, newer: Inodes): Generator<[number, Inode | null]> {
  for (const [ino, n] of older) if (newer.get(ino) !== n) yield [ino, n];
  for (const ino of newer.keys()) if (!older.has(ino)) yield [ino, null];
}
