/**
 * One append-only file of the write-back log: `seg-<seq>-<id>.log`. `seq` orders segments;
 * `id` is random per segment and names its commits (`wb-<id>-<step>`), so a commit id is never
 * reused even if sequence numbers restart from 1 after the directory was emptied.
 *
 * Record = 48-byte header + data:
 *   magic u32 "FSWB" | type u8 | 3 reserved | crc32 u32 (of the header after this field + data)
 *   | ino u64 | offset u64 (write) or size (truncate) | sizeAfter u64 | mtime ms u64 | length u32
 * A crash can tear only the tail: replay stops at the first record whose magic, length or crc is
 * wrong and truncates the file there. Everything written before an fsync is therefore intact,
 * and nothing after a torn record is trusted.
 *
 * Appends are synchronous writes into the page cache (a memcpy; they keep records in order
 * without a queue); durability comes from `fsync`, called on the handle's fsync and at drain.
 * Progress (which planned batches were committed) is kept beside it in `seg-<seq>-<id>.done`;
 * it is deleted before the log, so a crash in between replays the segment (deduplicated by
 * commit id) rather than leaving progress lines that could apply to another segment.
 */

import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

const MAGIC = 0x46535742;
export const RECORD_HEADER_BYTES = 48;
const MAX_RECORD_DATA = 256 * 1024 * 1024;

export type RecordType = "write" | "truncate";

export interface LogRecord {
  type: RecordType;
  ino: number;
  /** File offset of a write; the new size of a truncate. */
  offset: number;
  /** File size after this record. */
  sizeAfter: number;
  mtime: number;
  length: number;
  /** Position of the data in the segment file. */
  dataPos: number;
  /** Index of this record in its segment. */
  index: number;
}

export class Segment {
  readonly records: LogRecord[] = [];
  private fd: number;
  bytes = 0;
  sealed = false;
  /** Appended to since the last fsync. */
  dirty = false;
  /** Batches already committed (from the `.done` file). */
  readonly done = new Set<number>();

  private constructor(
    readonly dir: string,
    readonly seq: number,
    readonly id: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static readonly NAME = /^seg-(\d+)-([A-Za-z0-9_-]+)\.(log|done)$/;

  static fileName(seq: number, id: string, ext: "log" | "done" = "log"): string {
    return `seg-${String(seq).padStart(12, "0")}-${id}.${ext}`;
  }

  get path(): string {
    return join(this.dir, Segment.fileName(this.seq, this.id));
  }

  private get donePath(): string {
    return join(this.dir, Segment.fileName(this.seq, this.id, "done"));
  }

  static create(dir: string, seq: number): Segment {
    const id = randomBytes(12).toString("base64url");
    return new Segment(dir, seq, id, openSync(join(dir, Segment.fileName(seq, id)), "wx+"));
  }

  /** Reopen after a restart: parse records, cut a torn tail, read progress. */
  static replay(dir: string, seq: number, id: string): Segment {
    const seg = new Segment(dir, seq, id, openSync(join(dir, Segment.fileName(seq, id)), "r+"));
    const buf = readFileSync(seg.path);
    let pos = 0;
    while (pos + RECORD_HEADER_BYTES <= buf.length) {
      const h = buf.subarray(pos, pos + RECORD_HEADER_BYTES);
      if (h.readUInt32BE(0) !== MAGIC) break;
      const type = h[4] === 1 ? "write" : h[4] === 2 ? "truncate" : undefined;
      const length = h.readUInt32BE(44);
      if (!type || length > MAX_RECORD_DATA || pos + RECORD_HEADER_BYTES + length > buf.length) break;
      const body = buf.subarray(pos + 12, pos + RECORD_HEADER_BYTES + length);
      if (crc32(body) !== h.readUInt32BE(8)) break;
      seg.records.push({
        type,
        ino: Number(h.readBigUInt64BE(12)),
        offset: Number(h.readBigUInt64BE(20)),
        sizeAfter: Number(h.readBigUInt64BE(28)),
        mtime: Number(h.readBigUInt64BE(36)),
        length,
        dataPos: pos + RECORD_HEADER_BYTES,
        index: seg.records.length,
      });
      pos += RECORD_HEADER_BYTES + length;
    }
    if (pos < buf.length) ftruncateSync(seg.fd, pos);
    seg.bytes = pos;
    try {
      for (const line of readFileSync(seg.donePath, "utf8").split("\n"))
        if (/^\d+$/.test(line)) seg.done.add(Number(line));
    } catch {
      // no batch committed yet
    }
    return seg;
  }

  append(type: RecordType, ino: number, offset: number, sizeAfter: number, mtime: number, data?: Buffer): LogRecord {
    const length = data?.length ?? 0;
    const h = Buffer.alloc(RECORD_HEADER_BYTES);
    h.writeUInt32BE(MAGIC, 0);
    h[4] = type === "write" ? 1 : 2;
    h.writeBigUInt64BE(BigInt(ino), 12);
    h.writeBigUInt64BE(BigInt(offset), 20);
    h.writeBigUInt64BE(BigInt(sizeAfter), 28);
    h.writeBigUInt64BE(BigInt(mtime), 36);
    h.writeUInt32BE(length, 44);
    let crc = crc32(h.subarray(12));
    if (data) crc = crc32(data, crc);
    h.writeUInt32BE(crc, 8);
    const start = this.bytes;
    writeAll(this.fd, h, start);
    if (data) writeAll(this.fd, data, start + RECORD_HEADER_BYTES);
    this.bytes += RECORD_HEADER_BYTES + length;
    this.dirty = true;
    const rec: LogRecord = {
      type,
      ino,
      offset,
      sizeAfter,
      mtime,
      length,
      dataPos: start + RECORD_HEADER_BYTES,
      index: this.records.length,
    };
    this.records.push(rec);
    return rec;
  }

  fsync(): void {
    if (!this.dirty) return;
    this.dirty = false;
    fdatasyncSync(this.fd);
  }

  /** Bytes of a record's data (`skip` bytes in, `length` long). Synchronous: see the overlay. */
  read(rec: LogRecord, skip = 0, length = rec.length - skip): Buffer {
    const out = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, out, got, length - got, rec.dataPos + skip + got);
      if (n === 0) throw new Error(`write-back segment ${this.seq} ends early`);
      got += n;
    }
    return out;
  }

  markDone(batch: number): void {
    this.done.add(batch);
    appendFileSync(this.donePath, `${batch}\n`);
  }

  async remove(): Promise<void> {
    closeSync(this.fd);
    this.fd = -1;
    await unlink(this.donePath).catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}
