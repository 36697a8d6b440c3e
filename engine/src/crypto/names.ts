/**
 * Name sealing: what the metadata service stores instead of names, xattrs and symlinks.
 *
 * - Lookup tokens: HMAC-SHA256(name-token key of generation 1, domain | parent | name),
 *   truncated to 16 bytes. The service indexes directory entries by token, so tokens must be
 *   stable forever (hence generation 1 only). 128 bits: without the key nobody can aim for a
 *   collision, and accidental ones need ~2^64 entries; half the size keeps the index small.
 * - Sealed values: [version u8 | purpose u8 | keyId u32 BE | nonce 12][ciphertext][tag 16],
 *   AES-256-GCM under the purpose's subkey of the newest generation, associated data =
 *   label | purpose | header | optional caller context. The plaintext is length-prefixed and
 *   zero-padded to a multiple of 32 bytes so sealed sizes leak only a coarse length.
 */
import { createHmac } from "node:crypto";
import { IntegrityError, UnknownKeyGenerationError } from "./errors.js";
import { gcmOpenInto, gcmSealInto } from "./gcm.js";
import { FIRST_KEY_ID, type Keyring, type SubkeyPurpose } from "./keyring.js";
import { writeRandomNonce } from "./nonce.js";

export const LOOKUP_TOKEN_BYTES = 16;
const SEALED_VERSION = 1;
const HEADER_BYTES = 18;
const TAG_BYTES = 16;
const PAD_TO = 32;
const AAD_LABEL = "filespaces/v1/sealed-value";

/** Each purpose has its own id (in the header and the AAD) and its own subkey. */
const PURPOSES = {
  name: { id: 1, subkey: "nameSeal" },
  xattrName: { id: 2, subkey: "xattrSeal" },
  xattrValue: { id: 3, subkey: "xattrSeal" },
  symlink: { id: 4, subkey: "symlinkSeal" },
} as const satisfies Record<string, { id: number; subkey: SubkeyPurpose }>;
export type SealPurpose = keyof typeof PURPOSES;

/** Optional binding of a sealed value to where it belongs (e.g. the inode id it describes). */
export type SealContext = string | Buffer | undefined;

export class NameSealer {
  readonly #keyring: Keyring;

  constructor(keyring: Keyring) {
    this.#keyring = keyring;
  }

  /** The stable index key of directory entry `name` under directory `parentId`. */
  lookupToken(parentId: string | bigint, name: string | Buffer): Buffer {
    return this.#token("dirent", parentId, name);
  }

  /** The stable index key of extended attribute `name` on inode `inodeId`. */
  xattrToken(inodeId: string | bigint, name: string | Buffer): Buffer {
    return this.#token("xattr", inodeId, name);
  }

  sealName(name: string | Buffer, context?: SealContext): Buffer {
    return this.seal("name", toBytes(name), context);
  }
  openName(sealed: Buffer, context?: SealContext): string {
    return this.open("name", sealed, context).toString("utf8");
  }
  sealXattrName(name: string | Buffer, context?: SealContext): Buffer {
    return this.seal("xattrName", toBytes(name), context);
  }
  openXattrName(sealed: Buffer, context?: SealContext): string {
    return this.open("xattrName", sealed, context).toString("utf8");
  }
  sealXattrValue(value: Buffer, context?: SealContext): Buffer {
    return this.seal("xattrValue", value, context);
  }
  openXattrValue(sealed: Buffer, context?: SealContext): Buffer {
    return this.open("xattrValue", sealed, context);
  }
  sealSymlink(target: string | Buffer, context?: SealContext): Buffer {
    return this.seal("symlink", toBytes(target), context);
  }
  openSymlink(sealed: Buffer, context?: SealContext): string {
    return this.open("symlink", sealed, context).toString("utf8");
  }

  /** Seals bytes for `purpose` with the newest generation. */
  seal(purpose: SealPurpose, value: Buffer, context?: SealContext): Buffer {
    const { id, subkey } = PURPOSES[purpose];
    const keyId = this.#keyring.currentKeyId;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header[0] = SEALED_VERSION;
    header[1] = id;
    header.writeUInt32BE(keyId, 2);
    writeRandomNonce(header, 6);
    const padded = Buffer.alloc(4 + Math.ceil((value.length + 4) / PAD_TO) * PAD_TO - 4);
    padded.writeUInt32BE(value.length, 0);
    value.copy(padded, 4);
    const out = Buffer.allocUnsafe(HEADER_BYTES + padded.length + TAG_BYTES);
    header.copy(out);
    gcmSealInto(
      { keyring: this.#keyring, purpose: subkey, keyId },
      header.subarray(6),
      aad(purpose, header, context),
      padded,
      out.subarray(HEADER_BYTES, HEADER_BYTES + padded.length),
      out.subarray(out.length - TAG_BYTES),
    );
    return out;
  }

  /** Verifies and opens bytes sealed for `purpose`; anything else → `IntegrityError`. */
  open(purpose: SealPurpose, sealed: Buffer, context?: SealContext): Buffer {
    const { id, subkey } = PURPOSES[purpose];
    if (sealed.length < HEADER_BYTES + 4 + TAG_BYTES || sealed[0] !== SEALED_VERSION) {
      throw new IntegrityError(`sealed ${purpose} is truncated or has an unknown version`);
    }
    if (sealed[1] !== id) throw new IntegrityError(`sealed value is not a ${purpose}`);
    const keyId = sealed.readUInt32BE(2);
    if (!this.#keyring.has(keyId)) throw new UnknownKeyGenerationError(keyId);
    const header = sealed.subarray(0, HEADER_BYTES);
    const padded = this.#decrypt(purpose, subkey, keyId, header, sealed, context);
    const length = padded.readUInt32BE(0);
    if (length > padded.length - 4) throw new IntegrityError(`sealed ${purpose} has an impossible length`);
    return padded.subarray(4, 4 + length);
  }

  /** The padded plaintext of `sealed`, or IntegrityError. */
  #decrypt(
    purpose: SealPurpose,
    subkey: SubkeyPurpose,
    keyId: number,
    header: Buffer,
    sealed: Buffer,
    context: SealContext,
  ): Buffer {
    const ciphertext = sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES);
    const padded = Buffer.allocUnsafe(ciphertext.length);
    const opened = gcmOpenInto(
      { keyring: this.#keyring, purpose: subkey, keyId },
      header.subarray(6),
      aad(purpose, header, context),
      ciphertext,
      sealed.subarray(sealed.length - TAG_BYTES),
      padded,
    );
    if (!opened) throw new IntegrityError(`sealed ${purpose} failed authentication (tampered, moved, or wrong key)`);
    return padded;
  }

  #token(domain: string, ownerId: string | bigint, name: string | Buffer): Buffer {
    const owner = Buffer.from(typeof ownerId === "bigint" ? ownerId.toString() : ownerId);
    const ownerLength = Buffer.allocUnsafe(4);
    ownerLength.writeUInt32BE(owner.length);
    return createHmac("sha256", this.#keyring.subkey("nameToken", FIRST_KEY_ID))
      .update(`${domain}\0`)
      .update(ownerLength)
      .update(owner)
      .update(toBytes(name))
      .digest()
      .subarray(0, LOOKUP_TOKEN_BYTES);
  }
}

function toBytes(value: string | Buffer): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : value;
}

function aad(purpose: SealPurpose, header: Buffer, context: SealContext): Buffer {
  const ctx = context === undefined ? Buffer.alloc(0) : toBytes(context);
  return Buffer.concat([Buffer.from(`${AAD_LABEL}\0${purpose}\0`), header, ctx]);
}
