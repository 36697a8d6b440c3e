/**
 * One append-only file of the write-back log: `seg-<seq>-<id>.log`. `seq` orders segments;
 * `id` is random per segment and names its commits (`wb-<id>-<step>`), so a commit id is never
 * reused even if sequence numbers restart from 1 after the directory was emptied.
 *
 * Sealed at rest. File content waits here until it is uploaded, and the cache directory is as
 * exposed as any local disk, so record data is encrypted (see log-cipher.ts: AES-256-GCM per
 * record, readable at any byte offset through its CTR keystream) under a per-segment key derived
 * from the keyring the mount unlocked (crypto/writeback-log-key.ts). No key is ever on disk.
 * The byte layout of headers and records is in segment-format.ts.
 *
 * A crash can tear only the tail: replay stops at the first record whose magic, length or crc is
 * wrong and truncates the file there. Everything written before an fsync is therefore intact,
 * and nothing after a torn record is trusted. A record that fails authentication makes replay
 * refuse the log and leave it untouched.
 * A replayed segment is never appended to (the position is the nonce: appending after a cut
 * tail would reuse it); the write-back opens a fresh segment. Segments of the previous,
 * plaintext format are replayed as they are; they are read-only and deleted once committed,
 * like any segment.
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
  readdirSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { deriveSegmentKey, segmentKeyCheck, type WriteBackLogKeys } from "../../crypto/writeback-log-key.js";
import { WriteBackLogError } from "../errors.js";
import { RecordCipher } from "./log-cipher.js";
import {
  headerNeverWritten,
  isLegacySegment,
  type LogRecord,
  type ParsedRecords,
  parseLegacyRecords,
  parseSealedRecords,
  RECORD_HEADER_BYTES,
  type RecordType,
  SEGMENT_HEADER_BYTES,
  sealRecord,
  segmentHeader,
  segmentKey,
} from "./segment-format.js";

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

  /**
   * The segments a previous process left in `dir`, in log order. Progress files whose log is
   * gone (a crash during removal) are deleted: they are meaningless now.
   */
  static inDirectory(dir: string): Array<{ seq: number; id: string }> {
    const names = readdirSync(dir);
    const logs = new Set<string>();
    const found: Array<{ seq: number; id: string }> = [];
    for (const n of names) {
      const m = Segment.NAME.exec(n);
      if (m?.[3] !== "log") continue;
      logs.add(`${m[1]}-${m[2]}`);
      found.push({ seq: Number(m[1]), id: m[2]! });
    }
    for (const n of names) {
      const m = Segment.NAME.exec(n);
      if (m?.[3] === "done" && !logs.has(`${m[1]}-${m[2]}`)) unlinkSync(join(dir, n));
    }
    return found.sort((a, b) => a.seq - b.seq);
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
    writeAll(fd, segmentHeader(keyId, segmentKeyCheck(key)), 0);
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
      if (isLegacySegment(buf)) {
        seg = new Segment(dir, seq, id, fd, undefined, false);
        seg.take(buf, parseLegacyRecords(buf));
      } else if (headerNeverWritten(buf)) {
        seg = new Segment(dir, seq, id, fd, undefined, false);
        seg.take(buf, { records: [], end: 0 });
      } else {
        const cipher = new RecordCipher(segmentKey(path, buf, id, keys));
        seg = new Segment(dir, seq, id, fd, cipher, false);
        seg.base = SEGMENT_HEADER_BYTES;
        seg.take(buf, parseSealedRecords(buf, cipher, path));
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

  /** Adopt parsed records and drop a torn tail: everything from `parsed.end` on. */
  private take(buf: Buffer, parsed: ParsedRecords): void {
    for (const rec of parsed.records) this.records.push(rec); // no spread: a segment may hold a million records
    if (parsed.end < buf.length) ftruncateSync(this.fd, parsed.end);
    this.end = parsed.end;
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
    const start = this.end;
    // data first, then the header that carries its tag
    let pos = start + RECORD_HEADER_BYTES;
    const h = sealRecord(this.cipher, start, { type, ino, offset, sizeAfter, mtime }, data, (sealed) => {
      writeAll(this.fd, sealed, pos);
      pos += sealed.length;
    });
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
    const out = this.readSealed(rec, skip, Buffer.allocUnsafe(length));
    return this.cipher ? this.cipher.openRange(rec.dataPos - RECORD_HEADER_BYTES, skip, out) : out;
  }

  /** `read` into `out` (its whole length), decrypted in place: no allocation (the upload's path). */
  readInto(rec: LogRecord, skip: number, out: Buffer): void {
    this.readSealed(rec, skip, out);
    this.cipher?.openRangeInPlace(rec.dataPos - RECORD_HEADER_BYTES, skip, out);
  }

  private readSealed(rec: LogRecord, skip: number, out: Buffer): Buffer {
    for (let got = 0; got < out.length; ) {
      const n = readSync(this.fd, out, got, out.length - got, rec.dataPos + skip + got);
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
