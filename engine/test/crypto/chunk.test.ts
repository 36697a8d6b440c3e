import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BLOCK_OVERHEAD,
  ChunkCodec,
  CompressedChunkRangeError,
  IntegrityError,
  Keyring,
  newChunkId,
  UnknownKeyGenerationError,
} from "../../src/crypto/index.js";

const BS = 4096;
const keyring = Keyring.generate();
const codec = new ChunkCodec(keyring, { blockSize: BS });

/** Reads plaintext [off, off+len) the way the data path does: one ranged slice, one openRange. */
function readRange(c: ChunkCodec, id: string, sealed: Buffer, off: number, len: number): Buffer {
  const r = c.sealedRange(off, len);
  const blocks = c.openRange(id, sealed.subarray(r.offset, r.offset + r.length), r.firstBlock);
  const start = off - r.firstBlock * c.blockSize;
  return blocks.subarray(start, start + len);
}

describe("ChunkCodec", () => {
  it("round-trips chunks of every awkward size", () => {
    for (const size of [0, 1, BS - 1, BS, BS + 1, 3 * BS, 3 * BS + 17]) {
      const id = newChunkId();
      const plain = randomBytes(size);
      const sealed = codec.seal(id, plain);
      expect(sealed.length).toBe(codec.sealedSize(size));
      expect(codec.open(id, sealed).equals(plain)).toBe(true);
    }
  });

  it("reads any range with one ranged slice (property)", () => {
    const id = newChunkId();
    const plain = randomBytes(5 * BS + 123);
    const sealed = codec.seal(id, plain);
    fc.assert(
      fc.property(fc.nat(plain.length - 1), fc.integer({ min: 1, max: 2 * BS }), (off, want) => {
        const len = Math.min(want, plain.length - off);
        expect(readRange(codec, id, sealed, off, len).equals(plain.subarray(off, off + len))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("maps plaintext ranges to whole sealed blocks", () => {
    expect(codec.sealedRange(0, 1)).toEqual({ offset: 0, length: BS + BLOCK_OVERHEAD, firstBlock: 0 });
    expect(codec.sealedRange(BS - 1, 2)).toEqual({ offset: 0, length: 2 * (BS + BLOCK_OVERHEAD), firstBlock: 0 });
    expect(codec.sealedRange(2 * BS, BS)).toEqual({
      offset: 2 * (BS + BLOCK_OVERHEAD),
      length: BS + BLOCK_OVERHEAD,
      firstBlock: 2,
    });
  });

  it("never reuses a nonce and produces chunk ids with 128 bits", () => {
    const plain = Buffer.alloc(BS);
    const a = codec.seal("x", plain);
    const b = codec.seal("x", plain);
    expect(a.subarray(6, 18).equals(b.subarray(6, 18))).toBe(false);
    expect(newChunkId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("compresses when asked and it helps, and then only opens whole", () => {
    const id = newChunkId();
    const plain = Buffer.from("compressible ".repeat(5000));
    const sealed = codec.seal(id, plain, { compress: true });
    expect(sealed.length).toBeLessThan(plain.length / 4);
    expect(codec.open(id, sealed).equals(plain)).toBe(true);
    expect(() => codec.openRange(id, sealed, 0)).toThrow(CompressedChunkRangeError);
    // Incompressible data is stored plainly, so it stays range-readable.
    const random = randomBytes(2 * BS);
    const stored = codec.seal(id, random, { compress: true });
    expect(readRange(codec, id, stored, 10, 100).equals(random.subarray(10, 110))).toBe(true);
  });

  it("opens chunks sealed by older generations after a rotation", () => {
    const id = newChunkId();
    const plain = randomBytes(BS * 2);
    const old = codec.seal(id, plain);
    const rotated = new ChunkCodec(keyring.withNewGeneration().keyring, { blockSize: BS });
    const fresh = rotated.seal(id, plain);
    expect(fresh.readUInt32BE(2)).toBe(2);
    expect(rotated.open(id, old).equals(plain)).toBe(true);
    expect(() => codec.open(id, fresh)).toThrow(UnknownKeyGenerationError);
  });
});

describe("ChunkCodec tamper detection (each → IntegrityError)", () => {
  const id = newChunkId();
  const plain = randomBytes(4 * BS + 100);
  const sealed = codec.seal(id, plain);
  const full = BS + BLOCK_OVERHEAD;
  const tampered = (f: (b: Buffer) => Buffer) => f(Buffer.from(sealed));

  it("flipped byte anywhere (header, ciphertext, tag)", () => {
    for (const pos of [0, 1, 3, 8, 20, full - 1, full + 500, sealed.length - 1]) {
      const bad = tampered((b) => {
        b[pos]! ^= 0x01;
        return b;
      });
      expect(() => codec.open(id, bad), `byte ${pos}`).toThrow(IntegrityError);
    }
  });

  it("truncation inside a block and at a block boundary", () => {
    expect(() => codec.open(id, sealed.subarray(0, sealed.length - 1))).toThrow(IntegrityError);
    expect(() => codec.open(id, sealed.subarray(0, 2 * full))).toThrow(/final block is missing/);
    expect(() => codec.openRange(id, sealed.subarray(2 * full, 4 * full), 2, { expectFinal: true })).toThrow(
      IntegrityError,
    );
  });

  it("appended bytes after the final block", () => {
    expect(() => codec.open(id, Buffer.concat([sealed, sealed.subarray(0, full)]))).toThrow(IntegrityError);
  });

  it("swapped blocks", () => {
    const b0 = sealed.subarray(0, full);
    const b1 = sealed.subarray(full, 2 * full);
    expect(() => codec.open(id, Buffer.concat([b1, b0, sealed.subarray(2 * full)]))).toThrow(IntegrityError);
  });

  it("chunk moved to another id, or a range opened at the wrong block index", () => {
    expect(() => codec.open(newChunkId(), sealed)).toThrow(IntegrityError);
    expect(() => codec.openRange(id, sealed.subarray(full, 2 * full), 2)).toThrow(IntegrityError);
  });

  it("a block sealed by another key generation spliced in", () => {
    const rotated = new ChunkCodec(keyring.withNewGeneration().keyring, { blockSize: BS });
    // The rotated codec holds both generations, so only the consistency rule can catch this.
    const other = rotated.seal(id, plain);
    const spliced = Buffer.concat([
      sealed.subarray(0, full),
      other.subarray(full, 2 * full),
      sealed.subarray(2 * full),
    ]);
    expect(() => rotated.open(id, spliced)).toThrow(/another key generation/);
  });

  it("a flipped compression flag or FINAL flag", () => {
    for (const flag of [0x01, 0x02]) {
      const bad = tampered((b) => {
        b[1]! ^= flag;
        return b;
      });
      expect(() => codec.open(id, bad)).toThrow(IntegrityError);
    }
  });

  it("a block from a chunk of the same id sealed with a wrong key", () => {
    const stranger = new ChunkCodec(Keyring.generate(), { blockSize: BS });
    expect(() => stranger.open(id, sealed)).toThrow(IntegrityError);
  });
});

describe("ChunkCodec.sealInto (seal into reused memory)", () => {
  it("writes exactly the sealed chunk into a larger buffer; it opens like seal's, for every awkward size", () => {
    const out = Buffer.alloc(codec.sealedSize(3 * BS + 17) + 100);
    for (const size of [0, 1, BS - 1, BS, BS + 1, 3 * BS + 17]) {
      const id = newChunkId();
      const plain = randomBytes(size);
      out.fill(0xee);
      const sealed = codec.sealInto(id, plain, out);
      expect(sealed.length).toBe(codec.sealedSize(size));
      expect(sealed.buffer).toBe(out.buffer); // a view of `out`, not a copy
      expect(out.subarray(sealed.length).every((b) => b === 0xee)).toBe(true);
      expect(codec.open(id, sealed).equals(plain)).toBe(true);
      expect(readRange(codec, id, sealed, Math.min(size, 5), Math.max(0, size - 5)).equals(plain.subarray(5))).toBe(
        true,
      );
    }
  });

  it("refuses a buffer too small for the sealed chunk", () => {
    expect(() => codec.sealInto(newChunkId(), randomBytes(BS), Buffer.alloc(BS))).toThrow(RangeError);
  });
});

describe("ChunkCodec.openBlockInto (decrypt into reused memory)", () => {
  const id = newChunkId();
  const plain = randomBytes(3 * BS + 100);
  const sealed = codec.seal(id, plain);
  const full = BS + BLOCK_OVERHEAD;
  const blockOf = (s: Buffer, i: number) => s.subarray(i * full, Math.min(s.length, (i + 1) * full));

  it("opens each block into one reused buffer, short final block included", () => {
    const out = Buffer.alloc(BS);
    for (let i = 0; i < 4; i++) {
      const n = codec.openBlockInto(id, blockOf(sealed, i), i, out);
      expect(n).toBe(i < 3 ? BS : 100);
      expect(out.subarray(0, n).equals(plain.subarray(i * BS, i * BS + n))).toBe(true);
    }
  });

  it("refuses tampered, misplaced or foreign blocks and leaves no plaintext behind", () => {
    const out = Buffer.alloc(BS);
    const flipped = Buffer.from(blockOf(sealed, 1));
    flipped[40]! ^= 1;
    expect(() => codec.openBlockInto(id, flipped, 1, out)).toThrow(IntegrityError);
    expect(out.subarray(0, BS - 1).some((b) => b !== 0)).toBe(false);
    expect(() => codec.openBlockInto(id, blockOf(sealed, 1), 2, out)).toThrow(IntegrityError); // wrong index
    expect(() => codec.openBlockInto(newChunkId(), blockOf(sealed, 1), 1, out)).toThrow(IntegrityError); // other chunk
    expect(() => codec.openBlockInto(id, blockOf(sealed, 1).subarray(0, 100), 1, out)).toThrow(IntegrityError); // truncated, not final
    const other = new ChunkCodec(Keyring.generate(), { blockSize: BS });
    expect(() => other.openBlockInto(id, blockOf(sealed, 0), 0, out)).toThrow(IntegrityError); // wrong key
    expect(() => codec.openBlockInto(id, blockOf(sealed, 0), 0, Buffer.alloc(BS - 1))).toThrow(RangeError);
  });
});
