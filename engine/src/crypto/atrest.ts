/**
 * At-rest sealing for the metadata service's own objects (journal segments, checkpoints).
 *
 * The service holds only this key. It is derived one-way from the filespace keyring at
 * init (see keys), so holding it reveals no data or name key; it is handed to the
 * service separately (file or environment), never stored in the object store.
 *
 * Format: version(1) | nonce(12) | ciphertext | tag(16); AES-256-GCM with caller-chosen
 * associated data (callers bind the object key so objects cannot be swapped).
 */
import { type Cipher, createCipheriv, createDecipheriv, type Decipher } from "node:crypto";
import { IntegrityError } from "./errors.js";
import { NONCE_BYTES, randomNonce } from "./nonce.js";

const VERSION = 1;
const TAG_BYTES = 16;
/** One huge `update` runs at a fraction of AES speed here (measured 5× slower for 64 MiB). */
const SLICE_BYTES = 64 * 1024;

export class AtRestCipher {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new RangeError(`at-rest key must be 32 bytes, got ${key.length}`);
    this.#key = Buffer.from(key);
  }

  seal(plaintext: Buffer, associatedData: Buffer): Buffer {
    const nonce = randomNonce();
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce);
    cipher.setAAD(associatedData);
    const out = Buffer.allocUnsafe(1 + NONCE_BYTES + plaintext.length + TAG_BYTES);
    out[0] = VERSION;
    nonce.copy(out, 1);
    let pos = updateInSlices(cipher, plaintext, out, 1 + NONCE_BYTES);
    pos += cipher.final().copy(out, pos);
    cipher.getAuthTag().copy(out, pos);
    return out;
  }

  open(sealed: Buffer, associatedData: Buffer): Buffer {
    if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
      throw new IntegrityError("sealed metadata object is truncated or has an unknown version");
    }
    const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce);
    decipher.setAAD(associatedData);
    decipher.setAuthTag(tag);
    try {
      const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
      const out = Buffer.allocUnsafe(body.length);
      const pos = updateInSlices(decipher, body, out, 0);
      decipher.final().copy(out, pos);
      return out;
    } catch (cause) {
      throw new IntegrityError("sealed metadata object failed authentication (wrong key or tampered)", { cause });
    }
  }
}

/** Feeds `input` through the cipher in slices, writing into `out` at `pos`; returns the end. */
function updateInSlices(cipher: Cipher | Decipher, input: Buffer, out: Buffer, pos: number): number {
  for (let offset = 0; offset < input.length; offset += SLICE_BYTES) {
    pos += cipher.update(input.subarray(offset, offset + SLICE_BYTES)).copy(out, pos);
  }
  return pos;
}
