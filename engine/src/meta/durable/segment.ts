/**
 * Journal segment encoding (the plaintext inside the sealed object).
 *
 *   "FSJ1" | u32 headerLength | header JSON | (u32 recordLength | record JSON)*
 *
 * Length-prefixed JSON: records are the service's JSON-serialisable descriptions, so JSON is
 * the honest encoding; the prefixes let a reader detect truncation without parsing, and the
 * header lets recovery resolve epochs before decoding any record. Records are encoded once,
 * at append time, so a segment is a concatenation of ready buffers.
 */
import { IntegrityError } from "../../crypto/errors.js";
import type { JournalRecord } from "../replication.js";
import { parseStored, segmentHeaderSchema } from "./schemas.js";

const MAGIC = Buffer.from("FSJ1");

export interface SegmentHeader {
  /** Epoch of the instance that wrote it. */
  epoch: number;
  seq: number;
  /** Random id of the writing instance: lets a retried create-only put recognise its own segment. */
  writer: string;
  /** Seq at which this epoch started (its epoch-start segment). */
  epochStartSeq: number;
  /** Version before the first record of this segment. */
  baseVersion: number;
  count: number;
}

export interface Segment<R = unknown> {
  header: SegmentHeader;
  records: JournalRecord<R>[];
}

/** Encode one record for a segment (done once, at append time). */
export function encodeRecord(entry: JournalRecord): Buffer {
  const json = Buffer.from(JSON.stringify([entry.version, entry.record]));
  const out = Buffer.allocUnsafe(4 + json.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  return out;
}

export function encodeSegment(header: SegmentHeader, encodedRecords: Buffer[]): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(h.length, 0);
  return Buffer.concat([MAGIC, len, h, ...encodedRecords]);
}

export function decodeHeader(body: Buffer): { header: SegmentHeader; end: number } {
  if (body.length < 8 || !body.subarray(0, 4).equals(MAGIC)) throw new IntegrityError("journal segment: bad magic");
  const hl = body.readUInt32BE(4);
  if (8 + hl > body.length) throw new IntegrityError("journal segment: truncated header");
  const header = parseStored(segmentHeaderSchema, "journal segment header", body.subarray(8, 8 + hl));
  return { header, end: 8 + hl };
}

export function decodeSegment<R>(body: Buffer): Segment<R> {
  const { header, end } = decodeHeader(body);
  const records: JournalRecord<R>[] = [];
  let at = end;
  while (at < body.length) {
    if (at + 4 > body.length) throw new IntegrityError(`journal segment ${header.seq}: truncated record length`);
    const len = body.readUInt32BE(at);
    if (at + 4 + len > body.length) throw new IntegrityError(`journal segment ${header.seq}: truncated record`);
    const [version, record] = JSON.parse(body.subarray(at + 4, at + 4 + len).toString()) as [number, R];
    records.push({ version, record });
    at += 4 + len;
  }
  if (records.length !== header.count) {
    throw new IntegrityError(`journal segment ${header.seq}: ${records.length} records, header says ${header.count}`);
  }
  for (let i = 0; i < records.length; i++) {
    if (records[i]!.version !== header.baseVersion + 1 + i) {
      throw new IntegrityError(`journal segment ${header.seq}: record versions are not dense`);
    }
  }
  return { header, records };
}
