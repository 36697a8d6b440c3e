/**
 * The write-back log sealed at rest: record data is ciphertext on disk, still readable at any
 * byte offset, torn tails are cut as before, a wrong or missing key is refused with a clear
 * error (and the file left alone), a log survives a key rotation, and plaintext segments of the
 * previous format replay.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { ephemeralWriteBackLogKeys, Keyring, writeBackLogKeys } from "../../src/crypto/index.js";
import { WriteBack, type WriteBackKnobs, WriteBackLogError } from "../../src/data/index.js";
import { Segment } from "../../src/data/writeback/segment.js";
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from "../../src/data/writeback/segment-format.js";
import { findCanariesIn } from "../helpers/canaries.js";
import { MemoryMeta, makeCodec, newChunkId, pattern, TestStore, tempDir } from "./helpers.js";

const keyring = Keyring.generate();
const keys = writeBackLogKeys(keyring);
const CANARY = `CANARY-writeback-log-${randomBytes(4).toString("hex")}`;

/** A segment with a few records of known content; returns them with their data. */
function writeSegment(dir: string, k = keys) {
  const seg = Segment.create(dir, 1, k);
  const datas = [
    Buffer.from(CANARY.repeat(300)),
    pattern(70_001, 3),
    Buffer.alloc(5000, 0x41),
    Buffer.from(`${CANARY} tail`),
  ];
  const recs = datas.map((d, i) => seg.append("write", 7, i * 100_000, i * 100_000 + d.length, 1234 + i, d));
  seg.append("truncate", 7, 42, 42, 99);
  seg.fsync();
  return { seg, datas, recs, file: seg.path };
}

const lastRecordPos = (file: string) => {
  const buf = readFileSync(file);
  let pos = SEGMENT_HEADER_BYTES;
  let last = pos;
  while (pos < buf.length) {
    last = pos;
    pos += RECORD_HEADER_BYTES + buf.readUInt32BE(pos + 12);
  }
  return last;
};

