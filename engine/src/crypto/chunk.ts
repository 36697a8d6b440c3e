/**
 * Chunk sealing: immutable chunks cut into fixed-size, self-describing AEAD blocks.
 *
 * Sealed block = [format u8 | flags u8 | keyId u32 BE | nonce 12][ciphertext][tag 16]
 * (34 bytes of overhead). Every block carries its own header, so a range read is ONE ranged
 * GET of whole blocks and nothing else: the object offset of plaintext byte x is
 * floor(x / blockSize) * (blockSize + 34).
 *
 * AES-256-GCM with a fresh random 96-bit nonce per block, under the chunk-data subkey of the
 * generation named by keyId. Associated data = label | chunk id | block index | the 18 header
 * bytes (format, flags incl. FINAL, keyId, nonce). Hence:
 *  - flipped bytes, a block moved to another index or another chunk id → tag mismatch;
 *  - the last block carries FINAL, so removing trailing whole blocks is detected by readers
 *    that read to the end (`open`, or `openRange` with `expectFinal`);
 *  - every block of a chunk must name the same keyId and compression flag, so a block sealed
 *    by another generation cannot be spliced in.
 *
 * Optional compression (deflate-raw) is applied to the whole chunk before blocking and
 * flagged in every block; such chunks can only be read whole (`open`).
 *
 * Why 64 KiB blocks by default: 0.05 % overhead, one block is ≈30 µs of AES-GCM, and a small
 * random read fetches at most 64 KiB + 34 extra bytes; larger blocks cost latency on random
 * reads, smaller ones cost overhead and per-block calls (see docs/format.md, bench/crypto.mjs).
 */
import { randomBytes } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { CompressedChunkRangeError, IntegrityError, UnknownKeyGenerationError } from "./errors.js";
import { type GcmKey, gcmOpenInto, gcmSealInto } from "./gcm.js";
import type { Keyring } from "./keyring.js";
import { writeRandomNonce } from "./nonce.js";

export const CHUNK_FORMAT = 1;
export const BLOCK_HEADER_BYTES = 18;
export const BLOCK_TAG_BYTES = 16;
export const BLOCK_OVERHEAD = BLOCK_HEADER_BYTES + BLOCK_TAG_BYTES;
export const DEFAULT_BLOCK_SIZE = 64 * 1024;
/**
 * 8 MiB: a store's cost is largely per request (s3rver + proxy: 4.3–4.9 ms CPU/MiB behind 8 MiB
 * chunks against 5.6–6.9 behind 4 MiB in the same runs), an 8 MiB frame is one GET, and S3 bills
 * per request; writes measured no slower (docs/benchmarks.md, session 14).
 */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const FLAG_FINAL = 0x01;
const FLAG_COMPRESSED = 0x02;
const KNOWN_FLAGS = FLAG_FINAL | FLAG_COMPRESSED;
const AAD_LABEL = Buffer.from("filespaces/v1/chunk\0");

export interface ChunkCodecOptions {
  /** Plaintext bytes per AEAD block (default 64 KiB, 4 KiB … 16 MiB). */
  blockSize?: number;
  /** Upper bound when inflating a compressed chunk (guards against decompression bombs). */
  maxChunkSize?: number;
}

/** A random, URL-safe chunk id with 128 bits of entropy (22 characters of base64url). */
export function newChunkId(): string {
  return randomBytes(16).toString("base64url");
}

export class ChunkCodec {
  readonly blockSize: number;
  readonly #sealedBlockSize: number;
  readonly #maxChunkSize: number;
  readonly #keyring: Keyring;

  constructor(keyring: Keyring, options: ChunkCodecOptions = {}) {
    const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    if (!Number.isInteger(blockSize) || blockSize < 4096 || blockSize > 16 * 1024 * 1024) {
      throw new RangeError(`blockSize must be an integer between 4 KiB and 16 MiB, got ${blockSize}`);
    }
    this.#keyring = keyring;
    this.blockSize = blockSize;
    this.#sealedBlockSize = blockSize + BLOCK_OVERHEAD;
    this.#maxChunkSize = options.maxChunkSize ?? 256 * 1024 * 1024;
  }

