import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AtRestCipher, IntegrityError } from "../../src/crypto/index.js";

describe("AtRestCipher", () => {
  const cipher = new AtRestCipher(randomBytes(32));
  const ad = Buffer.from("meta/checkpoints/7");

  it("round-trips empty, small and multi-slice objects", () => {
    for (const size of [0, 1, 65535, 65536, 65537, 300_000]) {
      const plain = randomBytes(size);
      const sealed = cipher.seal(plain, ad);
      expect(sealed.length).toBe(size + 29);
      expect(cipher.open(sealed, ad).equals(plain)).toBe(true);
    }
  });

  it("refuses tampering, another object key, another key, and truncation", () => {
    const sealed = cipher.seal(randomBytes(100_000), ad);
    for (const pos of [0, 5, 70_000, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[pos]! ^= 1;
      expect(() => cipher.open(bad, ad), `byte ${pos}`).toThrow(IntegrityError);
    }
    expect(() => cipher.open(sealed, Buffer.from("meta/checkpoints/8"))).toThrow(IntegrityError);
    expect(() => new AtRestCipher(randomBytes(32)).open(sealed, ad)).toThrow(IntegrityError);
    expect(() => cipher.open(sealed.subarray(0, 20), ad)).toThrow(IntegrityError);
  });
});
