/**
 * Sealing of write-back log records: AES-256-GCM per record under the segment's key, with a
 * nonce made of the record's byte position in the segment (unique: segments are append-only and
 * never appended to after a restart). The record's clear header fields are the associated data.
 *
 * Why GCM and still random-access reads: GCM encrypts with AES-CTR starting at counter block
 * `nonce || 2`. A read of bytes [skip, skip+n) of a record is therefore plain AES-CTR from block
 * `2 + skip/16` — no need to open the whole record. The tag is checked where whole records are
 * read anyway (replay after a restart), so a wrong key or a tampered record is caught there;
 * live reads serve bytes this process wrote itself.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from "node:crypto";
import { ioAddon } from "../../platform/io-addon.js";

export const TAG_BYTES = 16;
const NONCE_BYTES = 12;
/** GCM's first counter for data (counter 1 is used for the tag). */
const FIRST_DATA_COUNTER = 2;
const SLICE_BYTES = 64 * 1024;
/** Records up to this size are sealed natively into one reused buffer (FUSE writes ≤ 1 MiB). */
const SCRATCH_BYTES = 1024 * 1024;
/**
 * That buffer: one per thread, not per segment (a backlog of sealed segments must not each keep
 * a MiB). Safe to share: sealing is synchronous and `out` is done with it before `seal` returns.
 */
let scratch: Buffer | undefined;

export class RecordCipher {
  /** The raw key, for the native helpers (sealing and decrypting into reused buffers). */
  private readonly rawKey: Buffer;

  constructor(private readonly key: KeyObject) {
    this.rawKey = key.export();
  }

  /**
   * Seals `data` of the record at `recordPos`, handing the ciphertext to `out` (which must be
   * done with it when it returns: the buffer is reused) — in one piece from the native helper, else
   * slice by slice (no record-sized allocation; one huge `update` is also slower) — then writes
   * the tag into `tagOut`.
   */
  seal(recordPos: number, aad: Buffer, data: Buffer | undefined, tagOut: Buffer, out: (sealed: Buffer) => void): void {
    const native = ioAddon()?.gcmSealInto;
    if (native && (data?.length ?? 0) <= SCRATCH_BYTES) {
      // One call, no allocation: Node's cipher returns a fresh buffer per slice.
      const plain = data ?? Buffer.alloc(0);
      scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES);
      const sealed = scratch.subarray(0, plain.length);
      native(this.rawKey, nonce(recordPos), aad, plain, sealed, tagOut);
      if (sealed.length > 0) out(sealed);
      return;
    }
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce(recordPos));
    cipher.setAAD(aad);
    if (data)
      for (let at = 0; at < data.length; at += SLICE_BYTES) out(cipher.update(data.subarray(at, at + SLICE_BYTES)));
    cipher.final();
    cipher.getAuthTag().copy(tagOut);
  }

  /** True when `sealed` and `aad` are what was sealed at `recordPos` under this key. */
  verify(recordPos: number, aad: Buffer, sealed: Buffer, tag: Buffer): boolean {
    const decipher = createDecipheriv("aes-256-gcm", this.key, nonce(recordPos));
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    for (let at = 0; at < sealed.length; at += SLICE_BYTES) decipher.update(sealed.subarray(at, at + SLICE_BYTES));
    try {
      decipher.final();
      return true;
    } catch {
      return false;
    }
  }

  /** Decrypts `sealed`, which holds the record's data from byte `skip` on. */
  openRange(recordPos: number, skip: number, sealed: Buffer): Buffer {
    if (sealed.length === 0) return sealed;
    const decipher = createDecipheriv("aes-256-ctr", this.key, counterAt(recordPos, skip));
    const lead = skip % 16;
    if (lead > 0) decipher.update(Buffer.alloc(lead));
    return decipher.update(sealed); // CTR: final() adds nothing
  }

  /**
   * `openRange` in place: `buf` holds the record's sealed data from byte `skip` on and is
   * decrypted where it lies (the upload assembles a chunk in a reused buffer this way).
   */
  openRangeInPlace(recordPos: number, skip: number, buf: Buffer): void {
    if (buf.length === 0) return;
    const native = ioAddon()?.ctrXorInto;
    if (native) native(this.rawKey, counterAt(recordPos, skip), skip % 16, buf, buf);
    else this.openRange(recordPos, skip, buf).copy(buf);
  }
}

/** The CTR counter block of byte `skip` of the record's data. */
function counterAt(recordPos: number, skip: number): Buffer {
  const counter = Buffer.alloc(16);
  nonce(recordPos).copy(counter);
  counter.writeUInt32BE(FIRST_DATA_COUNTER + Math.floor(skip / 16), NONCE_BYTES);
  return counter;
}

function nonce(recordPos: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  n.writeBigUInt64BE(BigInt(recordPos), 4);
  return n;
}
