/**
 * crypto/gcm.ts: the native path and Node's ciphers must produce the same bytes (names, chunks
 * and their readers use whichever is there), and a failed open must leave no plaintext behind.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type GcmKey, gcmOpenInto, gcmSealInto } from "../../src/crypto/gcm.js";
import { Keyring } from "../../src/crypto/keyring.js";
import { ioAddon } from "../../src/platform/io-addon.js";

const key: GcmKey = { keyring: new Keyring([[1, randomBytes(32)]]), purpose: "chunkData", keyId: 1 };
const paths = [
  ["native", ioAddon()],
  ["node", null],
] as const;

function sealed(size: number, io: (typeof paths)[number][1]) {
  const iv = randomBytes(12);
  const aad = randomBytes(20);
  const plain = randomBytes(size);
  const out = Buffer.alloc(size);
  const tag = Buffer.alloc(16);
  gcmSealInto(key, iv, aad, plain, out, tag, io);
  return { iv, aad, plain, out, tag };
}

describe("AES-256-GCM with a keyring subkey", () => {
  it("the native helper is built here (else this suite only checks Node against itself)", () => {
    expect(ioAddon()?.gcmSealInto).toBeTypeOf("function");
  });

  for (const [name, io] of paths) {
    it(`${name}: what one path seals the other opens, for awkward sizes`, () => {
      const other = io === null ? ioAddon() : null;
      for (const size of [0, 1, 16, 17, 65_536, 65_537]) {
        const s = sealed(size, io);
        const out = Buffer.alloc(size + 3, 0xee);
        expect(gcmOpenInto(key, s.iv, s.aad, s.out, s.tag, out.subarray(0, size), other), `size ${size}`).toBe(true);
        expect(out.subarray(0, size).equals(s.plain)).toBe(true);
        expect(out.subarray(size).every((b) => b === 0xee)).toBe(true);
      }
    });

    it(`${name}: a flipped bit, another aad or another key fails and leaves no plaintext`, () => {
      const s = sealed(4096, io);
      const tampered = Buffer.from(s.out);
      tampered[100]! ^= 1;
      const otherKey: GcmKey = { ...key, keyring: new Keyring([[1, randomBytes(32)]]) };
      for (const [k, aad, body] of [
        [key, s.aad, tampered],
        [key, randomBytes(20), s.out],
        [otherKey, s.aad, s.out],
      ] as const) {
        const out = Buffer.alloc(4096);
        expect(gcmOpenInto(k, s.iv, aad, body, s.tag, out, io)).toBe(false);
        expect(out.indexOf(s.plain.subarray(0, 32))).toBe(-1);
      }
    });
  }
});
