/**
 * reserveInodes through the real network path and the real durable journal: `filespace meta
 * serve` (built CLI, own process group) on a file:// store, reached by MetaClient. Reserve,
 * create with reserved numbers, SIGKILL the service, restart it on an empty cache (the store
 * alone must hold the journal): the allocator must be past every range handed out before the
 * kill, the files created with chosen numbers must be there, and numbers reserved before the
 * kill must still be usable. Build first: `npx tsc -b`.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "../../../src/meta/access/token.js";
import { ROOT_INO } from "../../../src/meta/api.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { deriveAccessTokenKey } from "../../../src/meta/grpc/serve.js";
import { nameToken, sealName } from "../helpers/names.js";
import { freePort, killGroup, MetaServeChildren } from "./serve-child.js";

let dir: string;
let port: number;
let key: Buffer;
let children: MetaServeChildren;

async function serve(cacheDir: string, extra: string[] = []): Promise<ChildProcess> {
  return (await children.start(cacheDir, extra)).child;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "filespace-meta-reserve-"));
  port = await freePort();
  children = new MetaServeChildren(dir, port);
  key = randomBytes(32);
  await writeFile(join(dir, "meta.key"), key.toString("base64"));
});
afterAll(async () => {
  children?.killAll();
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
