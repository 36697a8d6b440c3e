/**
 * The GC scheduler inside `startMetaServer` (what `meta serve` runs): a real durable service on a
 * file:// store collects an unreferenced old chunk, keeps a referenced one, exposes gc metrics,
 * and stops with the server.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { issueToken } from "../../../src/meta/access/token.js";
import { deriveAccessTokenKey, startMetaServer } from "../../../src/meta/grpc/serve.js";
import { FileObjectStore } from "../../../src/object/fs.js";
import { sealName } from "../helpers/names.js";

const chunkKey = (id: string) => `chunks/${id.slice(0, 2)}/${id}`;
const newId = () => randomBytes(16).toString("base64url");

describe("meta serve runs GC", () => {
  it("collects unreferenced old chunks on its schedule, keeps referenced ones, stops with the server", async () => {
    const dir = await mkdtemp(join(tmpdir(), "serve-gc-"));
    const store = new FileObjectStore(dir, { fsync: false });
    const metaKey = randomBytes(32);
    const server = await startMetaServer({
      store,
      metaKey,
      listen: "127.0.0.1:0",
      gc: { intervalMs: 30, firstRunDelayMs: 0, graceMs: 60 * 60_000 },
    });
    try {
      const token = issueToken(deriveAccessTokenKey(metaKey), { client: "t", mode: "rw", subtreeRoot: 1 });
      const api = server.service;
      const { sessionId } = await api.openSession({ token }, { requestId: randomUUID() });
      const ctx = { token, sessionId };
      const { attr } = await api.create(ctx, {
        requestId: randomUUID(),
        parent: 1,
        name: sealName(1, "f"),
        mode: 0o644,
        uid: 0,
        gid: 0,
      });
      const [live, dead, young] = [newId(), newId(), newId()];
      for (const id of [live, dead, young]) await store.put(chunkKey(id), randomBytes(100));
      await api.commitWrite(ctx, {
        requestId: randomUUID(),
        ino: attr.ino,
        extents: [{ offset: 0, length: 100, chunk: live, chunkOffset: 0 }],
        newSize: 100,
        mtime: 1,
      });
      const old = new Date(Date.now() - 2 * 60 * 60_000);
      for (const id of [live, dead]) await utimes(join(dir, ...chunkKey(id).split("/")), old, old);

      // lastReport is the latest run only (every 30 ms here: the run after the deletion reports 0),
      // so wait for the effect and count deletions with the cumulative metric below.
      await expect
        .poll(
          () =>
            store.head(chunkKey(dead)).then(
              () => "present",
              () => "gone",
            ),
          { timeout: 10_000 },
        )
        .toBe("gone");
      await expect(store.head(chunkKey(dead))).rejects.toThrow(/not found/i);
      await expect(store.head(chunkKey(live))).resolves.toBeDefined();
      await expect(store.head(chunkKey(young))).resolves.toBeDefined();
      expect(await server.metrics.registry.metrics()).toMatch(/filespace_gc_deleted_chunks_total 1\b/);
    } finally {
      await server.stop(1000);
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
    const runs = server.maintenance!.stats.runs;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.maintenance!.stats.runs).toBe(runs);
    await expect(server.maintenance!.runNow()).rejects.toThrow(/stopped/);
  });
});