  /** Sealed object size for a chunk of `plainLength` bytes (uncompressed). */
  sealedSize(plainLength: number): number {
    const blocks = Math.max(1, Math.ceil(plainLength / this.blockSize));
    return plainLength + blocks * BLOCK_OVERHEAD;
  }

  /** Seals a whole chunk with the keyring's newest generation. */
  seal(chunkId: string, plaintext: Buffer, opts: { compress?: boolean } = {}): Buffer {
    checkChunkId(chunkId);
    let body = plaintext;
    let flags = 0;
    if (opts.compress) {
      const packed = deflateRawSync(plaintext);
      // Only keep compression when it pays; the flag tells readers which form they got.
      if (packed.length < plaintext.length) {
        body = packed;
        flags |= FLAG_COMPRESSED;
      }
    }
    return this.#sealBlocks(chunkId, body, flags, Buffer.allocUnsafe(this.sealedSize(body.length)));
  }

  /**
   * Seals a whole chunk (uncompressed) into `out`, which must hold `sealedSize(plaintext.length)`
   * bytes; returns the view of `out` that holds the sealed chunk. Why: the write-back seals every
   * chunk it uploads into a reused buffer (data/writeback/upload.ts) — a fresh chunk-sized buffer
   * per upload, plus one per block from Node's cipher, is memory V8 must collect and the VM must
   * fault in. With the native helper (platform/io-addon.ts) nothing is allocated per block.
   */
  sealInto(chunkId: string, plaintext: Buffer, out: Buffer): Buffer {
    checkChunkId(chunkId);
    const size = this.sealedSize(plaintext.length);
    if (out.length < size)
      throw new RangeError(`sealing ${plaintext.length} bytes needs ${size}, out holds ${out.length}`);
    return this.#sealBlocks(chunkId, plaintext, 0, out.subarray(0, size));
  }

  /** Seals `body` block by block into `out` (exactly its sealed size) under the newest key. */
  #sealBlocks(chunkId: string, body: Buffer, flags: number, out: Buffer): Buffer {
    const keyId = this.#keyring.currentKeyId;
    const key: GcmKey = { keyring: this.#keyring, purpose: "chunkData", keyId };
    const blocks = Math.max(1, Math.ceil(body.length / this.blockSize));
    let pos = 0;
    for (let i = 0; i < blocks; i++) {
      const plain = body.subarray(i * this.blockSize, (i + 1) * this.blockSize);
      const header = out.subarray(pos, pos + BLOCK_HEADER_BYTES);
      header[0] = CHUNK_FORMAT;
      header[1] = flags | (i === blocks - 1 ? FLAG_FINAL : 0);
      header.writeUInt32BE(keyId, 2);
      writeRandomNonce(header, 6);
      const aad = blockAad(chunkId, i, header);
      pos += BLOCK_HEADER_BYTES;
      const tag = out.subarray(pos + plain.length, pos + plain.length + BLOCK_TAG_BYTES);
      gcmSealInto(key, header.subarray(6, 18), aad, plain, out.subarray(pos, pos + plain.length), tag);
      pos += plain.length + BLOCK_TAG_BYTES;
    }
    return out;
  }

