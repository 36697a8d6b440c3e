import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { IntegrityError, Keyring, LOOKUP_TOKEN_BYTES, NameSealer } from "../../src/crypto/index.js";

const keyring = Keyring.generate();
const sealer = new NameSealer(keyring);

describe("NameSealer lookup tokens", () => {
  it("are stable, 16 bytes, and depend on parent, name and key", () => {
    const t = sealer.lookupToken(1n, "report.pdf");
    expect(t.length).toBe(LOOKUP_TOKEN_BYTES);
    expect(sealer.lookupToken("1", "report.pdf").equals(t)).toBe(true);
    expect(sealer.lookupToken(2n, "report.pdf").equals(t)).toBe(false);
    expect(sealer.lookupToken(1n, "report.pdF").equals(t)).toBe(false);
    expect(new NameSealer(Keyring.generate()).lookupToken(1n, "report.pdf").equals(t)).toBe(false);
  });

  it("do not let parent and name bytes run into each other", () => {
    expect(sealer.lookupToken("12", "3").equals(sealer.lookupToken("1", "23"))).toBe(false);
  });

  it("stay the same after a key rotation (the index must not move)", () => {
    const rotated = new NameSealer(keyring.withNewGeneration().keyring);
    expect(rotated.lookupToken(7n, "a").equals(sealer.lookupToken(7n, "a"))).toBe(true);
    expect(rotated.xattrToken(7n, "user.a").equals(sealer.xattrToken(7n, "user.a"))).toBe(true);
  });

  it("separate directory entries from xattrs", () => {
    expect(sealer.xattrToken(1n, "x").equals(sealer.lookupToken(1n, "x"))).toBe(false);
  });
});

describe("NameSealer sealing", () => {
  it("round-trips names, xattrs and symlink targets, including unicode and empty", () => {
    for (const name of ["a", "", "résumé ✓ 日本語", "x".repeat(255)]) {
      expect(sealer.openName(sealer.sealName(name))).toBe(name);
      expect(sealer.openSymlink(sealer.sealSymlink(`../${name}`))).toBe(`../${name}`);
      expect(sealer.openXattrName(sealer.sealXattrName(`user.${name}`))).toBe(`user.${name}`);
    }
    const value = Buffer.from([0, 1, 2, 255]);
    expect(sealer.openXattrValue(sealer.sealXattrValue(value)).equals(value)).toBe(true);
  });

  it("uses a fresh nonce and pads to hide exact lengths", () => {
    expect(sealer.sealName("same").equals(sealer.sealName("same"))).toBe(false);
    expect(sealer.sealName("a").length).toBe(sealer.sealName("a".repeat(27)).length);
  });

  it("refuses values sealed for another purpose, context or key, and tampering", () => {
    const sealed = sealer.sealName("secret-name", "inode:5");
    expect(sealer.openName(sealed, "inode:5")).toBe("secret-name");
    expect(() => sealer.openName(sealed, "inode:6")).toThrow(IntegrityError);
    expect(() => sealer.openSymlink(sealed, "inode:5")).toThrow(IntegrityError);
    // Same subkey, different purpose label: still refused.
    expect(() => sealer.openXattrValue(sealer.sealXattrName("user.k"))).toThrow(IntegrityError);
    expect(() => new NameSealer(Keyring.generate()).openName(sealed, "inode:5")).toThrow(IntegrityError);
    for (const pos of [0, 1, 5, 10, 20, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[pos]! ^= 0x40;
      expect(() => sealer.openName(bad, "inode:5"), `byte ${pos}`).toThrow(IntegrityError);
    }
    expect(() => sealer.openName(sealed.subarray(0, 30), "inode:5")).toThrow(IntegrityError);
  });

  it("seals with the newest generation and still opens older ones", () => {
    const rotated = new NameSealer(keyring.withNewGeneration().keyring);
    const old = sealer.sealName("old");
    const fresh = rotated.sealName("new");
    expect(fresh.readUInt32BE(2)).toBe(2);
    expect(rotated.openName(old)).toBe("old");
    expect(() => sealer.openName(fresh)).toThrow(IntegrityError);
  });

  // The sealer uses the native AES-GCM helper when it is built; values must stay plain
  // AES-256-GCM in the documented layout, readable and writable by Node's ciphers alike.
  it("is plain AES-256-GCM in the documented layout, both ways", () => {
    const key = keyring.subkey("nameSeal");
    const aadOf = (header: Buffer, ctx: string) =>
      Buffer.concat([Buffer.from("filespaces/v1/sealed-value\0name\0"), header, Buffer.from(ctx)]);
    for (const name of ["", "a", "x".repeat(300)]) {
      const sealed = sealer.sealName(name, "inode:9");
      const header = sealed.subarray(0, 18);
      const d = createDecipheriv("aes-256-gcm", key, header.subarray(6));
      d.setAAD(aadOf(header, "inode:9"));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      const padded = Buffer.concat([d.update(sealed.subarray(18, sealed.length - 16)), d.final()]);
      expect(padded.subarray(4, 4 + padded.readUInt32BE(0)).toString()).toBe(name);

      const mine = Buffer.alloc(18);
      mine[0] = 1;
      mine[1] = 1;
      mine.writeUInt32BE(1, 2);
      randomBytes(12).copy(mine, 6);
      const plain = Buffer.alloc(4 + Math.ceil((name.length + 4) / 32) * 32 - 4);
      plain.writeUInt32BE(name.length);
      plain.write(name, 4);
      const c = createCipheriv("aes-256-gcm", key, mine.subarray(6));
      c.setAAD(aadOf(mine, "inode:9"));
      const byNode = Buffer.concat([mine, c.update(plain), c.final(), c.getAuthTag()]);
      expect(sealer.openName(byNode, "inode:9")).toBe(name);
    }
  });
});
