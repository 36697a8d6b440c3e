/**
 * `filespace.json`: the only clear-text object of a filespace. It holds the format, sizes,
 * cipher, key slots (wrapped keys + KDF parameters), key generation ids and the meta
 * key-check value — never a name, never content, never an unwrapped key.
 *
 * The header is authenticated by an HMAC under the newest generation (`auth`), so someone
 * with write access to the store but no key cannot, e.g., slip in their own key slot and
 * receive the next generation. Rolling the whole header back to an older authentic version
 * cannot be detected from the store alone (see docs/format.md).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Keyring } from "../crypto/index.js";
import { FormatError } from "./errors.js";

export const HEADER_KEY = "filespace.json";
export const FORMAT_NAME = "filespaces";
export const FORMAT_VERSION = 1;
export const MIN_BLOCK_SIZE = 4 * 1024;
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024;
export const MAX_CHUNK_SIZE = 256 * 1024 * 1024;

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]+={0,2}$/, "expected base64 text");
const keyId = z.int().min(1).max(0xffffffff);
const isoTime = z.iso.datetime({ offset: true });

// Caps: the header is read before it can be authenticated, so its KDF parameters must not be
// able to make an unlock allocate gigabytes or run for hours.
const kdfSchema = z.discriminatedUnion("name", [
  z
    .object({
      name: z.literal("scrypt"),
      N: z
        .int()
        .min(2)
        .max(2 ** 22)
        .refine((n) => (n & (n - 1)) === 0, "scrypt N must be a power of two"),
      r: z.int().min(1).max(32),
      p: z.int().min(1).max(16),
      salt: base64,
    })
    .refine((k) => 128 * k.N * k.r <= 1024 ** 3, "scrypt N·r needs more than 1 GiB of memory"),
  z.object({ name: z.literal("hkdf-sha256"), salt: base64 }),
]);

const slotSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{12}$/, "expected a 12-hex-digit slot id"),
  kind: z.enum(["passphrase", "secret"]),
  label: z.string().max(200).optional(),
  createdAt: isoTime,
  kdf: kdfSchema,
  publicKey: base64,
  sealedPrivateKey: base64,
  generations: z.array(z.object({ keyId, ephemeralPublicKey: base64, sealedKey: base64 })).min(1),
});

export const headerSchema = z
  .object({
    format: z.literal(FORMAT_NAME),
    version: z.literal(FORMAT_VERSION),
    filespaceId: z.uuid(),
    createdAt: isoTime,
    cipher: z.literal("AES-256-GCM"),
    chunkSize: z.int().min(MIN_BLOCK_SIZE).max(MAX_CHUNK_SIZE),
    blockSize: z.int().min(MIN_BLOCK_SIZE).max(MAX_BLOCK_SIZE),
    /** Whether new chunks are compressed (deflate-raw) before sealing. */
    compression: z.enum(["none", "deflate-raw"]),
    generations: z.array(z.object({ keyId, createdAt: isoTime })).min(1),
    slots: z.array(slotSchema).min(1),
    /** HMAC-SHA256(meta at-rest key, constant), base64. */
    metaKeyCheck: base64,
    auth: z.object({ keyId, mac: base64 }),
  })
  .refine((h) => h.chunkSize % h.blockSize === 0, {
    message: "chunkSize must be a multiple of blockSize",
    path: ["chunkSize"],
  });

export type FilespaceHeader = z.infer<typeof headerSchema>;
export type HeaderSlot = FilespaceHeader["slots"][number];

/** Parses and validates header bytes; errors name the field and what was expected. */
export function parseHeader(bytes: Buffer): FilespaceHeader {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new FormatError(`${HEADER_KEY} is not valid JSON`, { cause });
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > FORMAT_VERSION) {
    throw new FormatError(
      `${HEADER_KEY} has format version ${version}; this client understands up to ${FORMAT_VERSION}`,
    );
  }
  const result = headerSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new FormatError(`${HEADER_KEY} is invalid: ${issues}`);
  }
  return result.data;
}

export function serializeHeader(header: FilespaceHeader): Buffer {
  return Buffer.from(`${JSON.stringify(header, null, 2)}\n`);
}

/** The header's MAC under generation `keyId`, over a canonical form of everything but `auth`. */
export function headerMac(header: Omit<FilespaceHeader, "auth">, keyring: Keyring, keyId: number): string {
  const { auth: _ignored, ...rest } = header as FilespaceHeader;
  return createHmac("sha256", keyring.subkey("headerAuth", keyId)).update(canonicalJson(rest)).digest("base64");
}

export function signHeader(header: Omit<FilespaceHeader, "auth">, keyring: Keyring): FilespaceHeader {
  const keyId = keyring.currentKeyId;
  return { ...(header as FilespaceHeader), auth: { keyId, mac: headerMac(header, keyring, keyId) } };
}

export function headerMacValid(header: FilespaceHeader, keyring: Keyring): boolean {
  if (!keyring.has(header.auth.keyId)) return false;
  const expected = Buffer.from(headerMac(header, keyring, header.auth.keyId), "base64");
  const actual = Buffer.from(header.auth.mac, "base64");
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** JSON with object keys sorted at every level, so the MAC does not depend on key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
