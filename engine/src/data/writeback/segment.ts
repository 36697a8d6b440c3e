/**
 * One append-only file of the write-back log: `seg-<seq>-<id>.log`. `seq` orders segments;
 * `id` is random per segment and names its commits (`wb-<id>-<step>`), so a commit id is never
 * reused even if sequence numbers restart from 1 after the directory was emptied.
 *
 * Sealed at rest. File content waits here until it is uploaded, and the cache directory is as
 * exposed as any local disk, so record data is encrypted (see log-cipher.ts: AES-256-GCM per
 * record, readable at any byte offset through its CTR keystream) under a per-segment key derived
 * from the keyring the mount unlocked (crypto/writeback-log-key.ts). No key is ever on disk.
 *
 * Segment header (32 bytes), written at creation:
 *   magic u32 "FSWS" | version u8 (1) | 3 reserved | key generation u32 | key check 16
 *   | crc32 u32 (of the 28 bytes before it)
 * Record = 64-byte header + sealed data:
 *   magic u32 "FSWR" | crc32 u32 (of the sealed data, then the header after this field: as on disk)
 *   | type u8 | 3 reserved | length u32 | ino u64 | offset u64 (write) or size (truncate)
 *   | sizeAfter u64 | mtime ms u64 | GCM tag 16
 * The header fields stay in clear: inode numbers, offsets, sizes and times are not content (the
 * metadata service sees the same), and replay must be able to walk records before any key
 * check. They are the GCM associated data, so they cannot be altered unnoticed.
 *
 * A crash can tear only the tail: replay stops at the first record whose magic, length or crc is
 * wrong and truncates the file there. Everything written before an fsync is therefore intact,
 * and nothing after a torn record is trusted. A record whose crc is right but whose tag fails is
 * not a torn write (wrong key or tampering): replay refuses the log and leaves it untouched.
 * A replayed segment is never appended to (the position is the nonce: appending after a cut
 * tail would reuse it); the write-back opens a fresh segment.
 *
 * Segments of the previous, plaintext format (records "FSWB" from byte 0, 48-byte headers) are
 * replayed as they are, so writes pending across an upgrade are not lost; they are read-only and
 * deleted once committed, like any segment.
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
import { deriveSegmentKey, segmentKeyCheck, type WriteBackLogKeys } from "../../crypto/writeback-log-key.js";
import { WriteBackLogError } from "../errors.js";
import { RecordCipher } from "./log-cipher.js";

const SEGMENT_MAGIC = 0x46535753; // "FSWS"
const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 32;
const RECORD_MAGIC = 0x46535752; // "FSWR"
export const RECORD_HEADER_BYTES = 64;
/** Associated data of a record: its header from the type byte to the end of mtime. */
const AAD_START = 8;
const AAD_END = 48;
const MAX_RECORD_DATA = 256 * 1024 * 1024;
const LEGACY_MAGIC = 0x46535742; // "FSWB": plaintext records from byte 0
const LEGACY_HEADER_BYTES = 48;

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
  /** Where the next record goes (the file size). */
  private end = 0;
  /** Where records start (after the segment header). */
  private base = 0;
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
    /** Undefined for a plaintext segment of the previous format. */
    private readonly cipher: RecordCipher | undefined,
    /** Created by this process; replayed segments are read-only. */
    private readonly appendable: boolean,
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

  /** A new, empty segment sealed under the current log key generation. */
  static create(dir: string, seq: number, keys: WriteBackLogKeys): Segment {
    const id = randomBytes(12).toString("base64url");
    const keyId = keys.currentKeyId;
    const key = deriveSegmentKey(keys.logKey(keyId), id);
    const fd = openSync(join(dir, Segment.fileName(seq, id)), "wx+");
    const seg = new Segment(dir, seq, id, fd, new RecordCipher(key), true);
    const h = Buffer.alloc(SEGMENT_HEADER_BYTES);
    h.writeUInt32BE(SEGMENT_MAGIC, 0);
    h[4] = SEGMENT_VERSION;
    h.writeUInt32BE(keyId, 8);
    segmentKeyCheck(key).copy(h, 12);
    h.writeUInt32BE(crc32(h.subarray(0, 28)), 28);
    writeAll(fd, h, 0);
    seg.end = seg.base = SEGMENT_HEADER_BYTES;
    return seg;
  }

  /**
   * Reopen after a restart: check the key, parse records, cut a torn tail, read progress.
   * Throws WriteBackLogError (leaving the file as it is) when the keyring cannot open it.
   */
  static replay(dir: string, seq: number, id: string, keys: WriteBackLogKeys): Segment {
    const path = join(dir, Segment.fileName(seq, id));
    const buf = readFileSync(path);
    const fd = openSync(path, "r+");
    let seg: Segment;
    try {
      if (buf.length >= 4 && buf.readUInt32BE(0) === LEGACY_MAGIC) {
        seg = new Segment(dir, seq, id, fd, undefined, false);
        seg.parseLegacy(buf);
      } else if (buf.length < SEGMENT_HEADER_BYTES || buf.subarray(0, SEGMENT_HEADER_BYTES).every((b) => b === 0)) {
        // created, then the crash came before its header reached the disk: nothing was fsynced
        seg = new Segment(dir, seq, id, fd, undefined, false);
        seg.cut(buf, 0);
      } else {
        seg = new Segment(dir, seq, id, fd, new RecordCipher(segmentKey(path, buf, id, keys)), false);
        seg.parse(buf);
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    try {
      for (const line of readFileSync(seg.donePath, "utf8").split("\n"))
        if (/^\d+$/.test(line)) seg.done.add(Number(line));
    } catch {
      // no batch committed yet
    }
    return seg;
  }

  private parse(buf: Buffer): void {
    const cipher = this.cipher!;
    this.base = SEGMENT_HEADER_BYTES;
    let pos = SEGMENT_HEADER_BYTES;
    while (pos + RECORD_HEADER_BYTES <= buf.length) {
      const h = buf.subarray(pos, pos + RECORD_HEADER_BYTES);
      if (h.readUInt32BE(0) !== RECORD_MAGIC) break;
      const type = h[8] === 1 ? "write" : h[8] === 2 ? "truncate" : undefined;
      const length = h.readUInt32BE(12);
      const end = pos + RECORD_HEADER_BYTES + length;
      if (!type || length > MAX_RECORD_DATA || end > buf.length) break;
      if (crc32(h.subarray(8), crc32(buf.subarray(pos + RECORD_HEADER_BYTES, end))) !== h.readUInt32BE(4)) break;
      const aad = h.subarray(AAD_START, AAD_END);
      if (!cipher.verify(pos, aad, buf.subarray(pos + RECORD_HEADER_BYTES, end), h.subarray(AAD_END))) {
        throw new WriteBackLogError(
          `write-back log ${this.path}: record ${this.records.length} at byte ${pos} fails authentication ` +
            "(its crc is intact, so this is no torn write: the file was altered); refusing to replay, the file is left as it is",
        );
      }
      this.records.push(readRecord(h, 16, type, length, pos + RECORD_HEADER_BYTES, this.records.length));
      pos = end;
    }
    this.cut(buf, pos);
  }

  /** Plaintext segments of the previous format: 48-byte headers, crc over header + data. */
  private parseLegacy(buf: Buffer): void {
    let pos = 0;
    while (pos + LEGACY_HEADER_BYTES <= buf.length) {
      const h = buf.subarray(pos, pos + LEGACY_HEADER_BYTES);
      if (h.readUInt32BE(0) !== LEGACY_MAGIC) break;
      const type = h[4] === 1 ? "write" : h[4] === 2 ? "truncate" : undefined;
      const length = h.readUInt32BE(44);
      const end = pos + LEGACY_HEADER_BYTES + length;
      if (!type || length > MAX_RECORD_DATA || end > buf.length) break;
      if (crc32(buf.subarray(pos + 12, end)) !== h.readUInt32BE(8)) break;
      this.records.push(readRecord(h, 12, type, length, pos + LEGACY_HEADER_BYTES, this.records.length));
      pos = end;
    }
    this.cut(buf, pos);
  }

  /** Drop a torn tail: everything from `pos` on. */
  private cut(buf: Buffer, pos: number): void {
    if (pos < buf.length) ftruncateSync(this.fd, pos);
    this.end = pos;
  }

  /** Bytes of records (headers and data) held by this segment. */
  get bytes(): number {
    return this.end - this.base;
  }

  /** True for a plaintext segment of the previous format (replayed, never written). */
  get legacyPlaintext(): boolean {
    return this.cipher === undefined && this.records.length > 0;
  }

  append(type: RecordType, ino: number, offset: number, sizeAfter: number, mtime: number, data?: Buffer): LogRecord {
    if (!this.appendable || !this.cipher) {
      throw new WriteBackLogError(`write-back segment ${this.path} was replayed and is read-only`);
    }
    const length = data?.length ?? 0;
    const h = Buffer.alloc(RECORD_HEADER_BYTES);
    h.writeUInt32BE(RECORD_MAGIC, 0);
    h[8] = type === "write" ? 1 : 2;
    h.writeUInt32BE(length, 12);
    h.writeBigUInt64BE(BigInt(ino), 16);
    h.writeBigUInt64BE(BigInt(offset), 24);
    h.writeBigUInt64BE(BigInt(sizeAfter), 32);
    h.writeBigUInt64BE(BigInt(mtime), 40);
    const start = this.end;
    // data first, then the header that carries its tag; the crc runs over the sealed data and
    // then the header after the crc field (crash safety only needs it to cover what is on disk)
    let pos = start + RECORD_HEADER_BYTES;
    let crc = 0;
    this.cipher.seal(start, h.subarray(AAD_START, AAD_END), data, h.subarray(AAD_END), (sealed) => {
      writeAll(this.fd, sealed, pos);
      pos += sealed.length;
      crc = crc32(sealed, crc);
    });
    h.writeUInt32BE(crc32(h.subarray(8), crc), 4);
    writeAll(this.fd, h, start);
    this.end += RECORD_HEADER_BYTES + length;
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
    return this.cipher ? this.cipher.openRange(rec.dataPos - RECORD_HEADER_BYTES, skip, out) : out;
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

/** The key of a sealed segment, checked against its header; a clear error when it cannot be had. */
function segmentKey(path: string, buf: Buffer, id: string, keys: WriteBackLogKeys) {
  const h = buf.subarray(0, SEGMENT_HEADER_BYTES);
  if (h.readUInt32BE(0) !== SEGMENT_MAGIC || crc32(h.subarray(0, 28)) !== h.readUInt32BE(28)) {
    throw new WriteBackLogError(`write-back log ${path} has no valid segment header; refusing to replay it`);
  }
  if (h[4] !== SEGMENT_VERSION) {
    throw new WriteBackLogError(
      `write-back log ${path} has format version ${h[4]}, this version reads ${SEGMENT_VERSION}`,
    );
  }
  const keyId = h.readUInt32BE(8);
  const ephemeral = `write-back log ${path} was written under a process-local key (a writer without a keyring) and cannot be replayed`;
  if (keyId === 0 && keys.currentKeyId !== 0) throw new WriteBackLogError(ephemeral);
  let key: ReturnType<typeof deriveSegmentKey>;
  try {
    key = deriveSegmentKey(keys.logKey(keyId), id);
  } catch (cause) {
    throw new WriteBackLogError(
      `write-back log ${path} was written under key generation ${keyId}, which this keyring does not hold`,
      { cause },
    );
  }
  if (!segmentKeyCheck(key).equals(h.subarray(12, 28))) {
    if (keyId === 0) throw new WriteBackLogError(ephemeral);
    throw new WriteBackLogError(
      `write-back log ${path} was written under a different key (generation ${keyId} of another keyring, or another ` +
        "filespace's cache directory); refusing to replay it, the file is left as it is",
    );
  }
  return key;
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** The four u64 fields (ino, offset, sizeAfter, mtime) both record formats keep in a row from `at`. */
function readRecord(
  h: Buffer,
  at: number,
  type: RecordType,
  length: number,
  dataPos: number,
  index: number,
): LogRecord {
  const u64 = (i: number) => Number(h.readBigUInt64BE(at + 8 * i));
  return { type, ino: u64(0), offset: u64(1), sizeAfter: u64(2), mtime: u64(3), length, dataPos, index };
}
