import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createKeySlot,
  deriveMetaAtRestKey,
  Keyring,
  metaKeyCheck,
  openKeySlot,
  sealGenerationToSlot,
  WrongKeyError,
} from "../../src/crypto/index.js";

const FS = "7c0a4a4e-3d53-4d43-9a55-0c0d7d1b1f11";
const cheap = { N: 2 ** 10, r: 8, p: 1 };

describe("key slots", () => {
  it("unlock every generation with the right passphrase, and only with it", async () => {
    const keyring = Keyring.generate();
    const slot = await createKeySlot({ kind: "passphrase", passphrase: "correct horse", scrypt: cheap }, keyring, FS);
    const gens = await openKeySlot(slot, { passphrase: "correct horse" }, FS);
    expect(gens.get(1)?.equals(keyring.generationKey(1))).toBe(true);
    await expect(openKeySlot(slot, { passphrase: "wrong horse" }, FS)).rejects.toThrow(WrongKeyError);
    await expect(openKeySlot(slot, { secret: randomBytes(32) }, FS)).rejects.toThrow(/passphrase slot/);
    // Bound to the filespace id: a slot copied into another filespace does not open.
    await expect(openKeySlot(slot, { passphrase: "correct horse" }, "other")).rejects.toThrow(WrongKeyError);
    expect(JSON.stringify(slot)).not.toContain(keyring.generationKey(1).toString("base64"));
  });

  it("unlock with a raw secret of at least 32 bytes", async () => {
    const keyring = Keyring.generate();
    const secret = randomBytes(48);
    const slot = await createKeySlot({ kind: "secret", secret, label: "k8s" }, keyring, FS);
    expect((await openKeySlot(slot, { secret }, FS)).size).toBe(1);
    await expect(openKeySlot(slot, { secret: randomBytes(48) }, FS)).rejects.toThrow(WrongKeyError);
    await expect(openKeySlot(slot, { secret: randomBytes(16) }, FS)).rejects.toThrow(/at least 32 bytes/);
  });

  it("receive a new generation through the public key alone", async () => {
    const keyring = Keyring.generate();
    const slot = await createKeySlot({ kind: "passphrase", passphrase: "pw", scrypt: cheap }, keyring, FS);
    const { keyring: next, keyId } = keyring.withNewGeneration();
    const updated = sealGenerationToSlot(slot, keyId, next.generationKey(keyId), FS);
    const gens = await openKeySlot(updated, { passphrase: "pw" }, FS);
    expect([...gens.keys()]).toEqual([1, 2]);
    expect(gens.get(2)?.equals(next.generationKey(2))).toBe(true);
  });

  it("refuse a generation wrap moved to another key id", async () => {
    const keyring = Keyring.generate();
    const slot = await createKeySlot({ kind: "passphrase", passphrase: "pw", scrypt: cheap }, keyring, FS);
    const moved = { ...slot, generations: [{ ...slot.generations[0]!, keyId: 9 }] };
    await expect(openKeySlot(moved, { passphrase: "pw" }, FS)).rejects.toThrow(/failed authentication/);
  });
});

describe("meta at-rest key", () => {
  it("is one-way from generation 1, stable across rotation, and checkable", () => {
    const keyring = Keyring.generate();
    const metaKey = deriveMetaAtRestKey(keyring);
    expect(metaKey.length).toBe(32);
    expect(deriveMetaAtRestKey(keyring.withNewGeneration().keyring).equals(metaKey)).toBe(true);
    for (const purpose of ["chunkData", "nameToken", "nameSeal", "xattrSeal", "symlinkSeal"] as const) {
      expect(keyring.subkey(purpose, 1).equals(metaKey)).toBe(false);
    }
    expect(metaKeyCheck(metaKey).equals(metaKeyCheck(deriveMetaAtRestKey(Keyring.generate())))).toBe(false);
  });
});
