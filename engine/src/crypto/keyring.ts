/**
 * The keyring: every key generation of a filespace, and the subkeys derived from them.
 *
 * A generation is a random 256-bit master key with a u32 id. New data is sealed with the
 * newest generation; everything sealed names the generation that sealed it, so older data
 * stays readable after a rotation. Subkeys come from HKDF-SHA256 with one label per purpose,
 * so a key for one purpose says nothing about the others.
 *
 * The lookup-token key is always taken from generation 1: tokens index directory entries in
 * the metadata service and must never change for a given (parent, name).
 */
import { createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { UnknownKeyGenerationError } from "./errors.js";

export const KEY_BYTES = 32;
/** The generation a new filespace starts with; also the home of the stable lookup-token key. */
export const FIRST_KEY_ID = 1;

/** Every subkey purpose; each label is part of the HKDF info and must never be reused. */
export const SUBKEY_LABELS = {
  chunkData: "filespaces/v1/chunk-data",
  nameToken: "filespaces/v1/name-token",
  nameSeal: "filespaces/v1/name-seal",
  xattrSeal: "filespaces/v1/xattr-seal",
  symlinkSeal: "filespaces/v1/symlink-seal",
  metaAtRest: "filespaces/v1/meta-at-rest",
  headerAuth: "filespaces/v1/header-auth",
  writeBackLog: "filespaces/v1/writeback-log",
} as const;
export type SubkeyPurpose = keyof typeof SUBKEY_LABELS;

const HKDF_SALT = Buffer.from("filespaces keyring v1");
const META_KEY_CHECK_CONSTANT = Buffer.from("filespaces/v1/meta-key-check");

export function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, Buffer.from(info), KEY_BYTES));
}

export class Keyring {
  readonly #generations = new Map<number, Buffer>();
  readonly #subkeys = new Map<string, Buffer>();
  readonly #subkeyObjects = new Map<string, KeyObject>();

  constructor(generations: Iterable<[number, Buffer]>) {
    for (const [id, key] of generations) this.#add(id, key);
    if (this.#generations.size === 0) throw new RangeError("a keyring needs at least one key generation");
  }

  /** A keyring for a new filespace: one random generation with id 1. */
  static generate(): Keyring {
    return new Keyring([[FIRST_KEY_ID, randomBytes(KEY_BYTES)]]);
  }

  /** The generation new data is sealed with (the highest id). */
  get currentKeyId(): number {
    return Math.max(...this.#generations.keys());
  }

  get keyIds(): number[] {
    return [...this.#generations.keys()].sort((a, b) => a - b);
  }

  has(keyId: number): boolean {
    return this.#generations.has(keyId);
  }

  /** Returns a new keyring with one more, newer generation (random). */
  withNewGeneration(): { keyring: Keyring; keyId: number } {
    const keyId = this.currentKeyId + 1;
    if (keyId > 0xffffffff) throw new RangeError("key generation ids are exhausted");
    const next = new Keyring([...this.#generations, [keyId, randomBytes(KEY_BYTES)]]);
    return { keyring: next, keyId };
  }

  /** The raw master key of one generation; only key wrapping needs it. */
  generationKey(keyId: number): Buffer {
    const key = this.#generations.get(keyId);
    if (!key) throw new UnknownKeyGenerationError(keyId);
    return key;
  }

  /** HKDF-SHA256 subkey of one generation for one purpose (cached). */
  subkey(purpose: SubkeyPurpose, keyId: number = this.currentKeyId): Buffer {
    const cacheKey = `${purpose}:${keyId}`;
    let key = this.#subkeys.get(cacheKey);
    if (!key) {
      key = hkdf(this.generationKey(keyId), HKDF_SALT, SUBKEY_LABELS[purpose]);
      this.#subkeys.set(cacheKey, key);
    }
    return key;
  }

  /** The same subkey as a KeyObject: saves re-importing the raw key on every cipher call. */
  subkeyObject(purpose: SubkeyPurpose, keyId: number = this.currentKeyId): KeyObject {
    const cacheKey = `${purpose}:${keyId}`;
    let key = this.#subkeyObjects.get(cacheKey);
    if (!key) {
      key = createSecretKey(this.subkey(purpose, keyId));
      this.#subkeyObjects.set(cacheKey, key);
    }
    return key;
  }

  #add(id: number, key: Buffer): void {
    if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) throw new RangeError(`bad key generation id ${id}`);
    if (key.length !== KEY_BYTES) throw new RangeError(`generation ${id} key must be ${KEY_BYTES} bytes`);
    this.#generations.set(id, Buffer.from(key));
  }
}

/**
 * The metadata service's at-rest key: HKDF of generation 1 with its own label. One-way, so
 * the service (which holds only this key) can derive no data, name or other key from it.
 */
export function deriveMetaAtRestKey(keyring: Keyring): Buffer {
  return Buffer.from(keyring.subkey("metaAtRest", FIRST_KEY_ID));
}

/**
 * Key-check value for a meta at-rest key: HMAC of a constant. Stored in the header so a
 * service started with the wrong key says so instead of failing on garbage; being an HMAC
 * output of a one-way-derived key, it reveals nothing about any key.
 */
export function metaKeyCheck(metaKey: Buffer): Buffer {
  return createHmac("sha256", metaKey).update(META_KEY_CHECK_CONSTANT).digest();
}
