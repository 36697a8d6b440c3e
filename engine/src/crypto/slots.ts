/**
 * Key slots: the several coexisting ways to unlock a filespace's keyring.
 *
 * Each slot owns an X25519 key pair. Its public key is stored in clear; its private key is
 * sealed (AES-256-GCM) under the slot's KEK, which comes from a passphrase (scrypt) or a raw
 * secret (HKDF). Every key generation is sealed to every slot's public key (ephemeral ECDH +
 * HKDF + AES-256-GCM). That split is what makes management work without every passphrase:
 *  - rotation seals a new generation to all remaining slots using only their public keys;
 *  - removing a slot and rotating truly revokes its holder from new data, because the new
 *    generation was never sealed to it.
 * Unlock = derive KEK → open the private key → open every generation. A wrong passphrase
 * fails AES-GCM authentication on the private key, so it can only ever be `WrongKeyError`.
 *
 * Every seal binds, as associated data, the filespace id and slot id (and key id), so wraps
 * cannot be moved between slots or filespaces.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  scrypt,
} from "node:crypto";
import { IntegrityError, WrongKeyError } from "./errors.js";
import { hkdf, KEY_BYTES, type Keyring } from "./keyring.js";

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
/** Strong default: ≈0.7 s per unwrap on the reference machine (see docs/benchmarks.md). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const MIN_SECRET_BYTES = 32;

export type SlotKdf =
  | { name: "scrypt"; N: number; r: number; p: number; salt: string }
  | { name: "hkdf-sha256"; salt: string };

export interface SealedGeneration {
  keyId: number;
  /** Ephemeral X25519 public key (base64url, raw 32 bytes). */
  ephemeralPublicKey: string;
  /** nonce | ciphertext | tag, base64. */
  sealedKey: string;
}

/** One key slot as stored in the filespace header (JSON-safe; nothing here is secret). */
export interface SealedKeySlot {
  id: string;
  kind: "passphrase" | "secret";
  label?: string | undefined;
  createdAt: string;
  kdf: SlotKdf;
  /** X25519 public key (base64url, raw 32 bytes). */
  publicKey: string;
  /** The slot's X25519 private key sealed under its KEK: nonce | ciphertext | tag, base64. */
  sealedPrivateKey: string;
  generations: SealedGeneration[];
}

export type NewSlotSpec =
  | { kind: "passphrase"; passphrase: string; scrypt?: ScryptParams; label?: string }
  | { kind: "secret"; secret: Buffer; label?: string };

export type SlotCredential = { passphrase: string } | { secret: Buffer };

const PRIVATE_KEY_LABEL = "filespaces/v1/slot-private-key";
const GENERATION_WRAP_LABEL = "filespaces/v1/generation-wrap";
const SECRET_KEK_LABEL = "filespaces/v1/slot-kek-secret";

/** Creates a slot for `spec` and seals every generation of `keyring` to it. */
export async function createKeySlot(spec: NewSlotSpec, keyring: Keyring, filespaceId: string): Promise<SealedKeySlot> {
  const id = randomBytes(6).toString("hex");
  const salt = randomBytes(16);
  let kdf: SlotKdf;
  if (spec.kind === "passphrase") {
    const params = spec.scrypt ?? DEFAULT_SCRYPT;
    kdf = { name: "scrypt", ...params, salt: salt.toString("base64") };
  } else {
    kdf = { name: "hkdf-sha256", salt: salt.toString("base64") };
  }
  const kek = await deriveKek(
    kdf,
    spec.kind === "passphrase" ? { passphrase: spec.passphrase } : { secret: spec.secret },
  );
  const pair = generateKeyPairSync("x25519");
  const publicKey = rawPublic(pair.publicKey);
  const privateRaw = Buffer.from(pair.privateKey.export({ format: "jwk" }).d as string, "base64url");
  let slot: SealedKeySlot = {
    id,
    kind: spec.kind,
    ...(spec.label ? { label: spec.label } : {}),
    createdAt: new Date().toISOString(),
    kdf,
    publicKey,
    sealedPrivateKey: aeadSeal(kek, privateRaw, privateKeyAad(filespaceId, id, publicKey)).toString("base64"),
    generations: [],
  };
  for (const keyId of keyring.keyIds)
    slot = sealGenerationToSlot(slot, keyId, keyring.generationKey(keyId), filespaceId);
  return slot;
}

