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

export const TAG_BYTES = 16;
const NONCE_BYTES = 12;
/** GCM's first counter for data (counter 1 is used for the tag). */
const FIRST_DATA_COUNTER = 2;
const SLICE_BYTES = 64 * 1024;

export class RecordCipher {
  constructor(private readonly key: KeyObject) {}

  /**
   * Seals `data` of the record at `recordPos`, handing the ciphertext to `out` slice by slice
   * (no record-sized allocation; one huge `update` is also slower), then writes the tag into `tagOut`.
   */
  seal(recordPos: number, aad: Buffer, data: Buffer | undefined, tagOut: Buffer, out: (sealed: Buffer) => void): void {
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
    const counter = Buffer.alloc(16);
    nonce(recordPos).copy(counter);
    counter.writeUInt32BE(FIRST_DATA_COUNTER + Math.floor(skip / 16), NONCE_BYTES);
    const decipher = createDecipheriv("aes-256-ctr", this.key, counter);
    const lead = skip % 16;
    if (lead > 0) decipher.update(Buffer.alloc(lead));
    return decipher.update(sealed); // CTR: final() adds nothing
  }
}

function nonce(recordPos: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  n.writeBigUInt64BE(BigInt(recordPos), 4);
  return n;
}
