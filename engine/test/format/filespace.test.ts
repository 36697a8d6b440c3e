import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ChunkCodec,
  deriveMetaAtRestKey,
  IntegrityError,
  KeySlotError,
  NameSealer,
  WrongKeyError,
} from "../../src/crypto/index.js";
import {
  addKeySlot,
  createFilespace,
  FilespaceExistsError,
  FilespaceNotFoundError,
  FormatError,
  HEADER_KEY,
  HeaderConflictError,
  openFilespace,
  parseHeader,
  readHeader,
  removeKeySlot,
  rotateKey,
  verifyMetaKey,
} from "../../src/format/index.js";
import { openObjectStore } from "../../src/object/index.js";
import { MapStore } from "./map-store.js";

const cheap = { N: 2 ** 10, r: 8, p: 1 };
const alice = { kind: "passphrase" as const, passphrase: "alice's long passphrase", scrypt: cheap };

describe("createFilespace / openFilespace", () => {
  it("creates a header with no secrets and opens it with the passphrase", async () => {
    const store = new MapStore();
    const created = await createFilespace(store, { slot: alice, chunkSize: 1024 * 1024, blockSize: 16384 });
    const raw = store.objects.get(HEADER_KEY)!.body.toString();
    expect(raw).not.toContain(created.keyring.generationKey(1).toString("base64"));
    expect(raw).not.toContain("alice's");
    const { header } = await readHeader(store);
    expect(header).toMatchObject({ version: 1, chunkSize: 1048576, blockSize: 16384, cipher: "AES-256-GCM" });
    expect(header.slots[0]?.kdf).toMatchObject({ name: "scrypt", N: 1024, r: 8, p: 1 });
    const opened = await openFilespace(store, { passphrase: alice.passphrase });
    expect(opened.keyring.generationKey(1).equals(created.keyring.generationKey(1))).toBe(true);
  });

  it("refuses to overwrite an existing filespace, with and without conditional put", async () => {
    for (const conditional of [true, false]) {
      const store = new MapStore(conditional);
      await createFilespace(store, { slot: alice });
      await expect(createFilespace(store, { slot: alice })).rejects.toThrow(FilespaceExistsError);
    }
  });

  it("says clearly when the passphrase is wrong or there is no filespace", async () => {
    const store = new MapStore();
    await expect(openFilespace(store, { passphrase: "x" })).rejects.toThrow(FilespaceNotFoundError);
    await createFilespace(store, { slot: alice });
    await expect(openFilespace(store, { passphrase: "not it" })).rejects.toThrow(/wrong passphrase/);
    await expect(openFilespace(store, { secret: randomBytes(32) })).rejects.toThrow(/no secret key slot/);
  });

  it("validates the header and names the field", async () => {
    const store = new MapStore();
    await createFilespace(store, { slot: alice });
    const json = JSON.parse(store.objects.get(HEADER_KEY)!.body.toString());
    expect(() => parseHeader(Buffer.from(JSON.stringify({ ...json, blockSize: 7 })))).toThrow(/blockSize/);
    expect(() => parseHeader(Buffer.from(JSON.stringify({ ...json, version: 9 })))).toThrow(/version 9/);
    expect(() => parseHeader(Buffer.from("{nope"))).toThrow(FormatError);
    await expect(createFilespace(new MapStore(), { slot: alice, chunkSize: 100_000 })).rejects.toThrow(
      /multiple of blockSize/,
    );
  });

  it("detects a header changed without the key (e.g. a slot or sizes swapped in)", async () => {
    const store = new MapStore();
    await createFilespace(store, { slot: alice });
    const other = new MapStore();
    await createFilespace(other, { slot: { kind: "passphrase", passphrase: "mallory", scrypt: cheap } });
    const json = JSON.parse(store.objects.get(HEADER_KEY)!.body.toString());
    const mallorySlot = JSON.parse(other.objects.get(HEADER_KEY)!.body.toString()).slots[0];
    await store.put(HEADER_KEY, Buffer.from(JSON.stringify({ ...json, slots: [...json.slots, mallorySlot] })));
    await expect(openFilespace(store, { passphrase: alice.passphrase })).rejects.toThrow(IntegrityError);
    await store.put(HEADER_KEY, Buffer.from(JSON.stringify({ ...json, blockSize: 8192 })));
    await expect(openFilespace(store, { passphrase: alice.passphrase })).rejects.toThrow(/failed authentication/);
  });

  it("checks the meta at-rest key against the header", async () => {
    const store = new MapStore();
    const { header, keyring } = await createFilespace(store, { slot: alice });
    expect(() => verifyMetaKey(header, deriveMetaAtRestKey(keyring))).not.toThrow();
    expect(() => verifyMetaKey(header, randomBytes(32))).toThrow(WrongKeyError);
  });
});

