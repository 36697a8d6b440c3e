/**
 * Zero knowledge: everything a user creates (names, xattrs, symlink targets, content, and the
 * passphrase and secret themselves) is sealed before it reaches the store. We create a real
 * file:// filespace, seal canaries with the crypto API, write them as objects the way the
 * engine does, and scan every byte under the store for every canary in every form we know.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AtRestCipher, ChunkCodec, deriveMetaAtRestKey, NameSealer, newChunkId } from "../src/crypto/index.js";
import { addKeySlot, createFilespace, openFilespace, rotateKey } from "../src/format/index.js";
import { openObjectStore } from "../src/object/index.js";
import type { ObjectStore } from "../src/object/types.js";
import { scanForCanaries } from "./helpers/canaries.js";

const tag = randomBytes(4).toString("hex");
const C = {
  passphrase: `CANARY-passphrase-7f3a-${tag}`,
  secret: `CANARY-secret-0123456789abcdef0123456789-${tag}`,
  name: `CANARY-name-7f3a91c2-${tag}`,
  dirName: `CANARY-dir-55e0b7-${tag}`,
  xattrName: `user.CANARY-xattr-name-a41d-${tag}`,
  xattrValue: `CANARY-xattr-value-9b02-${tag}`,
  symlink: `../CANARY-symlink-target-c3e8-${tag}`,
  text: `CANARY-content-text-4d19-${tag}`,
  compressible: `CANARY-content-compressible-e6f0-${tag}`,
};
const canaries = Object.values(C);

let dir: string;
let store: ObjectStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-zk-"));
  store = await openObjectStore(`file://${join(dir, "store")}`);
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("zero knowledge", () => {
  it("no canary reaches the object store in any form", async () => {
    let fs = await createFilespace(store, {
      slot: { kind: "passphrase", passphrase: C.passphrase, scrypt: { N: 1024, r: 8, p: 1 } },
      compression: true,
    });
    fs = await addKeySlot(store, fs, { kind: "secret", secret: Buffer.from(C.secret), label: "ops" });
    const sealer = new NameSealer(fs.keyring);
    const codec = new ChunkCodec(fs.keyring, { blockSize: fs.header.blockSize });

    // Names, xattrs and symlinks as the metadata service would persist them: token + sealed.
    const root = 1n;
    const records = [
      sealer.lookupToken(root, C.dirName),
      sealer.sealName(C.dirName),
      sealer.lookupToken(2n, C.name),
      sealer.sealName(C.name, "inode:3"),
      sealer.xattrToken(3n, C.xattrName),
      sealer.sealXattrName(C.xattrName),
      sealer.sealXattrValue(Buffer.from(C.xattrValue)),
      sealer.sealSymlink(C.symlink),
    ];
    await store.put("meta/journal/1/0001", Buffer.concat(records));
    await store.put("meta/names-base64", Buffer.from(records.map((r) => r.toString("base64")).join("\n")));

    // Content: plain text, highly compressible text (compression on and off), canary in noise.
    const text = Buffer.from(`${C.text}\n`.repeat(3000));
    const compressible = Buffer.from(`${C.compressible} `.repeat(20000));
    const noisy = Buffer.concat([randomBytes(70_000), Buffer.from(C.text), randomBytes(70_000)]);
    const chunks: Array<[Buffer, boolean]> = [
      [text, false],
      [text, true],
      [compressible, false],
      [compressible, true],
      [noisy, true],
    ];
    const written: Array<[string, Buffer]> = [];
    for (const [plain, compress] of chunks) {
      const id = newChunkId();
      await store.put(`chunks/${id.slice(0, 2)}/${id}`, codec.seal(id, plain, { compress }));
      written.push([id, plain]);
    }

    // After a rotation, new data uses generation 2; also seal the meta service's own object.
    fs = await rotateKey(store, fs);
    const id = newChunkId();
    await store.put(
      `chunks/${id.slice(0, 2)}/${id}`,
      new ChunkCodec(fs.keyring).seal(id, compressible, { compress: true }),
    );
    written.push([id, compressible]);
    const atRest = new AtRestCipher(deriveMetaAtRestKey(fs.keyring));
    await store.put(
      "meta/checkpoints/1",
      atRest.seal(Buffer.from(JSON.stringify({ names: [C.name] })), Buffer.from("cp/1")),
    );

    // The data is really there: the key holder reads every canary back.
    const reopened = await openFilespace(store, { secret: Buffer.from(C.secret) });
    const reader = new ChunkCodec(reopened.keyring, { blockSize: fs.header.blockSize });
    for (const [chunkId, plain] of written) {
      expect(reader.open(chunkId, await store.get(`chunks/${chunkId.slice(0, 2)}/${chunkId}`)).equals(plain)).toBe(
        true,
      );
    }
    expect(new NameSealer(reopened.keyring).openName(records[3]!, "inode:3")).toBe(C.name);

    const findings = await scanForCanaries(join(dir, "store"), canaries);
    expect(findings).toEqual([]);
  });
});
