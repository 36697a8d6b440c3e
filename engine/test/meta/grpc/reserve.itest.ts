/**
 * reserveInodes through the real network path and the real durable journal: `filespace meta
 * serve` (built CLI, own process group) on a file:// store, reached by MetaClient. Reserve,
 * create with reserved numbers, SIGKILL the service, restart it on an empty cache (the store
 * alone must hold the journal): the allocator must be past every range handed out before the
 * kill, the files created with chosen numbers must be there, and numbers reserved before the
 * kill must still be usable. Build first: `npx tsc -b`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../../src/meta/access/token.js";
import { ROOT_INO } from "../../../src/meta/api.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { deriveAccessTokenKey } from "../../../src/meta/grpc/serve.js";
import { nameToken, sealName } from "../helpers/names.js";

const BIN = fileURLToPath(new URL("../../../../cli/bin/filespace.js", import.meta.url));

let dir: string;
let port: number;
let key: Buffer;
const live = new Set<ChildProcess>();

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port: p } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return p;
}

function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

function serve(cacheDir: string, extra: string[] = []): Promise<ChildProcess> {
  const args = [BIN, "meta", "serve", `file://${join(dir, "store")}`, "--listen", `127.0.0.1:${port}`];
  args.push("--meta-key-file", join(dir, "meta.key"), "--cache-dir", cacheDir, "--lease-ttl", "1000", ...extra);
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`meta serve did not start: ${out}`)), 30_000);
    child.stdout!.on("data", () => {
      if (out.includes("serving filespace metadata")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`meta serve exited with ${code}: ${out}`));
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-meta-reserve-"));
  port = await freePort();
  key = randomBytes(32);
  await writeFile(join(dir, "meta.key"), key.toString("base64"));
});
afterAll(async () => {
  for (const c of live) killGroup(c);
  await rm(dir, { recursive: true, force: true });
});

describe("meta serve: reserveInodes across SIGKILL", () => {
  it("never hands a number out twice and keeps files created with chosen numbers", async () => {
    let server = await serve(join(dir, "cache-a"));
    const ctx = { token: issueToken(deriveAccessTokenKey(key), { client: "n2", mode: "rw", subtreeRoot: ROOT_INO }) };
    const client = new MetaClient({ address: `127.0.0.1:${port}`, retryBudgetMs: 30_000, callTimeoutMs: 5_000 });
    try {
      const a = await client.reserveInodes(ctx, { requestId: "ra", count: 1000 });
      const b = await client.reserveInodes(ctx, { requestId: "rb", count: 10_000 });
      expect(b.first).toBeGreaterThanOrEqual(a.first + a.count);
      // 200 concurrent creates with chosen numbers (they coalesce into Batch rpcs).
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          client.create(ctx, {
            requestId: `c${i}`,
            parent: ROOT_INO,
            name: sealName(ROOT_INO, `f${i}`),
            mode: 0o644,
            uid: 0,
            gid: 0,
            exclusive: true,
            ino: a.first + i,
          }),
        ),
      );

      killGroup(server);
      server = await serve(join(dir, "cache-empty"), ["--takeover"]);

      const c = await client.reserveInodes(ctx, { requestId: "rc", count: 5 });
      expect(c.first).toBeGreaterThanOrEqual(b.first + b.count);
      // A retry of a reservation made before the kill still gets its first answer.
      expect(await client.reserveInodes(ctx, { requestId: "ra", count: 1000 })).toEqual(a);
      for (const i of [0, 99, 199]) {
        const f = await client.lookup(ctx, { parent: ROOT_INO, name: nameToken(ROOT_INO, `f${i}`) });
        expect(f.attr.ino).toBe(a.first + i);
      }
      const later = await client.create(ctx, {
        requestId: "late",
        parent: ROOT_INO,
        name: sealName(ROOT_INO, "late"),
        mode: 0o644,
        uid: 0,
        gid: 0,
        ino: b.first + 9_999,
      });
      expect(later.attr.ino).toBe(b.first + 9_999);
      const taken = await client
        .create(ctx, {
          requestId: "dup",
          parent: ROOT_INO,
          name: sealName(ROOT_INO, "dup"),
          mode: 0o644,
          uid: 0,
          gid: 0,
          ino: a.first + 5,
        })
        .catch((e: { code?: string }) => e.code);
      expect(taken).toBe("EINVAL");
    } finally {
      client.close();
      killGroup(server);
    }
  }, 120_000);
});