  /** The object byte range holding plaintext [plainOffset, plainOffset + plainLength). */
  sealedRange(plainOffset: number, plainLength: number): { offset: number; length: number; firstBlock: number } {
    if (
      !Number.isSafeInteger(plainOffset) ||
      plainOffset < 0 ||
      !Number.isSafeInteger(plainLength) ||
      plainLength < 0
    ) {
      throw new RangeError(`bad plaintext range ${plainOffset}+${plainLength}`);
    }
    const firstBlock = Math.floor(plainOffset / this.blockSize);
    const offset = firstBlock * this.#sealedBlockSize;
    if (plainLength === 0) return { offset, length: 0, firstBlock };
    const lastBlock = Math.floor((plainOffset + plainLength - 1) / this.blockSize);
    return { offset, length: (lastBlock - firstBlock + 1) * this.#sealedBlockSize, firstBlock };
  }

  /**
   * Verifies and decrypts consecutive whole blocks starting at block `firstBlock`; returns
   * their plaintext (the caller slices). A range that reaches the end of the chunk may be
   * cut short by the store; pass `expectFinal` when the caller knows it read to the end.
   */
  openRange(chunkId: string, sealed: Buffer, firstBlock: number, opts: { expectFinal?: boolean } = {}): Buffer {
    const { plaintext, compressed } = this.#openBlocks(chunkId, sealed, firstBlock, opts.expectFinal ?? false);
    if (compressed) throw new CompressedChunkRangeError(`chunk ${chunkId} is compressed: read it whole with open()`);
    return plaintext;
  }

  /** Verifies and decrypts a whole chunk, including that its final block is present. */
  open(chunkId: string, sealed: Buffer): Buffer {
    const { plaintext, compressed } = this.#openBlocks(chunkId, sealed, 0, true);
    if (!compressed) return plaintext;
    try {
      return inflateRawSync(plaintext, { maxOutputLength: this.#maxChunkSize });
    } catch (cause) {
      throw new IntegrityError(`chunk ${chunkId} authenticated but does not inflate`, { cause });
    }
  }

  /**
   * Verifies and decrypts ONE sealed block (block `index` of the chunk) into `out`; returns its
   * plaintext length. `out` must hold a block. Why: a stream decrypts into reused memory
   * (data/block-cache/plain-slab.ts) instead of a fresh buffer per block — with the native
   * helper (platform/io-addon.ts) there is no allocation at all. Compressed chunks cannot be
   * opened by block. On failure `out` holds no plaintext.
   */
  openBlockInto(chunkId: string, sealed: Buffer, index: number, out: Buffer): number {
    checkChunkId(chunkId);
    const b = this.#checkBlock(chunkId, sealed, index);
    if (b.compressed) throw new CompressedChunkRangeError(`chunk ${chunkId} is compressed: read it whole with open()`);
    const n = sealed.length - BLOCK_OVERHEAD;
    if (out.length < n) throw new RangeError(`block ${index} of ${chunkId} needs ${n} bytes, out holds ${out.length}`);
    this.#decrypt(chunkId, index, b, blockAad(chunkId, index, b.header), sealed, out);
    return n;
  }

  #openBlocks(chunkId: string, sealed: Buffer, firstBlock: number, expectFinal: boolean) {
    checkChunkId(chunkId);
    const prefix = aadPrefix(chunkId);
    const parts: Buffer[] = [];
    let keyId: number | undefined;
    let compressed: boolean | undefined;
    let sawFinal = false;
    for (let pos = 0, index = firstBlock; pos < sealed.length; index++) {
      if (sawFinal) throw new IntegrityError(`chunk ${chunkId}: bytes follow the final block`);
      const size = Math.min(this.#sealedBlockSize, sealed.length - pos);
      const block = sealed.subarray(pos, pos + size);
      pos += size;
      const b = this.#checkBlock(chunkId, block, index);
      if (keyId !== undefined && b.keyId !== keyId) {
        throw new IntegrityError(`chunk ${chunkId}: block ${index} was sealed by another key generation`);
      }
      if (compressed !== undefined && compressed !== b.compressed) {
        throw new IntegrityError(`chunk ${chunkId}: block ${index} disagrees about compression`);
      }
      keyId = b.keyId;
      compressed = b.compressed;
      const plain = Buffer.allocUnsafe(block.length - BLOCK_OVERHEAD);
      parts.push(this.#decrypt(chunkId, index, b, blockAadFrom(prefix, index, b.header), block, plain));
      sawFinal = b.final;
    }
    if (expectFinal && !sawFinal) throw new IntegrityError(`chunk ${chunkId} is truncated: its final block is missing`);
    return { plaintext: parts.length === 1 ? parts[0]! : Buffer.concat(parts), compressed: compressed ?? false };
  }

  /** Header checks of one sealed block (format, flags, known key, size vs FINAL). */
  #checkBlock(chunkId: string, block: Buffer, index: number): CheckedBlock {
    const size = block.length;
    if (size < BLOCK_OVERHEAD) throw new IntegrityError(`chunk ${chunkId}: block ${index} is truncated`);
    if (size > this.#sealedBlockSize) throw new IntegrityError(`chunk ${chunkId}: block ${index} is too long`);
    const header = block.subarray(0, BLOCK_HEADER_BYTES);
    const flags = header[1]!;
    const keyId = header.readUInt32BE(2);
    if (header[0] !== CHUNK_FORMAT || (flags & ~KNOWN_FLAGS) !== 0) {
      throw new IntegrityError(`chunk ${chunkId}: block ${index} has an unknown format or flags`);
    }
    if (!this.#keyring.has(keyId)) throw new UnknownKeyGenerationError(keyId);
    const final = (flags & FLAG_FINAL) !== 0;
    if (!final && size < this.#sealedBlockSize) {
      throw new IntegrityError(`chunk ${chunkId}: block ${index} is short but not final (truncated)`);
    }
    return { header, keyId, final, compressed: (flags & FLAG_COMPRESSED) !== 0 };
  }

  /** Verifies block `index` and decrypts it into `out`; returns the plaintext (a view of `out`). */
  #decrypt(chunkId: string, index: number, b: CheckedBlock, aad: Buffer, block: Buffer, out: Buffer): Buffer {
    const plain = out.subarray(0, block.length - BLOCK_OVERHEAD);
    const opened = gcmOpenInto(
      { keyring: this.#keyring, purpose: "chunkData", keyId: b.keyId },
      b.header.subarray(6),
      aad,
      block.subarray(BLOCK_HEADER_BYTES, block.length - BLOCK_TAG_BYTES),
      block.subarray(block.length - BLOCK_TAG_BYTES),
      plain,
    );
    if (!opened) throw new IntegrityError(`chunk ${chunkId}: block ${index} failed authentication`);
    return plain;
  }
}

interface CheckedBlock {
  header: Buffer;
  keyId: number;
  final: boolean;
  compressed: boolean;
}

function checkChunkId(chunkId: string): void {
  if (chunkId.length === 0 || chunkId.length > 200) throw new RangeError("chunk id must be 1–200 characters");
}

/** The same bytes as blockAadFrom(aadPrefix(chunkId), …) in one allocation (one block opened alone). */
function blockAad(chunkId: string, index: number, header: Buffer): Buffer {
  const idBytes = Buffer.byteLength(chunkId);
  const aad = Buffer.allocUnsafe(AAD_LABEL.length + idBytes + 1 + 4 + header.length);
  let at = AAD_LABEL.copy(aad, 0);
  at += aad.write(chunkId, at, "utf8");
  aad[at++] = 0;
  at = aad.writeUInt32BE(index, at);
  header.copy(aad, at);
  return aad;
}

/** label | chunk id | 0: the part of every block's associated data that names the chunk. */
function aadPrefix(chunkId: string): Buffer {
  return Buffer.concat([AAD_LABEL, Buffer.from(chunkId), Buffer.from([0])]);
}

/** prefix | block index (u32 BE) | header, in one allocation (opened once per 64 KiB block). */
function blockAadFrom(prefix: Buffer, index: number, header: Buffer): Buffer {
  const aad = Buffer.allocUnsafe(prefix.length + 4 + header.length);
  prefix.copy(aad, 0);
  aad.writeUInt32BE(index, prefix.length);
  header.copy(aad, prefix.length + 4);
  return aad;
}
