import { describe, expect, it } from "vitest";
import { NONCE_BYTES, randomNonce, writeRandomNonce } from "../../src/crypto/nonce.js";

describe("random nonces from a batch", () => {
  it("are 12 bytes, never repeat across batch refills, and land where asked", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const n = randomNonce();
      expect(n.length).toBe(NONCE_BYTES);
      seen.add(n.toString("hex"));
    }
    expect(seen.size).toBe(3000);
    const into = Buffer.alloc(20, 0xee);
    writeRandomNonce(into, 6);
    expect(into.subarray(0, 6).equals(Buffer.alloc(6, 0xee))).toBe(true);
    expect(into.subarray(18).equals(Buffer.alloc(2, 0xee))).toBe(true);
    expect(seen.has(into.subarray(6, 18).toString("hex"))).toBe(false);
  });
});