/** Returns the slot with generation `keyId` sealed to it; needs only the slot's public key. */
export function sealGenerationToSlot(
  slot: SealedKeySlot,
  keyId: number,
  generationKey: Buffer,
  filespaceId: string,
): SealedKeySlot {
  const ephemeral = generateKeyPairSync("x25519");
  const ephemeralPublicKey = rawPublic(ephemeral.publicKey);
  const wrapKey = generationWrapKey(ephemeral.privateKey, slot.publicKey, ephemeralPublicKey, slot.publicKey);
  const sealedKey = aeadSeal(wrapKey, generationKey, generationAad(filespaceId, slot.id, keyId)).toString("base64");
  const others = slot.generations.filter((g) => g.keyId !== keyId);
  return {
    ...slot,
    generations: [...others, { keyId, ephemeralPublicKey, sealedKey }].sort((a, b) => a.keyId - b.keyId),
  };
}

/** Opens every generation sealed to `slot`. A wrong credential → `WrongKeyError`. */
export async function openKeySlot(
  slot: SealedKeySlot,
  credential: SlotCredential,
  filespaceId: string,
): Promise<Map<number, Buffer>> {
  const wantKind = "passphrase" in credential ? "passphrase" : "secret";
  if (slot.kind !== wantKind)
    throw new WrongKeyError(`key slot ${slot.id} is a ${slot.kind} slot, not a ${wantKind} slot`);
  const kek = await deriveKek(slot.kdf, credential);
  let privateRaw: Buffer;
  try {
    privateRaw = aeadOpen(
      kek,
      Buffer.from(slot.sealedPrivateKey, "base64"),
      privateKeyAad(filespaceId, slot.id, slot.publicKey),
    );
  } catch (cause) {
    throw new WrongKeyError(`the ${slot.kind} does not open key slot ${slot.id}`, { cause });
  }
  const privateKey = createPrivateKey({
    key: { kty: "OKP", crv: "X25519", d: privateRaw.toString("base64url"), x: slot.publicKey },
    format: "jwk",
  });
  const generations = new Map<number, Buffer>();
  for (const g of slot.generations) {
    const wrapKey = generationWrapKey(privateKey, g.ephemeralPublicKey, g.ephemeralPublicKey, slot.publicKey);
    try {
      generations.set(
        g.keyId,
        aeadOpen(wrapKey, Buffer.from(g.sealedKey, "base64"), generationAad(filespaceId, slot.id, g.keyId)),
      );
    } catch (cause) {
      throw new IntegrityError(`key generation ${g.keyId} in slot ${slot.id} failed authentication`, { cause });
    }
  }
  return generations;
}

async function deriveKek(kdf: SlotKdf, credential: SlotCredential): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, "base64");
  if (kdf.name === "scrypt") {
    if (!("passphrase" in credential)) throw new WrongKeyError("this key slot needs a passphrase");
    if (credential.passphrase.length === 0) throw new WrongKeyError("the passphrase is empty");
    const { N, r, p } = kdf;
    // Node's default maxmem (32 MiB) rejects N ≥ 2^15; allow what the parameters need plus slack.
    const maxmem = 128 * N * r + 128 * r * p + 16 * 1024 * 1024;
    return new Promise((resolve, reject) =>
      scrypt(credential.passphrase.normalize("NFC"), salt, KEY_BYTES, { N, r, p, maxmem }, (err, key) =>
        err ? reject(err) : resolve(key),
      ),
    );
  }
  if (!("secret" in credential)) throw new WrongKeyError("this key slot needs a secret, not a passphrase");
  if (credential.secret.length < MIN_SECRET_BYTES) {
    throw new WrongKeyError(
      `a key-slot secret must be at least ${MIN_SECRET_BYTES} bytes, got ${credential.secret.length}`,
    );
  }
  return hkdf(credential.secret, salt, SECRET_KEK_LABEL);
}

/**
 * ECDH between one private key and the other side's public key; the HKDF salt binds both
 * public keys (ephemeral first, then the slot's), whichever side computes it.
 */
function generationWrapKey(
  privateKey: KeyObject,
  peerPublic: string,
  ephemeralPublic: string,
  slotPublic: string,
): Buffer {
  const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: peerPublic }, format: "jwk" });
  const shared = diffieHellman({ privateKey, publicKey });
  const salt = Buffer.concat([Buffer.from(ephemeralPublic, "base64url"), Buffer.from(slotPublic, "base64url")]);
  return hkdf(shared, salt, GENERATION_WRAP_LABEL);
}

function rawPublic(key: KeyObject): string {
  return key.export({ format: "jwk" }).x as string;
}

function privateKeyAad(filespaceId: string, slotId: string, publicKey: string): Buffer {
  return Buffer.from(`${PRIVATE_KEY_LABEL}\0${filespaceId}\0${slotId}\0${publicKey}`);
}

function generationAad(filespaceId: string, slotId: string, keyId: number): Buffer {
  return Buffer.from(`${GENERATION_WRAP_LABEL}\0${filespaceId}\0${slotId}\0${keyId}`);
}

function aeadSeal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Throws (OpenSSL's error) when authentication fails; callers map it to their typed error. */
function aeadOpen(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < 28) throw new IntegrityError("sealed key material is truncated");
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}
