/**
 * `filespace compact` as a real process (built CLI) on a real file:// filespace: through a running
 * service (`--meta`, gRPC, ifContent over the wire) and with its own short-lived service when none
 * runs; file content read back and verified, then `fsck` finds the filespace healthy and `gc`
 * collects the chunks compaction released.
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChunkCodec, createFilespace, deriveMetaAtRestKey, type Keyring, newChunkId } from "@filespaces/engine";
import type { CallContext, MetaApi } from "@filespaces/engine/meta";
import { issueToken } from "@filespaces/engine/meta/access";
import { deriveAccessTokenKey, type RunningMetaServer, startMetaServer } from "@filespaces/engine/meta/grpc";
import { openMaintenanceService } from "@filespaces/engine/meta/maintenance";
import { FileObjectStore } from "@filespaces/engine/object";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/filespace.js", import.meta.url));
const PASSPHRASE = "compact test passphrase";
const chunkKey = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
let dir: string;
let root: string;
let url: string;
let store: FileObjectStore;
let keyring: Keyring;
let codec: ChunkCodec;
let server: RunningMetaServer | undefined;

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

/** A file written as 24 small commits (one chunk each); returns its expected content. */
async function fragmentedFile(api: MetaApi, ctx: CallContext): Promise<{ ino: number; content: Buffer }> {
  const name = { token: randomBytes(32), sealed: randomBytes(48) };
  const { attr } = await api.create(ctx, { requestId: randomUUID(), parent: 1, name, mode: 0o644, uid: 0, gid: 0 });
  const content = randomBytes(24 * 3000);
  for (let i = 0; i < 24; i++) {
    const id = newChunkId();
    await store.put(chunkKey(id), codec.seal(id, content.subarray(i * 3000, (i + 1) * 3000)));
    await api.commitWrite(ctx, {
      requestId: randomUUID(),
      ino: attr.ino,
      extents: [{ offset: i * 3000, length: 3000, chunk: id, chunkOffset: 0 }],
      newSize: (i + 1) * 3000,
      mtime: Date.now(),
    });
  }
  return { ino: attr.ino, content };
}

async function readBack(api: MetaApi, ctx: CallContext, ino: number) {
  const { size, extents } = await api.getExtents(ctx, { ino });
  const out = Buffer.alloc(size);
  for (const e of extents) {
    codec
      .open(e.chunk, await store.get(chunkKey(e.chunk)))
      .copy(out, e.offset, e.chunkOffset, e.chunkOffset + e.length);
  }
  return { out, extents };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-compact-"));
  root = join(dir, "store");
  url = `file://${root}`;
  await writeFile(join(dir, "pw"), PASSPHRASE);
  store = new FileObjectStore(root, { fsync: false });
  const created = await createFilespace(store, {
    slot: { kind: "passphrase", passphrase: PASSPHRASE, scrypt: { N: 1024, r: 8, p: 1 } },
    blockSize: 4096,
  });
  keyring = created.keyring;
  codec = new ChunkCodec(keyring, { blockSize: created.header.blockSize });
}, 60_000);

afterAll(async () => {
  await server?.stop(1000).catch(() => undefined);
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("filespace compact", () => {
  it("compacts through a running service (--meta); refuses to start its own meanwhile", async () => {
    const metaKey = deriveMetaAtRestKey(keyring);
    server = await startMetaServer({ store, metaKey, listen: "127.0.0.1:0", gc: false, leaseTtlMs: 60_000 });
    const token = issueToken(deriveAccessTokenKey(metaKey), { client: "t", mode: "admin", subtreeRoot: 1 });
    const api = server.service;
    const { sessionId } = await api.openSession({ token }, { requestId: randomUUID() });
    const ctx = { token, sessionId };
    const file = await fragmentedFile(api, ctx);

    const dry = await run(["compact", url, "--meta", server.grpc.address, "--dry-run"]);
    expect(dry.stderr).toBe("");
    expect(dry.stdout).toMatch(
      /would compact 1 of 1 file\(s\)\n {2}inode \d+: 24 → 24 extents \(would compact: 24 extents \(> 16 for 72000 bytes\)\)/,
    );

    const own = await run(["compact", url]);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/a metadata service is running on this filespace .*pass --meta HOST:PORT/);

    const real = await run(["compact", url, "--meta", server.grpc.address]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/compacted 1 of 1 file\(s\), 70\.31 KiB rewritten\n {2}inode \d+: 24 → 1 extents/);
    const back = await readBack(api, ctx, file.ino);
    expect(back.extents).toHaveLength(1);
    expect(back.out.equals(file.content)).toBe(true);
    await server.stop(1000);
    server = undefined;
  });

  it("compacts with its own short-lived service; fsck is healthy and gc collects the released chunks", async () => {
    await server?.stop(1000);
    server = undefined;
    const own = await openMaintenanceService({ store, metaKey: deriveMetaAtRestKey(keyring) });
    const { sessionId } = await own.api.openSession({ token: own.token }, { requestId: randomUUID() });
    const file = await fragmentedFile(own.api, { token: own.token, sessionId });
    await own.close();

    const r = await run(["compact", url, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.filesScanned).toBe(2);
    expect(report.files).toHaveLength(1);
    expect(report.files[0]).toMatchObject({ ino: file.ino, extentsBefore: 24, extentsAfter: 1, conflicts: 0 });
    const released: string[] = report.files[0].releasedChunks;
    expect(released).toHaveLength(24);

    const check = await run(["fsck", url]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/chunks: 2 referenced, 2 present and checked/);
    expect(check.stdout).toMatch(/pending: 48 unreferenced chunk\(s\) younger than the grace period/);

    const old = new Date(Date.now() - 3 * 60 * 60_000);
    for (const id of released) await utimes(join(root, ...chunkKey(id).split("/")), old, old);
    const gc = JSON.parse((await run(["gc", url, "--json"])).stdout);
    expect(gc.deletedIds).toEqual([...released].sort());

    const after = await openMaintenanceService({ store, metaKey: deriveMetaAtRestKey(keyring) });
    const s2 = await after.api.openSession({ token: after.token }, { requestId: randomUUID() });
    const back = await readBack(after.api, { token: after.token, sessionId: s2.sessionId }, file.ino);
    expect(back.out.equals(file.content)).toBe(true);
    await after.close();
  });
});
