/**
 * The gRPC layer on its own: field round trips (bytes, 64-bit, optional presence), error
 * mapping, validation, call context, retries across a server restart, getattr batching.
 * The API behind the server is a small recording double here on purpose — this file tests
 * the transport; the namespace itself is tested through it in conformance.test.ts.
 */

import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { CallContext, GetattrRequest, MetaApi } from "../../../src/meta/api.js";
import { MetaError } from "../../../src/meta/errors.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { MetaGrpcServer } from "../../../src/meta/grpc/server.js";

type Handlers = Partial<Record<keyof MetaApi, (ctx: CallContext, req: never) => Promise<unknown>>>;

function fakeApi(handlers: Handlers): MetaApi {
  return new Proxy({} as MetaApi, {
    get: (_t, method: string) => async (ctx: CallContext, req: unknown) => {
      const h = handlers[method as keyof MetaApi] as ((c: CallContext, r: unknown) => Promise<unknown>) | undefined;
      if (!h) throw new MetaError("EINVAL", `${method} not implemented by the test double`);
      return h(ctx, req);
    },
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function pair(handlers: Handlers, clientOptions: { retryBudgetMs?: number; callTimeoutMs?: number } = {}) {
  const server = await MetaGrpcServer.start({ api: fakeApi(handlers), listen: "127.0.0.1:0" });
  const client = new MetaClient({ address: server.address, ...clientOptions });
  cleanups.push(
    () => server.close(),
    () => client.close(),
  );
  return { server, client };
}

const ctx: CallContext = { token: "tok-1", sessionId: "sess-1" };
const token = Buffer.alloc(32, 7);
const sealed = Buffer.from([0, 1, 2, 255]);

describe("MetaGrpcServer + MetaClient", () => {
  it("carries bytes, large numbers, zeros and absent optionals unchanged; context in metadata", async () => {
    let seen: { ctx?: CallContext; req?: unknown } = {};
    const attr = {
      ino: 2 ** 40,
      type: "file" as const,
      mode: 0,
      uid: 0,
      gid: 4_000_000_000,
      size: 2 ** 52,
      atime: -1000,
      mtime: 1_700_000_000_123,
      ctime: 0,
      nlink: 1,
      generation: 3,
      rdev: 0,
    };
    const { client } = await pair({
      create: async (c, req) => {
        seen = { ctx: c, req };
        return { attr, created: true };
      },
      setattr: async (_c, req) => ({ attr: { ...attr, ...(req as object), nameScope: 0 } }),
    });
    const res = await client.create(ctx, {
      requestId: "r1",
      parent: 1,
      name: { token, sealed },
      mode: 0o644,
      uid: 0,
      gid: 0,
    });
    expect(res).toEqual({ attr, created: true });
    expect("handle" in res).toBe(false);
    expect(seen.ctx).toEqual(ctx);
    expect(seen.req).toEqual({ requestId: "r1", parent: 1, name: { token, sealed }, mode: 0o644, uid: 0, gid: 0 });
    const set = await client.setattr({ token: "t" }, { requestId: "r2", ino: 5, size: 0 });
    expect(set.attr.size).toBe(0);
    expect(set.attr.nameScope).toBe(0);
    expect(set.attr.mode).toBe(0);
  });

  it("re-creates the service's MetaError with its code and message", async () => {
    const { client } = await pair({
      unlink: async () => {
        throw new MetaError("ENOTEMPTY", "directory 5 is not empty");
      },
      lookup: async () => {
        throw new MetaError("NO_SNAPSHOT", "no snapshot nightly");
      },
      rename: async () => {
        throw new Error("boom");
      },
    });
    const err = await client.unlink(ctx, { requestId: "r", parent: 1, name: token }).catch((e) => e);
    expect(err).toBeInstanceOf(MetaError);
    expect(err.code).toBe("ENOTEMPTY");
    expect(err.message).toBe("ENOTEMPTY: directory 5 is not empty");
    const err2 = await client.lookup(ctx, { parent: 1, name: token, snapshot: "nightly" }).catch((e) => e);
    expect(err2.code).toBe("NO_SNAPSHOT");
    const err3 = await client
      .rename(ctx, { requestId: "r", parent: 1, name: token, newParent: 1, newName: { token, sealed } })
      .catch((e) => e);
    expect(err3.name).toBe("MetaTransportError");
    expect(err3.message).toContain("boom");
  });

  it("validates every request and names the field", async () => {
    const { client } = await pair({ lookup: async () => ({}) });
    const short = await client.lookup(ctx, { parent: 1, name: Buffer.alloc(5) }).catch((e) => e);
    expect(short).toBeInstanceOf(MetaError);
    expect(short.code).toBe("EINVAL");
    expect(short.message).toMatch(/name: expected a 32-byte lookup token/);
    const noId = await client
      .mkdir(ctx, { requestId: "", parent: 1, name: { token, sealed }, mode: 0o755, uid: 0, gid: 0 })
      .catch((e) => e);
    expect(noId.message).toMatch(/requestId/);
    const badParent = await client.getattr(ctx, { inos: [0] }).catch((e) => e);
    expect(badParent.message).toMatch(/inos\.0/);
  });

  it("batches concurrent getattr calls and hands each caller its own answers", async () => {
    const batches: number[][] = [];
    const { client } = await pair({
      getattr: async (_c, req: GetattrRequest) => {
        batches.push(req.inos);
        await new Promise((r) => setTimeout(r, 20));
        return { items: req.inos.map((ino) => (ino % 2 ? { error: "ENOENT" } : { attr: { ino } })) };
      },
    });
    const calls = Array.from({ length: 50 }, (_, i) => client.getattr(ctx, { inos: [i + 1, i + 101] }));
    const answers = await Promise.all(calls);
    answers.forEach((a, i) => {
      expect(a.items).toHaveLength(2);
      expect(a.items[0]).toEqual((i + 1) % 2 ? { error: "ENOENT" } : { attr: expect.objectContaining({ ino: i + 1 }) });
    });
    expect(batches.length).toBeLessThan(10);
    expect(batches.flat()).toHaveLength(100);
  });

  it("retries across a server restart on the same port (mutation keeps its requestId)", async () => {
    const port = await freePort();
    const seenIds: string[] = [];
    const handlers: Handlers = {
      mkdir: async (_c, req: { requestId: string }) => {
        seenIds.push(req.requestId);
        return { attr: { ino: 9 } };
      },
    };
    let server = await MetaGrpcServer.start({ api: fakeApi(handlers), listen: `127.0.0.1:${port}` });
    const client = new MetaClient({ address: `127.0.0.1:${port}`, retryBudgetMs: 10_000 });
    cleanups.push(() => client.close());
    await client.mkdir(ctx, { requestId: "first", parent: 1, name: { token, sealed }, mode: 0o755, uid: 0, gid: 0 });
    server.close();
    const pending = client.mkdir(ctx, {
      requestId: "second",
      parent: 1,
      name: { token, sealed },
      mode: 0o755,
      uid: 0,
      gid: 0,
    });
    await new Promise((r) => setTimeout(r, 400));
    server = await MetaGrpcServer.start({ api: fakeApi(handlers), listen: `127.0.0.1:${port}` });
    cleanups.push(() => server.close());
    await expect(pending).resolves.toEqual({ attr: { ino: 9 } });
    expect(seenIds).toEqual(["first", "second"]);
    expect(client.retries).toBeGreaterThan(0);
  });

  it("gives up with UNAVAILABLE once the retry budget is spent", async () => {
    const port = await freePort();
    const client = new MetaClient({ address: `127.0.0.1:${port}`, retryBudgetMs: 300 });
    cleanups.push(() => client.close());
    const err = await client.version(ctx).catch((e) => e);
    expect(err).toBeInstanceOf(MetaError);
    expect(err.code).toBe("UNAVAILABLE");
  });

  it("drains: a call in flight completes, the port is then free", async () => {
    let release!: () => void;
    const { server, client } = await pair({
      version: () => new Promise((r) => (release = () => r({ version: 7, epoch: 2 }))),
    });
    const pending = client.version(ctx);
    await new Promise((r) => setTimeout(r, 100));
    const drained = server.drain(5_000);
    release();
    await expect(pending).resolves.toEqual({ version: 7, epoch: 2 });
    await drained;
  });
});
