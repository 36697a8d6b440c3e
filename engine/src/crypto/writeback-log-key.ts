/**
 * Keys of the mount's local write-back log (`<cache>/writeback`), which holds file content
 * until it is uploaded. The log key of a generation is HKDF of that generation's master key
 * with its own label (`writeBackLog`): one-way, so the log key reveals no data, name or other
 * key, and it is never written anywhere — the mount derives it again from the keyring it
 * unlocked. Every segment names the generation it was written under, so a log written before a
 * key rotation still replays after it.
 *
 * Each segment gets its own key: HKDF of the log key with the segment's random id as salt.
 * Nonces inside a segment then only have to be unique per segment (they are the byte position).
 */
import { createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { KEY_BYTES, type Keyring } from "./keyring.js";

/** Where the write-back log gets its keys: by generation, newest for new segments. */
export interface WriteBackLogKeys {
  /** Generation new segments are written under. 0 = ephemeral (this process only). */
  readonly currentKeyId: number;
  /** Log key of a generation; throws UnknownKeyGenerationError when the keyring lacks it. */
  logKey(keyId: number): Buffer;
}

const SEGMENT_INFO = Buffer.from("filespaces/v1/writeback-segment");
const KEY_CHECK_CONSTANT = Buffer.from("filespaces/v1/writeback-key-check");

/** Log keys derived from the filespace keyring the mount unlocked. */
export function writeBackLogKeys(keyring: Keyring): WriteBackLogKeys {
  return {
    currentKeyId: keyring.currentKeyId,
    logKey: (keyId) => keyring.subkey("writeBackLog", keyId),
  };
}

/**
 * A random key that lives only in this process (generation id 0): for callers without a keyring
 * (tests, benchmarks). Its segments cannot be replayed by another process, which says so.
 */
export function ephemeralWriteBackLogKeys(): WriteBackLogKeys {
  const key = randomBytes(KEY_BYTES);
  return {
    currentKeyId: 0,
    logKey: (keyId) => {
      if (keyId !== 0) throw new RangeError(`an ephemeral write-back key has generation 0, not ${keyId}`);
      return key;
    },
  };
}

/** The key of one segment (`segmentId` is its random id from the file name). */
export function deriveSegmentKey(logKey: Buffer, segmentId: string): KeyObject {
  const key = hkdfSync("sha256", logKey, Buffer.from(segmentId), SEGMENT_INFO, KEY_BYTES);
  return createSecretKey(Buffer.from(key));
}

/**
 * 16-byte key-check value of a segment key, stored in the segment header so replay with the
 * wrong keyring fails with a clear error before touching records. An HMAC of a constant under
 * a derived key: reveals nothing about any key.
 */
export function segmentKeyCheck(segmentKey: KeyObject): Buffer {
  return createHmac("sha256", segmentKey).update(KEY_CHECK_CONSTANT).digest().subarray(0, 16);
}
