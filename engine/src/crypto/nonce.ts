/**
 * Random 96-bit AES-GCM nonces, handed out from a batch of OS randomness.
 *
 * Why: `randomBytes(12)` per sealed value crosses into OpenSSL's RNG for 12 bytes each time; a
 * create seals three values (the name, and the namespace journal's "queued" and "landed"
 * lines), and those calls were 7 % of the mount's JS thread while creating 10,000 files. One
 * call now fills 512 nonces, for names, at-rest blobs and chunk blocks alike (an 8 MiB chunk
 * takes 128). They are as random as before (the same generator, fetched ahead),
 * each is handed out once, and a nonce is public anyway: holding a few in memory reveals
 * nothing. (Node's own `randomUUID` batches the same way.) Each thread has its own batch.
 */
import { randomFillSync } from "node:crypto";

export const NONCE_BYTES = 12;
const BATCH = 512;

const batch = Buffer.allocUnsafe(NONCE_BYTES * BATCH);
let next = batch.length; // empty: filled on first use

/** Writes a fresh random nonce into `into` at `offset`. */
export function writeRandomNonce(into: Uint8Array, offset = 0): void {
  if (next === batch.length) {
    randomFillSync(batch);
    next = 0;
  }
  batch.copy(into, offset, next, next + NONCE_BYTES);
  batch.fill(0, next, next + NONCE_BYTES); // never hand the same bytes out twice, even by a bug
  next += NONCE_BYTES;
}

/** A fresh random nonce. */
export function randomNonce(): Buffer {
  const n = Buffer.allocUnsafe(NONCE_BYTES);
  writeRandomNonce(n);
  return n;
}
