/**
 * The bytes of a write-back segment: header and record layout, encoding and parsing. File I/O
 * and the segment's life (create, replay, append, read, progress) are in segment.ts.
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
 * Parsing stops at the first record whose magic, length or crc is wrong: that is where a crash
 * tore the tail. A record whose crc is right but whose tag fails is not a torn write (wrong key
 * or tampering): parsing throws and the caller leaves the file untouched.
 *
 * Segments of the previous, plaintext format (records "FSWB" from byte 0, 48-byte headers, crc
 * over header + data) still parse, so writes pending across an upgrade are not lost.
 */
import { crc32 } from "node:zlib";
import { deriveSegmentKey, segmentKeyCheck, type WriteBackLogKeys } from "../../crypto/writeback-log-key.js";
import { WriteBackLogError } from "../errors.js";
import type { RecordCipher } from "./log-cipher.js";

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

/** Records parsed from a segment file and where the intact part ends (a torn tail starts there). */
export interface ParsedRecords {
  records: LogRecord[];
  end: number;
}

/** The header of a new segment sealed under key generation `keyId`. */
export function segmentHeader(keyId: number, keyCheck: Buffer): Buffer {
  const h = Buffer.alloc(SEGMENT_HEADER_BYTES);
  h.writeUInt32BE(SEGMENT_MAGIC, 0);
  h[4] = SEGMENT_VERSION;
  h.writeUInt32BE(keyId, 8);
  keyCheck.copy(h, 12);
  h.writeUInt32BE(crc32(h.subarray(0, 28)), 28);
  return h;
}

/** A plaintext segment of the previous format. */
export function isLegacySegment(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === LEGACY_MAGIC;
}

/** Created, then the crash came before its header reached the disk: nothing in it was fsynced. */
export function headerNeverWritten(buf: Buffer): boolean {
  return buf.length < SEGMENT_HEADER_BYTES || buf.subarray(0, SEGMENT_HEADER_BYTES).every((b) => b === 0);
}

/** The key of a sealed segment, checked against its header; a clear error when it cannot be had. */
export function segmentKey(path: string, buf: Buffer, id: string, keys: WriteBackLogKeys) {
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

/**
 * Seals one record at byte `start` of a segment: hands the sealed data to `out` slice by slice,
 * then returns the header that carries its tag and crc (the crc runs over the sealed data and
 * then the header after the crc field: crash safety only needs it to cover what is on disk).
 */
export function sealRecord(
  cipher: RecordCipher,
  start: number,
  fields: Omit<LogRecord, "length" | "dataPos" | "index">,
  data: Buffer | undefined,
  out: (sealed: Buffer) => void,
): Buffer {
  const h = Buffer.alloc(RECORD_HEADER_BYTES);
  h.writeUInt32BE(RECORD_MAGIC, 0);
  h[8] = fields.type === "write" ? 1 : 2;
  h.writeUInt32BE(data?.length ?? 0, 12);
  h.writeBigUInt64BE(BigInt(fields.ino), 16);
  h.writeBigUInt64BE(BigInt(fields.offset), 24);
  h.writeBigUInt64BE(BigInt(fields.sizeAfter), 32);
  h.writeBigUInt64BE(BigInt(fields.mtime), 40);
  let crc = 0;
  cipher.seal(start, h.subarray(AAD_START, AAD_END), data, h.subarray(AAD_END), (sealed) => {
    out(sealed);
    crc = crc32(sealed, crc);
  });
  h.writeUInt32BE(crc32(h.subarray(8), crc), 4);
  return h;
}

/** Where the fields of a record header are in one of the two formats. */
interface RecordLayout {
  /** Where the first record starts. */
  start: number;
  magic: number;
  headerBytes: number;
  typeAt: number;
  lengthAt: number;
  /** The four u64 fields (ino, offset, sizeAfter, mtime) in a row from here. */
  fieldsAt: number;
  /** The crc matches: the record was written whole. */
  intact(h: Buffer, buf: Buffer, pos: number, end: number): boolean;
}

const SEALED: RecordLayout = {
  start: SEGMENT_HEADER_BYTES,
  magic: RECORD_MAGIC,
  headerBytes: RECORD_HEADER_BYTES,
  typeAt: 8,
  lengthAt: 12,
  fieldsAt: 16,
  intact: (h, buf, pos, end) =>
    crc32(h.subarray(8), crc32(buf.subarray(pos + RECORD_HEADER_BYTES, end))) === h.readUInt32BE(4),
};

const LEGACY: RecordLayout = {
  start: 0,
  magic: LEGACY_MAGIC,
  headerBytes: LEGACY_HEADER_BYTES,
  typeAt: 4,
  lengthAt: 44,
  fieldsAt: 12,
  intact: (h, buf, pos, end) => crc32(buf.subarray(pos + 12, end)) === h.readUInt32BE(8),
};

/** Records of a sealed segment; throws WriteBackLogError on a record that fails authentication. */
export function parseSealedRecords(buf: Buffer, cipher: RecordCipher, path: string): ParsedRecords {
  return parseRecords(buf, SEALED, (h, pos, end, index) => {
    const aad = h.subarray(AAD_START, AAD_END);
    if (!cipher.verify(pos, aad, buf.subarray(pos + RECORD_HEADER_BYTES, end), h.subarray(AAD_END))) {
      throw new WriteBackLogError(
        `write-back log ${path}: record ${index} at byte ${pos} fails authentication ` +
          "(its crc is intact, so this is no torn write: the file was altered); refusing to replay, the file is left as it is",
      );
    }
  });
}

/** Records of a plaintext segment of the previous format. */
export function parseLegacyRecords(buf: Buffer): ParsedRecords {
  return parseRecords(buf, LEGACY);
}

/** Walks records up to the first torn one; `authenticate` throws on an intact record that was altered. */
function parseRecords(
  buf: Buffer,
  layout: RecordLayout,
  authenticate?: (h: Buffer, pos: number, end: number, index: number) => void,
): ParsedRecords {
  const records: LogRecord[] = [];
  let pos = layout.start;
  while (pos + layout.headerBytes <= buf.length) {
    const h = buf.subarray(pos, pos + layout.headerBytes);
    if (h.readUInt32BE(0) !== layout.magic) break;
    const type = recordType(h[layout.typeAt]);
    const length = h.readUInt32BE(layout.lengthAt);
    const end = pos + layout.headerBytes + length;
    if (!type || length > MAX_RECORD_DATA || end > buf.length) break;
    if (!layout.intact(h, buf, pos, end)) break;
    authenticate?.(h, pos, end, records.length);
    const u64 = (i: number) => Number(h.readBigUInt64BE(layout.fieldsAt + 8 * i));
    records.push({
      type,
      ino: u64(0),
      offset: u64(1),
      sizeAfter: u64(2),
      mtime: u64(3),
      length,
      dataPos: pos + layout.headerBytes,
      index: records.length,
    });
    pos = end;
  }
  return { records, end: pos };
}

function recordType(byte: number | undefined): RecordType | undefined {
  return byte === 1 ? "write" : byte === 2 ? "truncate" : undefined;
}