describe("write-back log sealed at rest", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  const dir = () => {
    const d = tempDir("wb-sealed");
    cleanups.push(d.cleanup);
    return d.path;
  };

  it("holds no plaintext of the data in any form; header fields stay readable", async () => {
    const d = dir();
    const { seg, file } = writeSegment(d);
    const raw = readFileSync(file);
    expect(findCanariesIn(raw, [CANARY])).toEqual([]);
    // no 32-byte window of the known pattern or the run of 'A's appears
    expect(raw.includes(pattern(70_001, 3).subarray(1000, 1032))).toBe(false);
    expect(raw.includes(Buffer.alloc(32, 0x41))).toBe(false);
    expect(raw.readUInt32BE(SEGMENT_HEADER_BYTES + 12)).toBe(CANARY.length * 300); // length in clear
    await seg.remove();
  });

  it("reads back whole records and any byte range of them (all alignments), also into a buffer", async () => {
    const d = dir();
    const { seg, datas, recs } = writeSegment(d);
    const into = Buffer.alloc(2 * 1024 * 1024);
    for (const [i, rec] of recs.entries()) {
      const data = datas[i]!;
      expect(seg.read(rec).equals(data)).toBe(true);
      for (const skip of [0, 1, 15, 16, 17, 31, 4095, 4096, 4097]) {
        for (const length of [1, 15, 16, 33, 4096, data.length - skip]) {
          if (length <= 0 || skip + length > data.length) continue;
          const want = data.subarray(skip, skip + length);
          expect(seg.read(rec, skip, length).equals(want), `${i} ${skip}+${length}`).toBe(true);
          // readInto decrypts in place and touches nothing around its range
          into.fill(0xee);
          seg.readInto(rec, skip, into.subarray(3, 3 + length));
          expect(into.subarray(3, 3 + length).equals(want), `into ${i} ${skip}+${length}`).toBe(true);
          expect(into[2]).toBe(0xee);
          expect(into[3 + length]).toBe(0xee);
        }
      }
    }
    await seg.remove();
  });

  it("replays after a restart: same records, same data, and the replayed segment is read-only", async () => {
    const d = dir();
    const { seg, datas, recs } = writeSegment(d);
    const again = Segment.replay(d, 1, seg.id, keys);
    expect(again.records).toEqual(recs.concat([again.records[4]!]));
    expect(again.records[4]).toMatchObject({ type: "truncate", offset: 42, sizeAfter: 42, mtime: 99, length: 0 });
    for (const [i, rec] of again.records.slice(0, 4).entries()) expect(again.read(rec).equals(datas[i]!)).toBe(true);
    expect(again.read(again.records[1]!, 777, 5000).equals(datas[1]!.subarray(777, 5777))).toBe(true);
    expect(() => again.append("write", 1, 0, 1, 0, Buffer.from("x"))).toThrow(WriteBackLogError);
    await again.remove();
  });

  it("records sealed in one piece (≤ 1 MiB) and in slices (larger) verify on replay with Node's AES-GCM", async () => {
    const d = dir();
    const seg = Segment.create(d, 1, keys);
    const datas = [
      pattern(1024 * 1024, 4),
      pattern(1024 * 1024 + 1, 5),
      Buffer.alloc(0),
      pattern(3 * 1024 * 1024 + 17, 6),
    ];
    for (const [i, data] of datas.entries()) seg.append("write", 3, i << 22, (i << 22) + data.length, 7, data);
    seg.fsync();
    const again = Segment.replay(d, 1, seg.id, keys); // checks every tag
    expect(again.records.map((r) => r.length)).toEqual(datas.map((x) => x.length));
    for (const [i, rec] of again.records.entries()) {
      expect(again.read(rec).equals(datas[i]!)).toBe(true);
      const into = Buffer.alloc(rec.length);
      again.readInto(rec, 0, into);
      expect(into.equals(datas[i]!)).toBe(true);
    }
    await again.remove();
  });

  it("cuts a torn tail (short file, or a flipped byte the crc catches) and keeps every record before it", async () => {
    const d = dir();
    const { seg, datas, file } = writeSegment(d);
    const full = statSync(file).size;
    const last = lastRecordPos(file);
    // torn in the middle of the last-but-one record's data
    const prev = (() => {
      const buf = readFileSync(file);
      let pos = SEGMENT_HEADER_BYTES;
      const starts: number[] = [];
      while (pos < buf.length) {
        starts.push(pos);
        pos += RECORD_HEADER_BYTES + buf.readUInt32BE(pos + 12);
      }
      return starts[3]!;
    })();
    truncateSync(file, prev + RECORD_HEADER_BYTES + 3);
    const torn = Segment.replay(d, 1, seg.id, keys);
    expect(torn.records).toHaveLength(3);
    expect(statSync(file).size).toBe(prev);
    for (const [i, rec] of torn.records.entries()) expect(torn.read(rec).equals(datas[i]!)).toBe(true);
    await torn.remove();
    expect(full).toBeGreaterThan(last);

    const d2 = dir();
    const w2 = writeSegment(d2);
    const buf = readFileSync(w2.file);
    buf[lastRecordPos(w2.file) - 2]! ^= 0xff; // inside record 3's sealed data
    writeFileSync(w2.file, buf);
    const flipped = Segment.replay(d2, 1, w2.seg.id, keys);
    expect(flipped.records).toHaveLength(3);
    await flipped.remove();
  });

  it("refuses a record whose crc is right but whose tag is not (altered file), leaving the file alone", async () => {
    const d = dir();
    const { seg, file } = writeSegment(d);
    const buf = readFileSync(file);
    const pos = SEGMENT_HEADER_BYTES; // first record
    buf[pos + RECORD_HEADER_BYTES + 10]! ^= 0x01;
    const end = pos + RECORD_HEADER_BYTES + buf.readUInt32BE(pos + 12);
    buf.writeUInt32BE(
      crc32(buf.subarray(pos + 8, pos + RECORD_HEADER_BYTES), crc32(buf.subarray(pos + RECORD_HEADER_BYTES, end))),
      pos + 4,
    );
    writeFileSync(file, buf);
    expect(() => Segment.replay(d, 1, seg.id, keys)).toThrow(/record 0 .* fails authentication/);
    expect(readFileSync(file).equals(buf)).toBe(true);
    await seg.remove();
  });

  it("a segment whose header never reached the disk (crash right after creation) replays as empty", async () => {
    const d = dir();
    for (const [i, bytes] of [
      Buffer.alloc(0),
      Buffer.alloc(10, 0x46),
      Buffer.alloc(SEGMENT_HEADER_BYTES + 7),
    ].entries()) {
      const id = `torn${i}AAAAAAAAAAAA`;
      writeFileSync(join(d, Segment.fileName(i + 1, id)), bytes);
      const seg = Segment.replay(d, i + 1, id, keys);
      expect(seg.records).toEqual([]);
      expect(seg.bytes).toBe(0);
      expect(statSync(seg.path).size).toBe(0);
      await seg.remove();
    }
  });

  it("a wrong keyring, a missing generation or a process-local key fail clearly and change nothing", async () => {
    const d = dir();
    const { seg, file } = writeSegment(d);
    const before = readFileSync(file);
    const other = writeBackLogKeys(Keyring.generate());
    expect(() => Segment.replay(d, 1, seg.id, other)).toThrow(WriteBackLogError);
    expect(() => Segment.replay(d, 1, seg.id, other)).toThrow(/different key \(generation 1/);
    expect(readFileSync(file).equals(before)).toBe(true);
    await seg.remove();

    const rotated = keyring.withNewGeneration().keyring;
    const d2 = dir();
    const gen2 = writeSegment(d2, writeBackLogKeys(rotated)).seg;
    expect(() => Segment.replay(d2, 1, gen2.id, keys)).toThrow(/key generation 2, which this keyring does not hold/);
    await gen2.remove();

    const d3 = dir();
    const local = writeSegment(d3, ephemeralWriteBackLogKeys()).seg;
    expect(() => Segment.replay(d3, 1, local.id, ephemeralWriteBackLogKeys())).toThrow(/process-local key/);
    expect(() => Segment.replay(d3, 1, local.id, keys)).toThrow(/process-local key/);
    await local.remove();
  });

  it("a log written before a key rotation replays after it; new segments use the new generation", async () => {
    const d = dir();
    const { seg, datas } = writeSegment(d);
    const rotated = writeBackLogKeys(keyring.withNewGeneration().keyring);
    const again = Segment.replay(d, 1, seg.id, rotated);
    expect(again.read(again.records[0]!).equals(datas[0]!)).toBe(true);
    const fresh = Segment.create(d, 2, rotated);
    expect(readFileSync(fresh.path).readUInt32BE(8)).toBe(2);
    await again.remove();
    await fresh.remove();
  });

  it("WriteBack: a plaintext segment of the previous format is replayed and committed, then deleted", async () => {
    const d = dir();
    const data = pattern(10_000, 9);
    // previous format: 48-byte header, crc over header[12..] + data, records from byte 0
    const h = Buffer.alloc(48);
    h.writeUInt32BE(0x46535742, 0);
    h[4] = 1;
    h.writeBigUInt64BE(5n, 12);
    h.writeBigUInt64BE(0n, 20);
    h.writeBigUInt64BE(BigInt(data.length), 28);
    h.writeBigUInt64BE(1000n, 36);
    h.writeUInt32BE(data.length, 44);
    h.writeUInt32BE(crc32(data, crc32(h.subarray(12))), 8);
    const legacyName = Segment.fileName(1, "legacyAAAAAAAAAA");
    writeFileSync(join(d, legacyName), Buffer.concat([h, data, Buffer.from("torn")]));

    const meta = new MemoryMeta();
    const knobs: WriteBackKnobs = {
      chunkBytes: 64 * 1024,
      segmentBytes: 256 * 1024,
      flushDelayMs: 60_000,
      uploadConcurrency: 4,
      maxBacklogBytes: 8 << 20,
      backlogFullWaitMs: 200,
      retryBaseMs: 5,
      retryMaxMs: 20,
    };
    const store = new TestStore();
    const wb = await WriteBack.open(
      { dir: d, store, codec: makeCodec(), sink: meta, newChunkId, logKeys: keys },
      knobs,
    );
    const view = wb.view(5, 0, data.length);
    expect(Buffer.concat(view.pieces.map((p) => p.data)).equals(data)).toBe(true);
    await wb.write(5, 20_000, Buffer.from(CANARY), data.length); // goes into a new, sealed segment
    wb.fsync();
    const sealedName = readdirSync(d).find((n) => n.endsWith(".log") && n !== legacyName)!;
    expect(findCanariesIn(readFileSync(join(d, sealedName)), [CANARY])).toEqual([]);
    await wb.drain();
    expect(meta.sizeOf(5)).toBe(20_000 + CANARY.length);
    expect(readdirSync(d).filter((n) => n.endsWith(".log"))).not.toContain(legacyName);
  });
});
