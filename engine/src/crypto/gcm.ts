/**
 * AES-256-GCM with a keyring subkey, into the caller's memory. With the native helper
 * (platform/io-addon.ts) it is one call and allocates nothing: an untar seals a name per file,
 * and a stream opens blocks by the thousand. Without it, Node's ciphers give the same bytes (a
 * cipher object and output buffers per call).
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { type IoAddon, ioAddon } from "../platform/io-addon.js";
import type { Keyring, SubkeyPurpose } from "./keyring.js";

/** Which subkey: one purpose of one key generation. */
export interface GcmKey {
  keyring: Keyring;
  purpose: SubkeyPurpose;
  keyId: number;
}

/**
 * Encrypts `plain` into `out` (same length) and writes the 16-byte tag into `tag`. (`io`: the
 * native helper, or null for Node's ciphers; tests pass it to check both paths agree.)
 */
export function gcmSealInto(
  key: GcmKey,
  iv: Buffer,
  aad: Buffer,
  plain: Buffer,
  out: Buffer,
  tag: Buffer,
  io: IoAddon | null = ioAddon(),
): void {
  const native = io?.gcmSealInto;
  if (native) {
    native(key.keyring.subkey(key.purpose, key.keyId), iv, aad, plain, out, tag);
    return;
  }
  const cipher = createCipheriv("aes-256-gcm", key.keyring.subkeyObject(key.purpose, key.keyId), iv);
  cipher.setAAD(aad);
  cipher.update(plain).copy(out);
  cipher.final();
  cipher.getAuthTag().copy(tag);
}

/**
 * Verifies and decrypts `ciphertext` into `out` (at least as long); false when the tag does not
 * verify — then `out` holds no plaintext.
 */
export function gcmOpenInto(
  key: GcmKey,
  iv: Buffer,
  aad: Buffer,
  ciphertext: Buffer,
  tag: Buffer,
  out: Buffer,
  io: IoAddon | null = ioAddon(),
): boolean {
  if (io) return io.gcmOpenInto(key.keyring.subkey(key.purpose, key.keyId), iv, aad, ciphertext, tag, out);
  const decipher = createDecipheriv("aes-256-gcm", key.keyring.subkeyObject(key.purpose, key.keyId), iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  const plain = decipher.update(ciphertext);
  try {
    decipher.final();
  } catch {
    return false;
  }
  plain.copy(out);
  return true;
}
