/**
 * The native AES helpers of filespace_io against Node's own ciphers, byte for byte: the data path
 * seals and decrypts with them into reused memory, and what they produce must be exactly what
 * Node's AES-256-GCM / AES-256-CTR would (readers and replay use either).
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ioAddon } from "../../src/platform/io-addon.js";

const io = ioAddon();

describe("filespace_io AES helpers", () => {
  it("is built here (the data path's zero-allocation paths depend on it)", () => {
    expect(io?.gcmSealInto).toBeTypeOf("function");
    expect(io?.ctrXorInto).toBeTypeOf("function");
  });

  it("gcmSealInto: same ciphertext and tag as Node's AES-256-GCM, for every awkward size", () => {
    const key = randomBytes(32);
    for (const size of [0, 1, 15, 16, 17, 65_536, 65_537, 1024 * 1024 + 3]) {
      const iv = randomBytes(12);
      const aad = randomBytes(size % 40);
      const plain = randomBytes(size);
      const node = createCipheriv("aes-256-gcm", key, iv).setAAD(aad);
      const want = Buffer.concat([node.update(plain), node.final()]);
      const out = Buffer.alloc(size + 5, 0xee);
      const tag = Buffer.alloc(16);
      io!.gcmSealInto!(key, iv, aad, plain, out.subarray(0, size), tag);
      expect(out.subarray(0, size).equals(want), `size ${size}`).toBe(true);
      expect(tag.equals(node.getAuthTag()), `tag ${size}`).toBe(true);
      expect(out.subarray(size).every((b) => b === 0xee)).toBe(true); // nothing written past the plaintext
    }
  });

  it("ctrXorInto: Node's AES-256-CTR from any byte of a counter block, in place or not", () => {
    const key = randomBytes(32);
    const counter = randomBytes(16);
    counter.writeUInt32BE(2, 12);
    const plain = randomBytes(70_000);
    const full = createCipheriv("aes-256-ctr", key, counter).update(plain);
    for (const from of [0, 1, 15, 16, 17, 4095, 65_537]) {
      const block = Math.floor(from / 16);
      const at = Buffer.from(counter);
      at.writeUInt32BE(2 + block, 12);
      const input = Buffer.from(full.subarray(from));
      const out = Buffer.alloc(input.length);
      io!.ctrXorInto!(key, at, from % 16, input, out);
      expect(out.equals(plain.subarray(from)), `copy from ${from}`).toBe(true);
      io!.ctrXorInto!(key, at, from % 16, input, input);
      expect(input.equals(plain.subarray(from)), `in place from ${from}`).toBe(true);
    }
  });

  it("refuses wrong sizes with a clear error instead of touching memory", () => {
    const k = randomBytes(32);
    expect(() =>
      io!.gcmSealInto!(k, randomBytes(11), Buffer.alloc(0), Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(16)),
    ).toThrow(/iv 12/);
    expect(() =>
      io!.gcmSealInto!(k, randomBytes(12), Buffer.alloc(0), Buffer.alloc(8), Buffer.alloc(4), Buffer.alloc(16)),
    ).toThrow(/out at least/);
    expect(() => io!.ctrXorInto!(k, randomBytes(16), 16, Buffer.alloc(4), Buffer.alloc(4))).toThrow(/skip < 16/);
    expect(() => io!.ctrXorInto!(k, randomBytes(16), 0, Buffer.alloc(8), Buffer.alloc(4))).toThrow(/out at least/);
  });
});