describe("key slot management", () => {
  it("adds slots, rotates to every slot, and removal + rotation revokes new data", async () => {
    const store = new MapStore();
    let fs = await createFilespace(store, { slot: alice });
    const bobSecret = randomBytes(32);
    const added = await addKeySlot(store, fs, { kind: "secret", secret: bobSecret, label: "bob" });
    fs = added;
    const bob = await openFilespace(store, { secret: bobSecret });
    const oldChunk = new ChunkCodec(bob.keyring).seal("c1", Buffer.from("before"));
    const oldName = new NameSealer(bob.keyring).sealName("before-name");

    fs = await removeKeySlot(store, fs, added.slotId);
    const rotated = await rotateKey(store, fs);
    expect(rotated.keyId).toBe(2);
    expect(rotated.header.generations.map((g) => g.keyId)).toEqual([1, 2]);
    await expect(openFilespace(store, { secret: bobSecret })).rejects.toThrow(WrongKeyError);

    const aliceNow = await openFilespace(store, { passphrase: alice.passphrase });
    expect(aliceNow.keyring.keyIds).toEqual([1, 2]);
    const newChunk = new ChunkCodec(aliceNow.keyring).seal("c2", Buffer.from("after"));
    // Bob kept his old keyring: old data he could read anyway, new data he cannot.
    expect(new ChunkCodec(bob.keyring).open("c1", oldChunk).toString()).toBe("before");
    expect(() => new ChunkCodec(bob.keyring).open("c2", newChunk)).toThrow(IntegrityError);
    expect(new ChunkCodec(aliceNow.keyring).open("c1", oldChunk).toString()).toBe("before");
    expect(new NameSealer(aliceNow.keyring).openName(oldName)).toBe("before-name");
  });

  it("a slot added after a rotation receives every generation", async () => {
    const store = new MapStore();
    let fs = await createFilespace(store, { slot: alice });
    fs = await rotateKey(store, fs);
    await addKeySlot(store, fs, { kind: "passphrase", passphrase: "carol", scrypt: cheap });
    const carol = await openFilespace(store, { passphrase: "carol" });
    expect(carol.keyring.keyIds).toEqual([1, 2]);
  });

  it("refuses to remove the last or an unknown slot", async () => {
    const store = new MapStore();
    const fs = await createFilespace(store, { slot: alice });
    await expect(removeKeySlot(store, fs, fs.header.slots[0]!.id)).rejects.toThrow(KeySlotError);
    await expect(removeKeySlot(store, fs, "000000000000")).rejects.toThrow(/no key slot/);
  });

  it("two admins working from the same header: the second write conflicts", async () => {
    const store = new MapStore();
    const fs = await createFilespace(store, { slot: alice });
    await addKeySlot(store, fs, { kind: "secret", secret: randomBytes(32) });
    await expect(rotateKey(store, fs)).rejects.toThrow(HeaderConflictError);
  });
});

describe("on the real backends", () => {
  it.each(["memory", "file"])("%s:// creates once, opens, rotates with conditional writes", async (scheme) => {
    const dir = await mkdtemp(join(tmpdir(), "filespace-format-"));
    const store = await openObjectStore(scheme === "file" ? `file://${dir}` : `memory://format-${Date.now()}`);
    try {
      const fs = await createFilespace(store, { slot: alice });
      await expect(createFilespace(store, { slot: alice })).rejects.toThrow(FilespaceExistsError);
      const stale = await openFilespace(store, { passphrase: alice.passphrase });
      await rotateKey(store, fs);
      if (store.capabilities.conditionalPut) await expect(rotateKey(store, stale)).rejects.toThrow(HeaderConflictError);
      expect((await openFilespace(store, { passphrase: alice.passphrase })).keyring.keyIds).toEqual([1, 2]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("header KDF parameters", () => {
  it("are capped so a forged header cannot make unlock allocate gigabytes", async () => {
    const store = new MapStore();
    await createFilespace(store, { slot: alice });
    const json = JSON.parse(store.objects.get(HEADER_KEY)!.body.toString());
    json.slots[0].kdf.N = 2 ** 30;
    expect(() => parseHeader(Buffer.from(JSON.stringify(json)))).toThrow(/slots\.0\.kdf\.N/);
    json.slots[0].kdf.N = 2 ** 22;
    json.slots[0].kdf.r = 32;
    expect(() => parseHeader(Buffer.from(JSON.stringify(json)))).toThrow(/1 GiB/);
  });
});
