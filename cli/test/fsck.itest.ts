/**
 * `filespace fsck` and `filespace gc` as real processes (built CLI) on a real file:// filespace
 * built with the engine: createFilespace, a real metadata service (durable, in this process,
 * served over gRPC), chunks sealed with the filespace's ChunkCodec and committed with commitWrite.
 * Covers: refusal while a service holds the filespace, --meta against it, offline (embedded)
 * reads, damage of each kind named, --remove-orphans removing only old orphans, gc keeping
 * chunks only a snapshot needs.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChunkCodec, createFilespace, deriveMetaAtRestKey, newChunkId } from "@filespaces/engine";
import type { CallContext } from "@filespaces/engine/meta";
import { issueToken } from "@filespaces/engine/meta/access";
import { deriveAccessTokenKey, type RunningMetaServer, startMetaServer } from "@filespaces/engine/meta/grpc";
import { FileObjectStore } from "@filespaces/engine/object";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/filespace.js", import.meta.url));
const PASSPHRASE = "fsck test passphrase";
const chunkKey = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
let dir: string;
let root: string;
let url: string;
let store: FileObjectStore;
let server: RunningMetaServer | undefined;
const files = new Map<string, { ino: number; chunks: string[] }>();

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, "--passphrase-file", join(dir, "pw")], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env.PATH ?? "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const name = () => ({ token: randomBytes(32), sealed: randomBytes(48) });
const makeOld = (id: string) => {
  const old = new Date(Date.now() - 3 * 60 * 60_000);
  return utimes(join(root, ...chunkKey(id).split("/")), old, old);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-fsck-"));
  root = join(dir, "store");
  url = `file://${root}`;
  await writeFile(join(dir, "pw"), PASSPHRASE);
  store = new FileObjectStore(root, { fsync: false });
  const { keyring, header } = await createFilespace(store, {
    slot: { kind: "passphrase", passphrase: PASSPHRASE, scrypt: { N: 1024, r: 8, p: 1 } },
    blockSize: 4096,
  });
  const metaKey = deriveMetaAtRestKey(keyring);
  server = await startMetaServer({ store, metaKey, listen: "127.0.0.1:0", gc: false, leaseTtlMs: 60_000 });
  const token = issueToken(deriveAccessTokenKey(metaKey), { client: "test", mode: "admin", subtreeRoot: 1 });
  const api = server.service;
  const { sessionId } = await api.openSession({ token }, { requestId: randomUUID() });
  const ctx: CallContext = { token, sessionId };
  const codec = new ChunkCodec(keyring, { blockSize: header.blockSize });
  // Three files of two chunks each (10 kB sealed in 4 KiB blocks).
  for (const f of ["a", "b", "c"]) {
    const { attr } = await api.create(ctx, {
      requestId: randomUUID(),
      parent: 1,
      name: name(),
      mode: 0o644,
      uid: 0,
      gid: 0,
    });
    const chunks = [newChunkId(), newChunkId()];
    for (const id of chunks) await store.put(chunkKey(id), codec.seal(id, randomBytes(10_000)));
    await api.commitWrite(ctx, {
      requestId: randomUUID(),
      ino: attr.ino,
      extents: chunks.map((chunk, i) => ({ offset: i * 10_000, length: 10_000, chunk, chunkOffset: 0 })),
      newSize: 20_000,
      mtime: Date.now(),
    });
    files.set(f, { ino: attr.ino, chunks });
  }
  // After a snapshot, overwrite c's second half: its old chunk is then needed by the snapshot only.
  await api.createSnapshot(ctx, { requestId: randomUUID(), name: "before" });
  const fresh = newChunkId();
  await store.put(chunkKey(fresh), codec.seal(fresh, randomBytes(10_000)));
  await api.commitWrite(ctx, {
    requestId: randomUUID(),
    ino: files.get("c")!.ino,
    extents: [{ offset: 10_000, length: 10_000, chunk: fresh, chunkOffset: 0 }],
    newSize: 20_000,
    mtime: Date.now(),
  });
}, 60_000);

afterAll(async () => {
  await server?.stop(1000).catch(() => undefined);
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("filespace fsck | gc", () => {
  it("refuses to read the metadata itself while a service holds the filespace", async () => {
    const r = await run(["fsck", url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a metadata service is running on this filespace .*pass --meta HOST:PORT/);
  });

  it("asks a running service with --meta (admin token minted from the key) and finds nothing", async () => {
    const r = await run(["fsck", url, "--meta", server!.grpc.address]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/references: metadata service at 127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/chunks: 7 referenced, 7 present and checked/);
    expect(r.stdout).toMatch(/result: healthy$/m);
  });

  it("reads the metadata from the store once the service stopped: healthy, exit 0", async () => {
    await server!.stop(1000);
    server = undefined;
    const r = await run(["fsck", url, "--json"]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ healthy: true, metadata: { healthy: true } });
    expect(report.chunks).toMatchObject({
      referencedChunks: 7,
      checkedChunks: 7,
      missing: [],
      corrupt: [],
      orphans: [],
    });
  });

  it("names a deleted chunk, a flipped byte and an orphan; --remove-orphans removes only old orphans", async () => {
    const [deleted] = files.get("a")!.chunks;
    const [flipped] = files.get("b")!.chunks;
    await store.delete(chunkKey(deleted!));
    const path = join(root, ...chunkKey(flipped!).split("/"));
    const bytes = await readFile(path);
    bytes[5000]! ^= 0x01;
    await writeFile(path, bytes);
    const [oldOrphan, youngOrphan] = [newChunkId(), newChunkId()];
    await store.put(chunkKey(oldOrphan), randomBytes(777));
    await store.put(chunkKey(youngOrphan), randomBytes(555));
    await makeOld(oldOrphan);

    const r = await run(["fsck", url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`MISSING chunk ${deleted}: referenced but not in the store`);
    expect(r.stdout).toMatch(new RegExp(`CORRUPT chunk ${flipped}: .*block 1 failed authentication`));
    expect(r.stdout).toContain(`ORPHAN chunk ${oldOrphan} (777 B)`);
    expect(r.stdout).not.toContain(youngOrphan);
    expect(r.stdout).toMatch(/pending: 1 unreferenced chunk\(s\) younger than the grace period/);
    expect(r.stdout).toMatch(/result: DAMAGED$/m);
    expect(r.stderr).toMatch(/the filespace is damaged: 1 missing chunk\(s\), 1 corrupt chunk\(s\)/);

    const removed = await run(["fsck", url, "--remove-orphans"]);
    expect(removed.code).toBe(1);
    expect(removed.stdout).toMatch(/orphans: 1 \(777 B\), 1 removed/);
    await expect(store.head(chunkKey(oldOrphan))).rejects.toThrow(/not found/i);
    await expect(store.head(chunkKey(youngOrphan))).resolves.toBeDefined();
  });

  it("gc keeps live, snapshot-only and young chunks, deletes old unreferenced ones (dry run first)", async () => {
    const garbage = newChunkId();
    await store.put(chunkKey(garbage), randomBytes(1000));
    await makeOld(garbage);
    const live = files.get("c")!.chunks[0]!;
    const snapshotOnly = files.get("c")!.chunks[1]!;
    await makeOld(live);
    await makeOld(snapshotOnly);

    const dry = await run(["gc", url, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would delete 1 chunk\(s\) \(1000 B\) of \d+ scanned; \d+ live, 1 younger/);
    await expect(store.head(chunkKey(garbage))).resolves.toBeDefined();

    const real = await run(["gc", url, "--json"]);
    expect(real.code).toBe(0);
    const report = JSON.parse(real.stdout);
    expect(report).toMatchObject({ dryRun: false, deleted: 1, deletedIds: [garbage], young: 1 });
    await expect(store.head(chunkKey(garbage))).rejects.toThrow(/not found/i);
    await expect(store.head(chunkKey(live))).resolves.toBeDefined();
    await expect(store.head(chunkKey(snapshotOnly))).resolves.toBeDefined();
  });

  it("names a damaged metadata checkpoint (exit 1)", async () => {
    const checkpoints = (await store.list("meta/checkpoints/")).objects.map((o) => o.key).sort();
    expect(checkpoints.length).toBeGreaterThan(0);
    const newest = checkpoints.at(-1)!;
    const path = join(root, ...newest.split("/"));
    const bytes = await readFile(path);
    bytes[bytes.length - 5]! ^= 0x01;
    await writeFile(path, bytes);
    const r = await run(["fsck", url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`DAMAGED checkpoint at version ${Number(newest.split("/").at(-1))}: `));
    expect(r.stdout).toMatch(/result: DAMAGED$/m);
    expect(r.stderr).toMatch(/the filespace is damaged: .*(damaged metadata|cannot be recovered)/);
  });

  it("rejects a bad --grace naming the flag", async () => {
    const r = await run(["gc", url, "--grace", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--grace: expected a duration such as 1h/);
  });
});
